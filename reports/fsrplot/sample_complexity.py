"""Figures of sample-complexity documents (experiments/sample_complexity.h, theory/bounds.h):
log-log N* against d and against 1/eps with the fitted polynomial model, its intervals and the
reference bounds of SPEC §3; error against N with the fitted slope.

The document layout is read tolerantly: N* rows are any list of objects with d, eps and n_star;
a fit is any object with "polynomial" (d_coefficient, eps_exponent, log_constant, *_interval);
an error curve is any object with a list of trials {n|N, error} — each tagged with the nearest
enclosing job name. Key names are in keys.py."""
import math
from collections import OrderedDict

import numpy as np

from . import keys, style
from .fits import loglog_slope


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _interval(v):
    if isinstance(v, dict):
        lo, hi = v.get("lo"), v.get("hi")
    elif isinstance(v, (list, tuple)) and len(v) == 2:
        lo, hi = v
    else:
        return None
    return (lo, hi) if _num(lo) and _num(hi) else None


def _job_of(obj, inherited):
    if isinstance(obj, dict):
        for k in ("job", "learner"):
            if isinstance(obj.get(k), str):
                return obj[k]
        if isinstance(obj.get("name"), str) and "kind" in obj:
            return obj["name"]
    return inherited


def collect(doc):
    """-> dict(nstar=[row], fits={job: fit}, curves=[(job, point, trials, fit)], references=[...])"""
    out = {"nstar": [], "fits": OrderedDict(), "curves": [], "references": OrderedDict()}

    def walk(obj, job, key):
        if isinstance(obj, dict):
            job = _job_of(obj, job)
            if "polynomial" in obj and isinstance(obj["polynomial"], dict) \
                    and "d_coefficient" in obj["polynomial"]:
                out["fits"].setdefault(job or "?", obj)
            tri = obj.get("trials")
            if key in keys.SC_ERROR_VS_N or (isinstance(tri, list) and tri and isinstance(tri[0], dict)
                                              and any(k in obj for k in ("slope", "fit", "slope_interval"))):
                if isinstance(tri, list):
                    out["curves"].append((job or "?", obj, tri))
            if "constant" in obj and "eps_exponent" in obj and "d_exponent" in obj and "name" in obj:
                out["references"].setdefault(obj["name"], obj)
            for k, v in obj.items():
                walk(v, job, k)
        elif isinstance(obj, list):
            if obj and all(isinstance(r, dict) and "n_star" in r and "eps" in r for r in obj):
                for r in obj:
                    row = dict(r)
                    row.setdefault("job", job or "?")
                    out["nstar"].append(row)
                return
            for v in obj:
                walk(v, job, key)

    walk(doc, None, None)
    return out


def describe(doc):
    parts = [f"suite '{doc.get('suite', doc.get('name', '?'))}' (size {doc.get('size', '?')})"]
    if doc.get("error_path"):
        parts.append(f"error = {doc['error_path']}")
    if doc.get("dimension"):
        parts.append(f"d = {doc['dimension']}")
    sr = doc.get("search") or {}
    if sr.get("success_fraction") is not None:
        parts.append(f"success: error <= eps in {sr['success_fraction']:.0%} of seeds")
    return "; ".join(parts)


def _verdict_text(fit):
    p = fit.get("polynomial") or {}
    a, b = p.get("d_coefficient"), p.get("eps_exponent")
    ai, bi = _interval(p.get("d_coefficient_interval")), _interval(p.get("eps_exponent_interval"))
    lines = []
    if _num(a):
        lines.append(f"N* ~ d^{a:.2f}" + (f" [{ai[0]:.2f}, {ai[1]:.2f}]" if ai else ""))
    if _num(b):
        lines.append(f"      (1/\u03b5)^{b:.2f}" + (f" [{bi[0]:.2f}, {bi[1]:.2f}]" if bi else ""))
    pref = fit.get("preferred")
    if pref:
        s = f"preferred: {pref}"
        if _num(fit.get("delta_aic")):
            s += f", \u0394AIC = {fit['delta_aic']:.1f}"
        if fit.get("evidence"):
            s += f" ({fit['evidence']})"
        lines.append(s)
    return "\n".join(lines)


def _ref_curve(ref, d, eps):
    return ref.get("constant", 1.0) * np.power(d, ref.get("d_exponent", 0.0)) * \
        np.power(eps, -ref.get("eps_exponent", 2.0))


def nstar_figure(doc, outdir, name):
    data = collect(doc)
    rows = [r for r in data["nstar"] if _num(r.get("d")) and _num(r.get("eps"))]
    if not rows:
        return None
    jobs = list(OrderedDict((r["job"], 1) for r in rows))
    fig, axes = style.panels(2 * len(jobs), ncols=2, w=4.6, h=3.6)
    for ji, job in enumerate(jobs):
        jr = [r for r in rows if r["job"] == job]
        fit = data["fits"].get(job) or (next(iter(data["fits"].values())) if len(data["fits"]) == 1 else None)
        poly = (fit or {}).get("polynomial") or {}
        a, b, c = poly.get("d_coefficient"), poly.get("eps_exponent"), poly.get("log_constant")
        ai = _interval(poly.get("d_coefficient_interval"))
        bi = _interval(poly.get("eps_exponent_interval"))
        for pi, (xkey, series_key) in enumerate((("d", "eps"), ("inv_eps", "d"))):
            ax = axes[2 * ji + pi]
            svals = sorted({r[series_key] for r in jr}, reverse=(series_key == "eps"))
            for si, sv in enumerate(svals):
                col = style.COLORS[si % len(style.COLORS)]
                sr = sorted((r for r in jr if r[series_key] == sv),
                            key=lambda r: r["d"] if xkey == "d" else 1 / r["eps"])
                x = lambda r: r["d"] if xkey == "d" else 1.0 / r["eps"]
                reached = [r for r in sr if r.get("status", "reached") == "reached" and _num(r.get("n_star")) and r["n_star"] > 0]
                lab = f"\u03b5 = {sv:g}" if series_key == "eps" else f"d = {sv:g}"
                ax.plot([x(r) for r in reached], [r["n_star"] for r in reached], ls="none",
                        marker=style.MARKERS[si % len(style.MARKERS)], color=col, label=lab)
                # Censored rows: N* <= n_min (at_minimum) or > n_max (not_reached).
                for r in sr:
                    st = r.get("status")
                    nb = r.get("n_below") or r.get("n_max") or r.get("n_min")
                    if st == "at_minimum" and _num(r.get("n_star")) and r["n_star"] > 0:
                        ax.plot(x(r), r["n_star"], marker="v", mfc="none", color=col, ls="none")
                    elif st == "not_reached" and _num(nb) and nb > 0:
                        ax.plot(x(r), nb, marker="^", mfc="none", color=col, ls="none")
                # The fitted polynomial model on this slice, with the exponent interval as a band.
                if _num(a) and _num(b) and _num(c) and reached:
                    xs = np.array([x(r) for r in sr], float)
                    xx = np.geomspace(xs.min(), xs.max(), 30)
                    if xkey == "d":
                        d_, e_, ex, exi = xx, sv, a, ai
                    else:
                        d_, e_, ex, exi = sv, 1.0 / xx, b, bi
                    yy = np.exp(c) * np.power(d_, a) * np.power(e_, -b)
                    ax.plot(xx, yy, color=col, lw=1.1)
                    if exi:
                        x0 = math.exp(np.mean(np.log(xx)))
                        y0 = np.exp(c) * (x0 ** a if xkey == "d" else sv ** a) * \
                            ((sv ** -b) if xkey == "d" else x0 ** b)
                        ax.fill_between(xx, y0 * (xx / x0) ** exi[0], y0 * (xx / x0) ** exi[1],
                                        color=col, alpha=0.12, lw=0)
            # Reference bounds (SPEC §3): their shape, anchored at the first reached N* of the
            # first series (their constants are not known).
            anchor = next((r for r in sorted(jr, key=lambda r: (r["d"], -r["eps"]))
                           if r.get("status", "reached") == "reached" and _num(r.get("n_star"))), None)
            if anchor is not None:
                xs = np.array([r["d"] if xkey == "d" else 1 / r["eps"] for r in jr], float)
                xx = np.geomspace(xs.min(), xs.max(), 30)
                for ri, ref in enumerate(data["references"].values()):
                    ex = ref.get("d_exponent", 0.0) if xkey == "d" else ref.get("eps_exponent", 2.0)
                    x0 = anchor["d"] if xkey == "d" else 1 / anchor["eps"]
                    ax.plot(xx, anchor["n_star"] * (xx / x0) ** ex, color=style.ROLE["reference"],
                            ls=[":", "-."][ri % 2], lw=1.1,
                            label=f"reference {ref['name']}: "
                                  + (f"d^{ex:g}" if xkey == "d" else f"(1/\u03b5)^{ex:g}") + " (shape)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("dimension d (patch dimension r\u00b2c)" if xkey == "d" else "1/\u03b5 (inverse target error)")
            ax.set_ylabel("N* (training samples)")
            ax.set_title(f"{job}: N* against " + ("d" if xkey == "d" else "1/\u03b5")
                         + (f" (fit exponent {a:.2f})" if xkey == "d" and _num(a) else
                            f" (fit exponent {b:.2f})" if xkey != "d" and _num(b) else ""))
            ax.legend(loc="best", fontsize=7)
            style.ticks_at(ax, [r["d"] if xkey == "d" else 1 / r["eps"] for r in jr], "x")
            if fit and pi == 0:
                ax.text(0.98, 0.03, _verdict_text(fit), transform=ax.transAxes, ha="right", va="bottom", zorder=5,
                        fontsize=7, family="monospace",
                        bbox=dict(boxstyle="round", fc="white", ec="0.8"))
    style.title(fig, "Sample complexity N*(d, \u03b5): markers measured (open \u25bd: N* \u2264 n_min, "
                "open \u25b3: > n_max), lines the fitted polynomial model, bands its 95% exponent interval",
                describe(doc))
    return style.save(fig, outdir, name)


def _trial_xy(trials):
    xs, ys = [], []
    for t in trials:
        if not isinstance(t, dict):
            continue
        n = t.get("n", t.get("N", t.get("samples")))
        e = t.get("error")
        if _num(n) and _num(e) and e > 0:
            xs.append(float(n))
            ys.append(float(e))
    return np.array(xs), np.array(ys)


def error_vs_n_figure(doc, outdir, name):
    curves = collect(doc)["curves"]
    curves = [(j, o, t) for j, o, t in curves if len(_trial_xy(t)[0])]
    if not curves:
        return None
    jobs = list(OrderedDict((j, 1) for j, _, _ in curves))
    fig, axes = style.panels(len(jobs), ncols=min(3, len(jobs)), w=4.4, h=3.4)
    for ax, job in zip(axes, jobs):
        anchor = None
        for ci, (j, obj, trials) in enumerate(c for c in curves if c[0] == job):
            col = style.COLORS[ci % len(style.COLORS)]
            x, y = _trial_xy(trials)
            ns = np.unique(x)
            med = np.array([np.median(y[x == n]) for n in ns])
            lab = obj.get("point") or (f"d = {obj['d']:g}" if _num(obj.get("d")) else f"curve {ci + 1}")
            if not isinstance(lab, str):
                lab = str(lab)
            if _num(obj.get("d")) and not lab.startswith("d"):
                lab += f" (d = {obj['d']:g})"
            ax.scatter(x, y, s=8, color=col, alpha=0.35, lw=0)
            ax.plot(ns, med, color=col, marker=style.MARKERS[ci % len(style.MARKERS)], lw=1.0)
            fit = obj.get("fit") if isinstance(obj.get("fit"), dict) else obj
            slope, icpt = fit.get("slope"), fit.get("intercept")
            si = _interval(fit.get("slope_interval"))
            if not (_num(slope) and _num(icpt)):
                f2 = loglog_slope(x, y)
                if f2:
                    slope, icpt, si = f2["slope"], f2["intercept"], (f2["lo"], f2["hi"])
            if _num(slope) and _num(icpt):
                xx = np.geomspace(ns.min(), ns.max(), 20)
                ax.plot(xx, np.exp(icpt) * xx ** slope, color=col, ls="--", lw=1.2,
                        label=f"{lab}: slope {slope:.2f}" + (f" [{si[0]:.2f}, {si[1]:.2f}]" if si else ""))
            else:
                ax.plot([], [], color=col, label=lab)
            if anchor is None:
                anchor = (ns[0], med[0], ns[-1])
        if anchor:
            xx = np.geomspace(anchor[0], anchor[2], 20)
            ax.plot(xx, anchor[1] * (xx / anchor[0]) ** -0.5, color=style.ROLE["reference"], ls=":",
                    label="reference N^(-1/2)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training samples N")
        ax.set_ylabel(f"recovery error ({doc.get('error_path', 'error')})")
        ax.set_title(f"{job}: error against N")
        ax.legend(loc="lower left", fontsize=7)
    style.title(fig, "Error against the number of samples (dots: trials; line: median over seeds; "
                "dashed: fitted slope with interval)", describe(doc))
    return style.save(fig, outdir, name)
