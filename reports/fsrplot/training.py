"""Figures of training runs from metrics.jsonl (gda/trainer.cpp): moment-mismatch trajectories,
orders 1..4, per level; D/G feature alignment (V_l and M_hat_l against M_l) over training.
Key names are in keys.py; a record without a key is skipped, not an error."""
import json
import math
import os

import numpy as np

from . import keys, style


def describe(path, result, config):
    run = os.path.basename(os.path.dirname(os.path.abspath(path)))
    parts = [f"run '{run}'"]
    if isinstance(config, dict):
        sch = config.get("schedule") or {}
        sg = config.get("sgda") or {}
        loss = config.get("loss") or {}
        disc = config.get("discriminator") or {}
        bits = []
        if sch.get("kind"):
            bits.append(f"schedule {sch['kind']}")
        if loss.get("kind"):
            bits.append(f"loss {loss['kind']}")
        if disc.get("kind"):
            bits.append(f"D {disc['kind']}")
        if sg:
            bits.append(f"{sg.get('optimizer', '')} lr {sg.get('lr_g', '?')}/{sg.get('lr_d', '?')}, "
                        f"batch {sg.get('batch', '?')}, {sg.get('d_steps', '?')} D steps")
        if "seed" in config:
            bits.append(f"seed {config['seed']}")
        parts.append(", ".join(bits))
    if isinstance(result, dict) and result.get("status"):
        parts.append(f"status {result['status']} after {result.get('steps', '?')} steps")
    return "; ".join(p for p in parts if p)


def _per_level(records, key, value):
    """{level: (steps, values)} from records[i][key] = [{level, ...}], value(entry) -> float/list."""
    out = {}
    for rec in records:
        step = rec.get(keys.M_STEP)
        entries = rec.get(key)
        if step is None or not isinstance(entries, list):
            continue
        for e in entries:
            if not isinstance(e, dict) or keys.M_LEVEL not in e:
                continue
            v = value(e)
            if v is None:
                continue
            out.setdefault(e[keys.M_LEVEL], ([], []))
            out[e[keys.M_LEVEL]][0].append(step)
            out[e[keys.M_LEVEL]][1].append(v)
    return out


def _stage_marks(ax, records):
    prev = None
    for rec in records:
        st = rec.get(keys.M_STAGE)
        if prev is not None and st != prev:
            ax.axvline(rec.get(keys.M_STEP, 0), color=style.ROLE["reference"], lw=0.7, ls=":")
        prev = st


def noise_floor(path, config):
    """Per level, the sampling-noise floor of the moment mismatch at the trainer's evaluation
    size, from the analysis written beside the run (RUN/analysis.json: two independent target
    batches of `options.samples` each). The trainer compares `log.eval_samples` real and as many
    generated samples, so the floor is rescaled by sqrt(samples / eval_samples), the 1/sqrt(N) law
    of a mean of N independent terms. Returns ({level: [floor per order]}, note) or ({}, None)."""
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(path)), "analysis.json")) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}, None
    if not isinstance(doc, dict):
        return {}, None
    n_a = (doc.get("options") or {}).get("samples")
    n_e = ((config or {}).get("log") or {}).get("eval_samples") if isinstance(config, dict) else None
    scale = math.sqrt(n_a / n_e) if n_a and n_e else 1.0
    floors = {}
    for lv in doc.get("levels") or []:
        fl = (lv.get("distribution") or {}).get("moment_mismatch_floor")
        if isinstance(fl, list) and fl:
            floors[lv.get("level")] = [x * scale if isinstance(x, (int, float)) else np.nan
                                       for x in fl]
    if not floors:
        return {}, None
    note = (f"noise floor: two independent target batches of {n_a} samples (analysis.json beside "
            f"the run)" + (f", rescaled to the trainer's {n_e} evaluation samples by "
                           f"sqrt({n_a}/{n_e}) = {scale:.3f}" if scale != 1.0 else "")
            + "; it is one draw, as is the trainer's fixed evaluation batch, and either may sit "
              "tens of percent from its expectation")
    return floors, note


def moments_figure(path, records, result, config, outdir, name):
    """Moment mismatch of patches, orders 1..4, over training, one row per level, with the
    sampling-noise floor of each order (dashed, same colour) when the run has an analysis."""
    series = _per_level(records, keys.M_MOMENTS, lambda e: e.get(keys.M_MOMENTS_PER_ORDER))
    if not series:
        return None
    floors, _ = noise_floor(path, config)
    levels = sorted(series)
    fig, axes = style.figure(rows=len(levels))
    for ax, l in zip(axes, levels):
        steps, vals = series[l]
        n = max(len(v) for v in vals)
        arr = np.full((len(vals), n), np.nan)
        for i, v in enumerate(vals):
            arr[i, :len(v)] = [x if x is not None else np.nan for x in v]
        fl = floors.get(l) or []
        for k in range(n):
            col = style.series(k)
            ax.plot(steps, arr[:, k], color=col, marker=style.MARKERS[k % len(style.MARKERS)],
                    markevery=max(1, len(steps) // 8), ms=2.5, label=f"order {k + 1}")
            if k < len(fl) and np.isfinite(fl[k]):
                ax.axhline(fl[k], color=col, ls=(0, (3, 2)), lw=0.8)
        _stage_marks(ax, records)
        ax.set_yscale("log")
        ax.set_ylabel("moment mismatch")
        if len(levels) > 1:
            style.tag(ax, f"level {l}")
    if floors:
        axes[0].plot([], [], color="0.3", ls=(0, (3, 2)), lw=0.8, label="noise floor")
    style.figure_legend(fig, axes[0], ncol=3)
    axes[-1].set_xlabel("generator step")
    return style.save(fig, outdir, name)


def alignment_figure(path, records, result, config, outdir, name):
    """Matched |cos| with the target's columns over training, one row per level: the generator's
    output layer M_hat (G), the discriminator's decoder V (D), and V against M_hat when logged;
    mean solid, worst dashed."""
    rec = _per_level(records, keys.M_RECOVERY, lambda e: (e.get(keys.M_MEAN_COS), e.get(keys.M_MIN_COS)))
    vco = _per_level(records, keys.M_V_COSINE, lambda e: (e.get(keys.M_MEAN_COS), e.get(keys.M_MIN_COS)))
    vhat = _per_level(records, keys.M_V_HAT_COSINE, lambda e: (e.get(keys.M_MEAN_COS), e.get(keys.M_MIN_COS)))
    if not (rec or vco):
        return None
    levels = sorted(set(rec) | set(vco))
    fig, axes = style.figure(rows=len(levels))
    for ax, l in zip(axes, levels):
        for series, lab, col in ((rec, r"G: $\hat{M}$ vs $M$", style.ROLE["learned"]),
                                 (vco, r"D: $V$ vs $M$", style.ROLE["decoder"]),
                                 (vhat, r"$V$ vs $\hat{M}$", style.ROLE["target"])):
            if l not in series:
                continue
            steps, v = series[l]
            mean = [a[0] if a[0] is not None else np.nan for a in v]
            worst = [a[1] if a[1] is not None else np.nan for a in v]
            ax.plot(steps, mean, color=col, label=lab)
            ax.plot(steps, worst, color=col, ls="--", lw=0.8)
        _stage_marks(ax, records)
        ax.axhline(0.99, color=style.ROLE["reference"], lw=0.6, ls=":")
        ax.set_ylim(top=1.02)
        ax.set_ylabel("matched |cos|")
        if len(levels) > 1:
            style.tag(ax, f"level {l}")
    style.figure_legend(fig, axes[0], ncol=3)
    axes[-1].set_xlabel("generator step")
    return style.save(fig, outdir, name)
