#!/usr/bin/env python3
"""Draws the quick-start figure from its JSON documents and prints a one-screen summary.

Usage: quickstart_report.py OUT_DIR   (OUT_DIR as written by scripts/quickstart.sh)
Reads only JSON and .npy files; writes OUT_DIR/quickstart.pdf and .png (one column wide, the
style of every fsrlab figure: reports/fsrplot/style.py) and OUT_DIR/summary.json. The full set of
figures is drawn by `fsr report` into OUT_DIR/report/.

The figure: (top) the first layer of a target whose alpha is spread over [0.5, 2] (the planted
alpha, beta of every unit against the learner-free estimates from its true codes, with +-2
standard errors); (bottom) the moment mismatch of the GDA run's level-1 patches over training,
orders 1..4, with the noise floor of each order dashed.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsrplot import documents, style, training  # noqa: E402

SCHEMA_VERSION = 1


def load(path):
    with open(path) as f:
        return json.load(f)


def atomic_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def figure(out, alpha, beta, fit, run_dir):
    """Writes OUT/quickstart.pdf and .png; returns the PNG path."""
    style.apply()
    fig, (ax, ax2) = style.figure(rows=2, sharex=False, height=4.4)
    a_hat, b_hat = (np.array(fit[k], dtype=float) for k in ("alpha", "beta"))
    se_a, se_b = (np.array(fit[k], dtype=float) for k in ("stderr_alpha", "stderr_beta"))
    ok = np.isfinite(a_hat) & np.isfinite(b_hat)
    ax.errorbar(alpha[ok], a_hat[ok], yerr=2 * se_a[ok], fmt="o", ms=2.5, lw=0.6,
                color=style.series(0), label=r"$\alpha$")
    ax.errorbar(beta[ok], b_hat[ok], yerr=2 * se_b[ok], fmt="s", ms=2.5, lw=0.6,
                color=style.series(1), label=r"$\beta$")
    hi = 1.08 * max(alpha.max(), beta.max())
    ax.plot([0, hi], [0, hi], color=style.ROLE["reference"], ls="--", lw=0.7)
    ax.set(xlim=(0, hi), ylim=(0, hi), xlabel="planted", ylabel="estimated")
    ax.set_aspect("auto")
    style.legend(ax, loc="upper left")
    metrics = os.path.join(run_dir, "metrics.jsonl")
    config = load(os.path.join(run_dir, "config.json"))
    records = documents.load_jsonl(metrics)
    floors, _ = training.noise_floor(metrics, config)
    steps = [r["step"] for r in records if r.get("moment_mismatch")]
    per = [next(e["per_order"] for e in r["moment_mismatch"] if e["level"] == 1)
           for r in records if r.get("moment_mismatch")]
    per = np.array(per, dtype=float)
    for k in range(per.shape[1]):
        ax2.plot(steps, per[:, k], color=style.series(k), label=f"order {k + 1}")
        if 1 in floors and k < len(floors[1]):
            ax2.axhline(floors[1][k], color=style.series(k), ls=(0, (3, 2)), lw=0.8)
    if 1 in floors:
        ax2.plot([], [], color="0.3", ls=(0, (3, 2)), lw=0.8, label="noise floor")
    ax2.set_yscale("log")
    ax2.set(xlabel="generator step", ylabel="moment mismatch")
    style.figure_legend(fig, ax2, ncol=3)
    png = os.path.join(out, "quickstart.png")
    style.save(fig, out, "quickstart")
    return png


def main(out):
    moments = load(os.path.join(out, "moments.json"))
    fit = load(os.path.join(out, "first_layer_fit.json"))
    match = load(os.path.join(out, "match.json"))
    suite = load(os.path.join(out, "suite", "summary.json"))
    job_dir = os.path.join(out, "suite", "jobs", suite["jobs"][0]["id"])
    job = load(os.path.join(job_dir, "result.json"))["result"]
    analysis = load(os.path.join(job_dir, "run", "analysis.json"))
    level1 = analysis["levels"][0]
    alpha = np.load(os.path.join(out, "target_alpha_spread", "alpha.npy"))
    beta = np.load(os.path.join(out, "target_alpha_spread", "beta.npy"))
    a_hat = np.array(fit["alpha"], dtype=float)
    b_hat = np.array(fit["beta"], dtype=float)
    se_a = np.array(fit["stderr_alpha"], dtype=float)
    se_b = np.array(fit["stderr_beta"], dtype=float)
    ok = np.isfinite(a_hat) & np.isfinite(b_hat)
    rel_a = np.abs(a_hat[ok] - alpha[ok]) / alpha[ok]
    z_a = np.abs(a_hat[ok] - alpha[ok]) / se_a[ok]
    z_b = np.abs(b_hat[ok] - beta[ok]) / se_b[ok]
    png = figure(out, alpha, beta, fit, os.path.join(job_dir, "run"))

    summary = {
        "schema_version": SCHEMA_VERSION,
        "kind": "quickstart-summary",
        "first_layer": {
            "units": int(len(alpha)),
            "fitted": int(ok.sum()),
            "alpha_max_relative_error": float(rel_a.max()),
            "alpha_max_z": float(z_a.max()),
            "beta_max_z": float(z_b.max()),
            "rho_psd_repair": fit["psd_repair"],
        },
        "match": {k: match[k] for k in ("mean_cosine", "min_cosine", "fraction_above",
                                        "unmatched")},
        "learner": {
            "status": job["status"],
            "meets_bar": job["train"].get("recovery", {}).get("meets_bar"),
            "seconds": job["train"]["seconds"],
            "steps": job["train"]["steps"],
            "levels_trained": analysis["levels_scored"],
            "columns": {k: level1["columns"][k] for k in ("mean_cosine", "min_cosine")},
            "first_layer": {k: level1["first_layer"][k]
                            for k in ("alpha_max_relative", "beta_max_relative",
                                      "rho_max_abs_error")},
        },
        "figure": png,
    }
    atomic_json(os.path.join(out, "summary.json"), summary)

    n = fit["n_samples"]
    learner = summary["learner"]
    print()
    print("fsrlab quick-start summary (%s)" % out)
    arch = load(os.path.join(job_dir, "target", "target.json"))["architecture"]
    print("  target         %d levels, grid %d, channels %s, patch %d, %d colours (d = %d)"
          % (arch["levels"], arch["grid"], arch["channels"], arch["patch"], arch["colors"],
             arch["patch"] ** 2 * arch["colors"]))
    print("  GDA learner    level 1 of %d trained (%s, %d steps, %.0f s); bar of docs/learner.md %s"
          % (arch["levels"], learner["status"], learner["steps"], learner["seconds"],
             "met" if learner["meets_bar"] else "NOT met"))
    print("                 M_1 matched |cos| mean %.4f, worst %.4f"
          % (learner["columns"]["mean_cosine"], learner["columns"]["min_cosine"]))
    print("                 alpha max rel. error %.3f, beta %.3f, rho max abs. error %.3f"
          % tuple(learner["first_layer"][k] for k in ("alpha_max_relative", "beta_max_relative",
                                                       "rho_max_abs_error")))
    print("                 (level 2 is left out of the quick-start to keep it short: see")
    print("                 experiments/learners/level2.json; the level-1 start is close to")
    print("                 this target's: read docs/learner.md first)")
    print("  ReLU moments   alpha=%g beta=%g: P(active)=%.5f  E[s]=%.5f  E[s^2]=%.5f"
          % (moments["alpha"], moments["beta"], moments["p_active"], moments["moments"][0],
             moments["moments"][1]))
    print("  baseline       %d of %d units fitted from %d samples of the true codes of the"
          % (ok.sum(), len(alpha), n))
    print("                 same target with alpha spread over [0.5, 2]")
    print("                 alpha: worst relative error %.3f, worst |error|/s.e. %.2f"
          % (rel_a.max(), z_a.max()))
    print("                 beta : worst |error|/s.e. %.2f" % z_b.max())
    print("                 rho  : PSD repair %s"
          % ("applied" if fit["psd_repair"]["repaired"] else "not needed"))
    print("  fsr match      mean |cos| %.4f, worst %.4f, %.0f%% above %.2f, %d unmatched"
          % (match["mean_cosine"], match["min_cosine"], 100 * match["fraction_above"],
             match["threshold"], len(match["unmatched"])))
    print("  figures        %s, and %s" % (png, os.path.join(out, "report", "report.md")))
    print("  summary        %s" % os.path.join(out, "summary.json"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
