"""Figures and table rows of `fsr analyze` documents (experiments/analysis.h, docs/analysis.md):
per-patch sparsity histograms, feature grids (M_l, M_hat_l, V_l as r x r colour tiles), the
distribution metrics per level, and the recovery table."""
import json
import math
import os

import numpy as np

from . import style
from .documents import get_path, resolve

MAX_TILES = 32  # channels drawn per feature grid (4 rows of 8); more are listed as left out


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
def sparsity_levels(doc):
    return [lv for lv in doc.get("levels") or []
            if get_path(lv, "activity.target.active_count_histogram")]


def sparsity_notes(doc):
    """The numbers behind the sparsity figure, one line per level, for report.md."""
    out = []
    for lv in sparsity_levels(doc):
        act = lv["activity"]
        t, l = act.get("target") or {}, act.get("learned") or {}
        out.append(f"level {lv['level']}: mean active channels per patch "
                   f"{t.get('mean_active_per_patch', float('nan')):.3f} (target) / "
                   f"{l.get('mean_active_per_patch', float('nan')):.3f} (learned); "
                   f"P(count \u2264 k = {act.get('k')}) "
                   f"{t.get('fraction_patches_at_most_k', float('nan')):.3f} / "
                   f"{l.get('fraction_patches_at_most_k', float('nan')):.3f}")
    return out


def sparsity_figure(doc, doc_path, outdir, name):
    """Per-patch histogram of the number of active channels, target vs learned, one row per level
    (the counterpart of the paper's Fig. 5)."""
    levels = sparsity_levels(doc)
    if not levels:
        return None
    fig, axes = style.figure(rows=len(levels), sharex=False)
    for ax, lv in zip(axes, levels):
        act = lv["activity"]
        hists = [(np.asarray(act["target"]["active_count_histogram"], float), "target",
                  style.ROLE["target"])]
        hl = get_path(act, "learned.active_count_histogram")
        if hl:
            hists.append((np.asarray(hl, float), "learned", style.ROLE["learned"]))
        histogram_panel(ax, hists, act.get("k"), get_path(lv, "distribution.patches", 1e4))
        if len(levels) > 1:
            style.tag(ax, f"level {lv['level']}")
    style.legend(axes[0], loc="upper right")
    axes[-1].set_xlabel("active channels in a patch")
    return style.save(fig, outdir, name)


def histogram_panel(ax, hists, k, patches=1e4, spread=None):
    """Bars of fractions of patches with j active channels, side by side per histogram, on a log
    axis, from j = 0 to one past the last non-empty count; k (the sparsity bound) dashed.
    hists: [(fractions, label, colour)]; spread: optional [(lo, hi)] per histogram (error bars)."""
    n = max(len(h) for h, _, _ in hists)
    nz = [j for j in range(n) if any(j < len(h) and h[j] > 0 for h, _, _ in hists)]
    jmax = min(n, (max(nz) + 2) if nz else n)
    j = np.arange(jmax)
    w = 0.8 / len(hists)
    for i, (h, label, col) in enumerate(hists):
        x = j + (i - (len(hists) - 1) / 2) * w
        y = np.pad(h, (0, max(0, jmax - len(h))))[:jmax]
        err = None
        if spread and spread[i] is not None:
            lo, hi = (np.pad(np.asarray(a, float), (0, max(0, jmax - len(a))))[:jmax]
                      for a in spread[i])
            err = [np.maximum(y - lo, 0), np.maximum(hi - y, 0)]
        ax.bar(x, y, w, color=col, label=label, yerr=err, ecolor="0.25", error_kw={"lw": 0.6})
    if k is not None:
        ax.axvline(k + 0.5, color=style.ROLE["reference"], ls="--", lw=0.8, label=f"k = {k}")
    ax.set_yscale("log")
    ax.set_ylim(max(1e-4, 0.5 / max(1.0, float(patches or 1e4))), 3)
    ax.set_xticks(j)
    ax.set_xlim(-0.6, jmax - 0.4)
    ax.set_ylabel("fraction of patches")


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


def feature_notes(doc, level):
    """The caption's numbers of a feature grid: sizes and matched cosines."""
    cols = level.get("columns") or {}
    m = level.get("channels")
    s = (f"level {level.get('level')}: {m} true channels"
         + (f" (first {MAX_TILES} drawn)" if isinstance(m, int) and m > MAX_TILES else "")
         + f"; M\u0302 vs M matched |cos| mean {cols.get('mean_cosine', float('nan')):.4f}, "
           f"worst {cols.get('min_cosine', float('nan')):.4f}")
    dv = get_path(level, "decoder.vs_target")
    if dv:
        s += f"; V vs M mean {dv.get('mean_cosine', float('nan')):.3f}"
    return s


def feature_grid_figure(doc, doc_path, level, outdir, name):
    """M_l, M_hat_l (matched) and V_l (matched to M_l) as r x r colour tiles, one column per true
    channel, with the matched |cos| under each estimate (red below the bar). Needs the .npy
    arrays; returns (None, why) when they are not there."""
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
    rows = [("M", M, None)]
    if Mh is not None:
        rows.append((r"$\hat{M}$", Mh, _match_order(level.get("columns"), m)))
    if V is not None:
        rows.append(("V", V, _match_order(get_path(level, "decoder.vs_target"), m)))
    bar = (level.get("columns") or {}).get("threshold", 0.99)
    shown = min(m, MAX_TILES)
    per_row = min(shown, 8)
    blocks = (shown + per_row - 1) // per_row
    nrows = blocks * len(rows)
    import matplotlib.pyplot as plt
    tile = (style.COLUMN - 0.3) / per_row
    fig, axes = plt.subplots(nrows, per_row, figsize=(style.COLUMN, nrows * (tile + 0.14) + 0.05),
                             squeeze=False, gridspec_kw=dict(left=0.3 / style.COLUMN, right=0.995,
                                                             top=0.99, bottom=0.02, wspace=0.12,
                                                             hspace=0.45))
    for b in range(blocks):
        for ri, (label, arr, order) in enumerate(rows):
            for k in range(per_row):
                ax = axes[b * len(rows) + ri][k]
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                for sp in ax.spines.values():
                    sp.set_visible(True)
                    sp.set_linewidth(0.4)
                i = b * per_row + k
                if k == 0:
                    ax.set_ylabel(label, rotation=0, ha="right", va="center", labelpad=3)
                if i >= shown:
                    ax.set_visible(False)
                    continue
                if order is None:
                    col, txt, bad = arr[:, i], f"{i}", False
                elif order[i] is None:
                    ax.text(0.5, 0.5, "none", ha="center", va="center", fontsize=6,
                            transform=ax.transAxes)
                    continue
                else:
                    j, cos, sgn = order[i]
                    col = arr[:, j] * (1.0 if (sgn is None or sgn >= 0) else -1.0)
                    txt = f"{cos:.3f}" if cos is not None else f"#{j}"
                    bad = cos is not None and cos < bar
                img = _tile(col, r, c)
                ax.imshow(img, interpolation="nearest", cmap="RdBu_r" if img.ndim == 2 else None,
                          vmin=0, vmax=1)
                ax.set_xlabel(txt, fontsize=6, labelpad=1, color="#B00000" if bad else "black")
    return style.save(fig, outdir, name), None


# ---------------------------------------------------------------------------------------------
def distribution_figure(doc, doc_path, outdir, name):
    """Moment mismatch of patches, orders 1..4 (top), and sliced Wasserstein distances of whole
    images relative to the RMS projection (bottom), per level, each against the sampling-noise
    floor of two independent target batches (black ticks)."""
    levels = [lv for lv in doc.get("levels") or [] if get_path(lv, "distribution.moment_mismatch")]
    if not levels:
        return None
    fig, (ax, ax2) = style.figure(rows=2, sharex=False, height=3.6)
    orders = max(len(lv["distribution"]["moment_mismatch"]) for lv in levels)
    w = 0.8 / len(levels)
    for li, lv in enumerate(levels):
        mm = np.asarray(lv["distribution"]["moment_mismatch"], float)
        fl = np.asarray(lv["distribution"].get("moment_mismatch_floor") or [], float)
        x = np.arange(1, len(mm) + 1) + (li - (len(levels) - 1) / 2) * w
        ax.bar(x, mm, w, color=style.series(li), label=f"level {lv['level']}")
        if len(fl):
            ax.scatter(x, fl, marker="_", s=60, lw=1.2, color="black", zorder=3,
                       label="noise floor" if li == 0 else None)
    ax.set_yscale("log")
    ax.set_xticks(range(1, orders + 1))
    ax.set_xlabel("moment order")
    ax.set_ylabel("patch moment mismatch")
    style.legend(ax, loc="upper left", ncol=2)
    x = np.arange(len(levels))
    for off, key, lab, col in ((-0.2, "sliced_w1", "SW$_1$", style.ROLE["learned"]),
                               (0.2, "sliced_w2", "SW$_2$", style.ROLE["decoder"])):
        vals = [get_path(lv, f"distribution.{key}", np.nan) for lv in levels]
        floors = [get_path(lv, f"distribution.{key}_floor", np.nan) for lv in levels]
        scale = [get_path(lv, "distribution.projection_scale", 1.0) or 1.0 for lv in levels]
        ax2.bar(x + off, np.divide(vals, scale), 0.4, color=col, label=lab)
        ax2.scatter(x + off, np.divide(floors, scale), marker="_", s=80, lw=1.2, color="black",
                    zorder=3, label="noise floor" if key == "sliced_w1" else None)
    ax2.set_xticks(x)
    ax2.set_xticklabels([f"level {lv['level']}" for lv in levels])
    ax2.set_ylabel("sliced Wasserstein / RMS")
    ax2.grid(axis="x", visible=False)
    style.legend(ax2, loc="upper left", ncol=3)
    lo, hi = ax2.get_ylim()
    ax2.set_ylim(0, hi * 1.3)
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
            # A data set (no planted truth: "recovery" null) has no m_l.
            "channels": f"{lv.get('channels', '–')}/{lv.get('learned_channels')}",
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
