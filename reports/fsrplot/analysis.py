"""Figures and table rows of `fsr analyze` documents (experiments/analysis.h, docs/analysis.md):
per-patch sparsity histograms, feature grids (M_l, M_hat_l, V_l as r x r colour tiles), the
distribution metrics per level, and the recovery table."""
import json
import math
import os

import numpy as np

from . import style
from .documents import get_path, resolve

MAX_TILES = 64  # channels drawn per feature grid; more are listed as left out


def _target_architecture(doc, doc_path):
    tdir = resolve(doc.get("target_dir"), doc_path)
    if tdir and os.path.isfile(os.path.join(tdir, "target.json")):
        try:
            with open(os.path.join(tdir, "target.json")) as f:
                return json.load(f).get("architecture") or {}
        except (OSError, ValueError):
            pass
    return {}


def describe(doc, doc_path):
    """One line: which run against which target, and the target's sizes."""
    arch = _target_architecture(doc, doc_path)
    run = os.path.basename(os.path.normpath(doc.get("run_dir") or "?"))
    target = os.path.basename(os.path.normpath(doc.get("target_dir") or "?"))
    parts = [f"run '{run}' vs target '{target}'"]
    if arch:
        parts.append(f"L={arch.get('levels')}, h1={arch.get('grid')}, m={arch.get('channels')}, "
                     f"r={arch.get('patch')}, c={arch.get('colors')}, kernel {arch.get('kernel')}")
    n = get_path(doc, "options.samples")
    if n:
        parts.append(f"N={n} samples")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
def sparsity_figure(doc, doc_path, outdir, name):
    levels = doc.get("levels") or []
    levels = [lv for lv in levels if get_path(lv, "activity.target.active_count_histogram")]
    if not levels:
        return None
    fig, axes = style.panels(len(levels), ncols=min(len(levels), 4), h=3.0)
    for ax, lv in zip(axes, levels):
        act = lv["activity"]
        ht = np.asarray(act["target"]["active_count_histogram"], float)
        hl = np.asarray(get_path(act, "learned.active_count_histogram") or [], float)
        n = max(len(ht), len(hl))
        # Show up to the last count that either histogram reaches (plus one), not all m_l.
        nz = [j for j in range(n) if (j < len(ht) and ht[j] > 0) or (j < len(hl) and hl[j] > 0)]
        jmax = min(n, (max(nz) + 2) if nz else n)
        j = np.arange(jmax)
        w = 0.4
        ax.bar(j - w / 2, ht[:jmax], w, color=style.ROLE["target"],
               label=f"target G* (mean {act['target'].get('mean_active_per_patch', float('nan')):.2f})")
        if len(hl):
            ax.bar(j + w / 2, hl[:jmax], w, color=style.ROLE["learned"],
                   label=f"learned (mean {act['learned'].get('mean_active_per_patch', float('nan')):.2f})")
        k = act.get("k")
        if k is not None:
            ax.axvline(k + 0.5, color=style.ROLE["reference"], ls="--", lw=1,
                       label=f"k = {k} (P(count <= k): {act['target'].get('fraction_patches_at_most_k', float('nan')):.2f} / "
                             f"{get_path(act, 'learned.fraction_patches_at_most_k', float('nan')):.2f})")
        ax.set_yscale("log")
        # Headroom above the bars (log axis) for the legend.
        ax.set_ylim(max(1e-4, 0.5 / max(1, get_path(lv, "distribution.patches", 1e4))), 30)
        ax.set_xticks(j)
        ax.set_xlabel("active channels in a patch (count)")
        ax.set_ylabel("fraction of patches")
        ax.set_title(f"level {lv['level']}: m = {act['target'].get('channels', lv.get('channels'))} channels")
        ax.legend(loc="upper right")
    style.title(fig, "Per-patch sparsity of the hidden layer S_l: target vs learned",
                describe(doc, doc_path))
    return style.save(fig, outdir, name)


# ---------------------------------------------------------------------------------------------
def _patch_shape(d, arch):
    r, c = arch.get("patch"), arch.get("colors")
    if r and c and r * r * c == d:
        return int(r), int(c)
    for c in (3, 1, 4, 2):
        r = int(round(math.sqrt(d / c)))
        if r * r * c == d:
            return r, c
    return None, None


def _as_columns(a, d):
    """An array of features as d x m (columns = features), as M_l and V_l are stored."""
    a = np.asarray(a, float)
    if a.ndim != 2:
        return None
    if a.shape[0] == d:
        return a
    return None


def _tile(col, r, c):
    """Column of d = c r^2 (colour-major: q = colour r^2 + dy r + dx) -> r x r x c image,
    scaled so that the largest |entry| maps to 0 or 1 around a grey 0.5."""
    x = np.asarray(col, float).reshape(c, r, r).transpose(1, 2, 0)
    s = np.max(np.abs(x))
    x = 0.5 + 0.5 * x / s if s > 0 else np.full_like(x, 0.5)
    if c == 3:
        return x
    if c == 1:
        return x[:, :, 0]
    # Other colour counts: colour channels side by side, grey scale.
    return np.concatenate([x[:, :, k] for k in range(c)], axis=1)


def _load_npy(path):
    try:
        return np.load(path) if path and os.path.isfile(path) else None
    except (OSError, ValueError):
        return None


def _match_order(match, n_truth):
    """Estimate index of each true column, or None, from a DictionaryMatch JSON."""
    if not match:
        return [None] * n_truth
    perm = match.get("permutation") or []
    cos = match.get("cosines") or []
    signed = match.get("signed_cosines") or cos
    out = [None] * n_truth
    if match.get("reversed"):
        # permutation[j] = truth column of estimate j
        for j, i in enumerate(perm):
            if 0 <= i < n_truth:
                out[i] = (j, cos[j] if j < len(cos) else None, signed[j] if j < len(signed) else 1.0)
    else:
        for i, j in enumerate(perm[:n_truth]):
            if j is not None and j >= 0:
                out[i] = (j, cos[i] if i < len(cos) else None, signed[i] if i < len(signed) else 1.0)
    return out


def feature_grid_figure(doc, doc_path, level, outdir, name):
    """M_l, M_hat_l (matched) and V_l (matched to M_l) as r x r colour tiles, one column per true
    channel, with the matched |cos| under each estimate. Needs the .npy arrays; returns None (and
    why) when they are not there."""
    arch = _target_architecture(doc, doc_path)
    l = level["level"]
    tdir = resolve(doc.get("target_dir"), doc_path)
    mdir = resolve(doc.get("model_dir"), doc_path) or resolve(doc.get("run_dir"), doc_path)
    M = _load_npy(os.path.join(tdir, f"M_{l}.npy")) if tdir else None
    if M is None:
        return None, f"level {l}: M_{l}.npy not found (target_dir = {doc.get('target_dir')})"
    d, m = M.shape
    r, c = _patch_shape(d, arch)
    if r is None:
        return None, f"level {l}: patch dimension d = {d} is not c r^2 for a known c"
    Mh = _load_npy(os.path.join(mdir, f"M_{l}.npy")) if mdir else None
    Mh = _as_columns(Mh, d) if Mh is not None else None
    vfile = get_path(level, "decoder.file")
    V = None
    if vfile:
        V = _load_npy(resolve(vfile, doc_path))
        V = _as_columns(V, d) if V is not None else None
    rows = [(r"$M_{%d}$ (target)" % l, M, None)]
    if Mh is not None:
        rows.append((r"$\hat{M}_{%d}$ (learned)" % l, Mh, _match_order(level.get("columns"), m)))
    if V is not None:
        rows.append((r"$V_{%d}$ (discriminator)" % l, V, _match_order(get_path(level, "decoder.vs_target"), m)))
    shown = min(m, MAX_TILES)
    per_row = min(shown, 16)
    blocks = (shown + per_row - 1) // per_row
    nrows = blocks * len(rows)
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(nrows, per_row, figsize=(max(style.MIN_WIDTH, 0.75 * per_row + 1.6), 0.95 * nrows + 1.3),
                             squeeze=False)
    for b in range(blocks):
        for ri, (label, arr, order) in enumerate(rows):
            for k in range(per_row):
                ax = axes[b * len(rows) + ri][k]
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                for s in ax.spines.values():
                    s.set_visible(True)
                    s.set_linewidth(0.4)
                i = b * per_row + k
                if i >= shown:
                    ax.set_visible(False)
                    continue
                if order is None:
                    col, txt = arr[:, i], f"#{i}"
                elif order[i] is None:
                    ax.text(0.5, 0.5, "none", ha="center", va="center", fontsize=7,
                            transform=ax.transAxes)
                    continue
                else:
                    j, cos, sgn = order[i]
                    col = arr[:, j] * (1.0 if (sgn is None or sgn >= 0) else -1.0)
                    txt = f"{cos:.3f}" if cos is not None else f"#{j}"
                img = _tile(col, r, c)
                ax.imshow(img, interpolation="nearest", cmap="RdBu_r" if img.ndim == 2 else None,
                          vmin=0, vmax=1)
                bad = order is not None and cos is not None and cos < level.get("columns", {}).get("threshold", 0.99)
                ax.set_xlabel(txt, fontsize=6.5, labelpad=1.5, color="#B00000" if bad else "black")
                if k == 0:
                    ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center", labelpad=4)
    cols = level.get("columns") or {}
    sub = (f"level {l}: d = {d} = {c} colours x {r}x{r} pixels, {m} true channels"
           + (f" (first {shown} shown)" if shown < m else "")
           + r"; $\hat{M}$ vs $M$" + f" matched |cos| mean {cols.get('mean_cosine', float('nan')):.3f}, "
             f"worst {cols.get('min_cosine', float('nan')):.3f}")
    dv = get_path(level, "decoder.vs_target")
    if dv:
        sub += f"; V vs M mean {dv.get('mean_cosine', float('nan')):.3f}"
    head = ("Output features in matched order (each tile one feature, normalised, grey = 0; "
            "number: matched |cos| with the target column, red below the bar)")
    fig.suptitle(style.wrap(head, fig, 9) + "\n" + style.wrap(describe(doc, doc_path), fig, 9)
                 + "\n" + style.wrap(sub, fig, 9), fontsize=8.5)
    fig.subplots_adjust(left=0.14, right=0.99, bottom=0.04, top=1 - 1.05 / (0.95 * nrows + 1.3),
                        wspace=0.15, hspace=0.55)
    written = []
    for ext in ("pdf", "png"):
        path = os.path.join(outdir, f"{name}.{ext}")
        fig.savefig(path + ".tmp." + ext, format=ext)
        os.replace(path + ".tmp." + ext, path)
        written.append(f"{name}.{ext}")
    plt.close(fig)
    return written, None


# ---------------------------------------------------------------------------------------------
def distribution_figure(doc, doc_path, outdir, name):
    """Moment mismatch of patches, orders 1..4, and sliced Wasserstein per level, against the
    sampling-noise floor (two independent batches of the target)."""
    levels = [lv for lv in doc.get("levels") or [] if get_path(lv, "distribution.moment_mismatch")]
    if not levels:
        return None
    fig, axes = style.panels(2, ncols=2, h=3.0)
    ax = axes[0]
    orders = max(len(lv["distribution"]["moment_mismatch"]) for lv in levels)
    w = 0.8 / len(levels)
    for li, lv in enumerate(levels):
        mm = np.asarray(lv["distribution"]["moment_mismatch"], float)
        fl = np.asarray(lv["distribution"].get("moment_mismatch_floor") or [], float)
        x = np.arange(1, len(mm) + 1) + (li - (len(levels) - 1) / 2) * w
        ax.bar(x, mm, w, color=style.COLORS[li % len(style.COLORS)], label=f"level {lv['level']}")
        if len(fl):
            ax.scatter(x, fl, marker="_", s=120, color="black", zorder=3,
                       label="noise floor (target vs target)" if li == 0 else None)
    ax.set_yscale("log")
    ax.set_xticks(range(1, orders + 1))
    ax.set_xlabel("moment order k")
    ax.set_ylabel("mismatch of patch moments (relative)")
    ax.set_title("moments of patches, generated vs real")
    ax.legend()
    ax = axes[1]
    x = np.arange(len(levels))
    for off, key, lab, col in ((-0.2, "sliced_w1", "SW1", style.ROLE["learned"]),
                               (0.2, "sliced_w2", "SW2", style.ROLE["decoder"])):
        vals = [get_path(lv, f"distribution.{key}", np.nan) for lv in levels]
        floors = [get_path(lv, f"distribution.{key}_floor", np.nan) for lv in levels]
        scale = [get_path(lv, "distribution.projection_scale", 1.0) or 1.0 for lv in levels]
        ax.bar(x + off, np.divide(vals, scale), 0.4, color=col, label=f"{lab}, generated vs real")
        ax.scatter(x + off, np.divide(floors, scale), marker="_", s=150, color="black", zorder=3,
                   label="noise floor" if key == "sliced_w1" else None)
    ax.set_xticks(x)
    ax.set_xticklabels([f"level {lv['level']}" for lv in levels])
    ax.set_ylabel("sliced Wasserstein / RMS projection")
    ax.set_title("sliced Wasserstein distance of images X_l")
    ax.legend()
    style.title(fig, "Distribution of generated images against the target, per level",
                describe(doc, doc_path))
    return style.save(fig, outdir, name)


# ---------------------------------------------------------------------------------------------
def table_rows(doc, doc_path, label):
    """One row per level for the recovery table (None = not applicable)."""
    rows = []
    for lv in doc.get("levels") or []:
        cols = lv.get("columns") or {}
        fl = lv.get("first_layer") or {}
        sr = lv.get("super_resolution") or {}
        dist = lv.get("distribution") or {}
        rows.append({
            "run": label,
            "level": lv.get("level"),
            "channels": f"{lv.get('channels')}/{lv.get('learned_channels')}",
            "mean_cos": cols.get("mean_cosine"),
            "worst_cos": cols.get("min_cosine"),
            "frac_099": cols.get("fraction_above_0.99"),
            "v_cos": get_path(lv, "decoder.vs_target.mean_cosine"),
            "alpha": fl.get("alpha_max_relative") if fl else None,
            "beta": fl.get("beta_max_relative") if fl else None,
            "rho": fl.get("rho_max_abs_error") if fl else None,
            "w": sr.get("w_relative") if sr else None,
            "functional": sr.get("functional_error") if sr else None,
            "sw1": (dist.get("sliced_w1"), dist.get("sliced_w1_floor")),
            "identifiable": fl.get("identifiable", True) if fl else True,
        })
    return rows
