"""Figures of image-structure documents (experiments/image_structure.h, docs/real_images.md):
per-level sparsity histograms of real images vs a planted target vs their Gaussian controls,
sparsity against the reconstruction error, the learned atoms as colour tiles, and the locality
curves (error of predicting level-l codes from an n x n block of parent codes, up to the whole
coarser image).

Every figure is one column wide (style.py) with one stacked panel per level; what a figure shows
and the configuration it was measured on are in report.md (the captions in reports/report.py,
describe() and notes()), never in the image."""
import numpy as np

from . import keys, style
from .analysis import _tile, _load_npy
from .documents import get_path, resolve

# (source, block, legend label, colour, dashed): the series of the sparsity and error figures,
# in drawing order. A source keeps its colour; its Gaussian control is dashed with open markers.
# Planted first: in a two-column legend its three entries (with its true codes, drawn second)
# fill the first column and the real images' two the second.
SERIES = [
    ("target", "data", "planted target", style.COLORS[0], False),
    ("target", "noise", "planted, Gaussian control", style.COLORS[0], True),
    ("images", "data", "real images", style.COLORS[1], False),
    ("images", "noise", "real, Gaussian control", style.COLORS[1], True),
]
MARKER = {"images": "o", "target": "s"}
# The planted target's own codes (grey, dotted): its true active channels in the sparsity figure,
# its codes over its true atoms in the error figure.
TRUE_ACTIVE = "planted, true active"
TRUE_ATOMS = "planted, true atoms"
TILES_PER_ROW = 8                     # atoms per row of the tile figures: 0.36 in tiles


def describe(doc):
    g = doc.get("geometry") or {}
    parts = [f"L={g.get('levels')}, h1={g.get('grid')}, r={g.get('patch')}, c={g.get('colors')}"]
    cfg = doc.get("config") or {}
    prep = ("minus their mean" if cfg.get("center") == "patch_mean" else "raw") + \
        (", whitened" if cfg.get("whiten") else "")
    parts.append(f"{cfg.get('atoms') or '2d'} atoms, error {cfg.get('tolerance')} x RMS patch norm"
                 f", patches {prep}")
    srcs = doc.get(keys.IS_SOURCES) or {}
    if "images" in srcs:
        imgs = get_path(srcs, "images.about.images") or []
        parts.append(f"{srcs['images'].get('samples')} crops of {len(imgs)} photographs")
    seed = get_path(doc, "manifest.seed")
    if seed is not None:
        parts.append(f"seed {seed}")
    return "; ".join(parts)


def _levels(doc):
    srcs = doc.get(keys.IS_SOURCES) or {}
    n = max((len(s.get("levels") or []) for s in srcs.values()), default=0)
    return srcs, n


def _level_info(srcs, li):
    return get_path(srcs, f"images.levels.{li}") or get_path(srcs, f"target.levels.{li}") or {}


def _f(x, fmt=".2f"):
    return format(x, fmt) if isinstance(x, (int, float)) else "n/a"


def notes(doc):
    """The numbers the figures leave out, one line per level, for report.md: the level's geometry,
    the mean atoms per patch at the fixed error of each series, the planted true active count and
    the learned atoms' coherence."""
    srcs, n = _levels(doc)
    out = []
    for li in range(n):
        lv = _level_info(srcs, li)
        parts = [f"level {lv.get('level', li + 1)}: grid {lv.get('grid')}, d = "
                 f"{lv.get('patch_dim')}, {lv.get('atoms')} atoms"]
        means = [f"{lab} {_f(get_path(srcs, f'{src}.levels.{li}.data.mean_atoms'))} / "
                 f"{_f(get_path(srcs, f'{src}.levels.{li}.noise.mean_atoms'))}"
                 for src, lab in (("images", "real images"), ("target", "planted target"))
                 if get_path(srcs, f"{src}.levels.{li}.data") is not None]
        if means:
            parts.append("mean atoms per patch (data / Gaussian control) " + ", ".join(means))
        act = get_path(srcs, f"target.levels.{li}.planted.mean_active")
        if act is not None:
            parts.append(f"planted true active channels {_f(act)}")
        coh = [f"{src} {_f(get_path(srcs, f'{src}.levels.{li}.data.coherence.max'))}"
               for src in ("images", "target")
               if get_path(srcs, f"{src}.levels.{li}.data.coherence.max") is not None]
        if coh:
            parts.append("coherence max of the learned atoms (whitened) " + ", ".join(coh))
        out.append("; ".join(parts))
    return out


def _mark(ax, x, y, col, marker, dashed, label):
    ax.plot(x, y, color=col, ls="--" if dashed else "-", marker=marker,
            mfc="white" if dashed else col, mec=col, label=label)


def sparsity_figure(doc, outdir, name):
    """Fraction of patches coded with j atoms at the fixed error, one stacked panel per level:
    real images and planted target (solid), their Gaussian controls (dashed, open markers), and
    the planted target's true active counts (grey, dotted). Lines rather than bars: five series
    side by side leave bars too thin at column width."""
    srcs, n = _levels(doc)
    if not n:
        return None
    fig, axes = style.figure(rows=n)
    jmax, lo = 1, 1e-4
    for li, ax in enumerate(axes):
        curves = [(get_path(srcs, f"{src}.levels.{li}.{blk}.histogram"), col, MARKER[src], dash,
                   lab) for src, blk, lab, col, dash in SERIES]
        curves.insert(2, (get_path(srcs, f"target.levels.{li}.planted.active_histogram"),
                          style.ROLE["reference"], "^", False, TRUE_ACTIVE))
        for h, col, mk, dash, lab in curves:
            if not h:
                continue
            h = np.asarray(h, float)
            nz = np.nonzero(h)[0]
            if len(nz):
                jmax = max(jmax, int(nz[-1]))
                lo = min(lo, 0.5 * float(h[nz].min()))  # one patch in 20000 at paper size
            # Empty counts are left out (a log axis has no 0), the line joins the others.
            j = np.arange(len(h))
            keep = h > 0
            if lab == TRUE_ACTIVE:
                ax.plot(j[keep], h[keep], color=col, ls=":", marker=mk, label=lab)
            else:
                _mark(ax, j[keep], h[keep], col, mk, dash, lab)
        ax.set_yscale("log")
        ax.set_ylabel("fraction of patches")
        style.tag(ax, f"level {_level_info(srcs, li).get('level', li + 1)}", loc="lower left")
    for ax in axes:
        ax.set_ylim(lo, 1.5)
    axes[-1].set_xlim(-0.4, jmax + 0.4)
    axes[-1].set_xticks(range(0, jmax + 1))
    axes[-1].set_xlabel("atoms per patch at the fixed error")
    style.figure_legend(fig, axes[0], ncol=2)
    return style.save(fig, outdir, name)


def error_curve_figure(doc, outdir, name):
    """Mean atoms per patch against the error tolerance (x RMS patch norm), one stacked panel per
    level, the same series as the sparsity figure plus the planted target coded over its own
    atoms."""
    srcs, n = _levels(doc)
    if not n:
        return None
    fig, axes = style.figure(rows=n, sharey=True)
    tols, top = set(), 1.0
    for li, ax in enumerate(axes):
        for si, (src, blk, lab, col, dash) in enumerate(SERIES):
            curve = get_path(srcs, f"{src}.levels.{li}.{blk}.curve")
            if curve:
                t = [p["tolerance"] for p in curve]
                m = [p["mean_atoms"] for p in curve]
                tols.update(t)
                top = max([top] + m)
                _mark(ax, t, m, col, MARKER[src], dash, lab)
            oracle = get_path(srcs, f"target.levels.{li}.planted.oracle.curve")
            if si == 1 and oracle:
                ax.plot([p["tolerance"] for p in oracle], [p["mean_atoms"] for p in oracle],
                        color=style.ROLE["reference"], marker="^", ls=":", label=TRUE_ATOMS)
        ax.set_ylabel("atoms per patch")
        # Atoms fall with the tolerance: the upper right corner stays free for the tag.
        style.tag(ax, f"level {_level_info(srcs, li).get('level', li + 1)}", loc="upper right")
    axes[0].set_ylim(0, 1.08 * top)  # shared y: every level on the same scale
    if tols:
        style.ticks_at(axes[-1], tols)
    axes[-1].set_xlabel("error tolerance (x RMS patch norm)")
    style.figure_legend(fig, axes[0], ncol=2)
    return style.save(fig, outdir, name)


def atoms_figure(doc, doc_path, source, outdir, name):
    """The learned atoms of one source as r x r colour tiles in pixel space, TILES_PER_ROW to a
    row, one block of rows per level (labelled on the left), each block ordered by how far an
    atom is from flat (largest contrast first)."""
    srcs, n = _levels(doc)
    levels = get_path(srcs, f"{source}.levels") or []
    g = doc.get("geometry") or {}
    r, c = g.get("patch"), g.get("colors")
    blocks = []
    for lv in levels:
        f = lv.get("dictionary_file")
        D = _load_npy(resolve(f, doc_path)) if f else None
        if D is None or not r or not c or D.shape[0] != r * r * c:
            continue
        wf = lv.get("whitening_file")
        W = _load_npy(resolve(wf, doc_path)) if wf else None
        if W is not None:
            # Atoms live in whitened coordinates; in pixels a code s draws W^-1 D s.
            D = np.linalg.solve(W, D)
        blocks.append((lv, D))
    if not blocks:
        return None
    import matplotlib.pyplot as plt
    per_row = min(TILES_PER_ROW, max(D.shape[1] for _, D in blocks))
    nrows = [(D.shape[1] + per_row - 1) // per_row for _, D in blocks]
    left, gap = 0.3, 0.12    # inches: the level labels; the space between two levels' blocks
    tile = (style.COLUMN - left - 0.05) / per_row
    ratios = []
    for b, k in enumerate(nrows):
        ratios += ([gap / tile] if b else []) + [1.0] * k
    height = sum(ratios) * tile * 1.1 + 0.1
    fig = plt.figure(figsize=(style.COLUMN, height))
    gs = fig.add_gridspec(len(ratios), per_row, height_ratios=ratios, left=left / style.COLUMN,
                          right=1 - 0.05 / style.COLUMN, top=1 - 0.05 / height,
                          bottom=0.05 / height, wspace=0.1, hspace=0.1)
    row = 0
    for b, ((lv, D), k) in enumerate(zip(blocks, nrows)):
        row += 1 if b else 0
        # Order: largest spread of the (mean-removed) atom first, so edges lead.
        order = np.argsort(-np.ptp(D - D.mean(axis=0, keepdims=True), axis=0), kind="stable")
        first = last = None
        for i in range(k * per_row):
            ax = fig.add_subplot(gs[row + i // per_row, i % per_row])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for sp in ax.spines.values():
                sp.set_visible(True)
                sp.set_linewidth(0.4)
            first = first or ax
            last = ax
            if i >= D.shape[1]:
                ax.set_visible(False)
                continue
            img = _tile(D[:, order[i]], int(r), int(c))
            ax.imshow(img, interpolation="nearest", cmap="RdBu_r" if img.ndim == 2 else None,
                      vmin=0, vmax=1)
        top, bottom = first.get_position().y1, last.get_position().y0
        fig.text(0.5 * left / style.COLUMN, 0.5 * (top + bottom), f"level {lv.get('level')}",
                 rotation=90, ha="center", va="center", fontsize=7)
        row += k
    return style.save(fig, outdir, name)


def locality_figure(doc, outdir, name):
    """Held-out fraction of variance unexplained of the level-l codes against the side n of the
    parent neighbourhood (n = 1: the parent only, kernel 2; n = 2: kernel 4's 2x2 block), the
    last point being the whole coarser image (circled), one stacked panel per level l >= 2."""
    srcs, n = _levels(doc)
    panels = [li for li in range(1, n) if any(get_path(srcs, f"{s}.levels.{li}.locality")
                                               for s in srcs)]
    if not panels:
        return None
    fig, axes = style.figure(rows=len(panels), sharex=False)
    xmax, top = 1, 1.0
    for ax, li in zip(axes, panels):
        ticks = {}
        for src, lab, col in (("images", "real images", style.COLORS[1]),
                              ("target", "planted target", style.COLORS[0])):
            curve = get_path(srcs, f"{src}.levels.{li}.locality") or []
            pts = [(p["size"], p["fvu"], p.get("whole")) for p in curve if p.get("fvu") is not None]
            if not pts:
                continue
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=col, marker=MARKER[src],
                    label=lab)
            top = max([top] + [p[1] for p in pts])
            for s, v, whole in pts:
                ticks[s] = f"{s}\nwhole" if whole else str(s)
                if whole:
                    ax.scatter([s], [v], s=55, facecolor="none", edgecolor=col, lw=0.8, zorder=3)
        ax.axvline(1, color=style.ROLE["reference"], lw=0.8, ls=":")
        ax.axvline(2, color=style.ROLE["reference"], lw=0.8, ls="--")
        xs = sorted(ticks)
        xmax = max([xmax] + xs)
        ax.set_xticks(xs)
        ax.set_xticklabels([ticks[s] for s in xs])
        ax.set_ylabel("unexplained variance")
        lv = _level_info(srcs, li)
        style.tag(ax, f"level {lv.get('level', li + 1)} from level {lv.get('level', li + 1) - 1}",
                  loc="lower left")
    for ax in axes:  # the same axes in every panel; 0 = predicted exactly, 1 = not at all
        ax.set_xlim(0.6, xmax + 0.4)
        ax.set_ylim(0, 1.06 * top)
    axes[-1].set_xlabel("side n of the parent block")
    style.figure_legend(fig, axes[0], ncol=2)
    return style.save(fig, outdir, name)
