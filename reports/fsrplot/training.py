"""Figures of training runs from metrics.jsonl (gda/trainer.cpp): moment-mismatch trajectories,
orders 1..4, per level; D/G feature alignment (V_l and M_hat_l against M_l) over training.
Key names are in keys.py; a record without a key is skipped, not an error."""
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


def moments_figure(path, records, result, config, outdir, name):
    series = _per_level(records, keys.M_MOMENTS, lambda e: e.get(keys.M_MOMENTS_PER_ORDER))
    if not series:
        return None
    levels = sorted(series)
    fig, axes = style.panels(len(levels), ncols=min(len(levels), 4), sharey=False)
    for ax, l in zip(axes, levels):
        steps, vals = series[l]
        n = max(len(v) for v in vals)
        arr = np.full((len(vals), n), np.nan)
        for i, v in enumerate(vals):
            arr[i, :len(v)] = [x if x is not None else np.nan for x in v]
        for k in range(n):
            ax.plot(steps, arr[:, k], marker=style.MARKERS[k % len(style.MARKERS)],
                    markevery=max(1, len(steps) // 12), label=f"order {k + 1}")
        _stage_marks(ax, records)
        ax.set_yscale("log")
        ax.set_xlabel("generator step")
        ax.set_ylabel("moment mismatch of patches (relative)")
        ax.set_title(f"level {l}")
        ax.legend()
    style.title(fig, "Moment mismatch between generated and real patches over training",
                describe(path, result, config))
    return style.save(fig, outdir, name)


def alignment_figure(path, records, result, config, outdir, name):
    rec = _per_level(records, keys.M_RECOVERY, lambda e: (e.get(keys.M_MEAN_COS), e.get(keys.M_MIN_COS)))
    vco = _per_level(records, keys.M_V_COSINE, lambda e: (e.get(keys.M_MEAN_COS), e.get(keys.M_MIN_COS)))
    vhat = _per_level(records, keys.M_V_HAT_COSINE, lambda e: (e.get(keys.M_MEAN_COS), e.get(keys.M_MIN_COS)))
    if not (rec or vco):
        return None
    levels = sorted(set(rec) | set(vco))
    fig, axes = style.panels(len(levels), ncols=min(len(levels), 4))
    for ax, l in zip(axes, levels):
        for series, lab, col in ((rec, r"G: $\hat{M}_\ell$ vs $M_\ell$", style.ROLE["learned"]),
                                 (vco, r"D: $V_\ell$ vs $M_\ell$", style.ROLE["decoder"]),
                                 (vhat, r"D vs G: $V_\ell$ vs $\hat{M}_\ell$", style.ROLE["target"])):
            if l not in series:
                continue
            steps, v = series[l]
            mean = [a[0] if a[0] is not None else np.nan for a in v]
            worst = [a[1] if a[1] is not None else np.nan for a in v]
            ax.plot(steps, mean, color=col, label=f"{lab}, mean")
            ax.plot(steps, worst, color=col, ls="--", label=f"{lab}, worst")
        _stage_marks(ax, records)
        ax.axhline(0.99, color=style.ROLE["reference"], lw=0.8, ls=":", label="bar 0.99")
        ax.set_ylim(top=1.01)
        ax.set_xlabel("generator step")
        ax.set_ylabel("matched |cos| with the target's columns")
        ax.set_title(f"level {l}")
        ax.legend(loc="lower right")
    style.title(fig, "Feature alignment over training: generator output layer and discriminator "
                "first layer", describe(path, result, config))
    return style.save(fig, outdir, name)
