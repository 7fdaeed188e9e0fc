"""Figures of image-structure documents (experiments/image_structure.h, docs/real_images.md):
per-level sparsity histograms of real images vs a planted target vs their Gaussian controls,
sparsity against the reconstruction error, the learned atoms as colour tiles, and the locality
curves (error of predicting level-l codes from an n x n block of parent codes, up to the whole
coarser image)."""
import math
import os

import numpy as np

from . import keys, style
from .analysis import _tile, _load_npy
from .documents import get_path, resolve

# (source, block, label, colour, hatch): the series of the sparsity figures, in drawing order.
SERIES = [
    ("images", "data", "real images", style.COLORS[1], None),
    ("images", "noise", "Gaussian control of the real patches", style.COLORS[1], "////"),
    ("target", "data", "planted target (learned atoms)", style.COLORS[0], None),
    ("target", "noise", "Gaussian control of the planted patches", style.COLORS[0], "////"),
]


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


def sparsity_figure(doc, outdir, name):
    srcs, n = _levels(doc)
    if not n:
        return None
    fig, axes = style.panels(n, ncols=min(n, 4), h=3.2)
    for li, ax in enumerate(axes):
        series = [(src, blk, lab, col, hat) for src, blk, lab, col, hat in SERIES
                  if get_path(srcs, f"{src}.levels.{li}.{blk}.histogram")]
        planted = get_path(srcs, f"target.levels.{li}.planted.active_histogram")
        bars = len(series) + (1 if planted else 0)
        w = 0.8 / max(1, bars)
        jmax = 1
        for k, (src, blk, lab, col, hat) in enumerate(series):
            h = np.asarray(get_path(srcs, f"{src}.levels.{li}.{blk}.histogram"), float)
            mean = get_path(srcs, f"{src}.levels.{li}.{blk}.mean_atoms", float("nan"))
            j = np.arange(len(h))
            ax.bar(j + (k - (bars - 1) / 2) * w, h, w, color=col if hat is None else "white",
                   edgecolor=col, hatch=hat, lw=0.6, label=f"{lab} (mean {mean:.2f})")
            jmax = max(jmax, int(np.max(np.nonzero(h)[0])) + 1 if np.any(h) else 1)
        if planted:
            h = np.asarray(planted, float)
            mean = get_path(srcs, f"target.levels.{li}.planted.mean_active", float("nan"))
            j = np.arange(len(h))
            ax.bar(j + (bars - 1 - (bars - 1) / 2) * w, h, w, color=style.ROLE["reference"],
                   label=f"planted: true active channels (mean {mean:.2f})")
            jmax = max(jmax, int(np.max(np.nonzero(h)[0])) + 1 if np.any(h) else 1)
        ax.set_xlim(-0.6, jmax + 0.5)
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 3)
        ax.set_xlabel("atoms per patch at the fixed error")
        ax.set_ylabel("fraction of patches")
        lv = (get_path(srcs, f"images.levels.{li}") or get_path(srcs, f"target.levels.{li}") or {})
        ax.set_title(f"level {lv.get('level', li + 1)}: grid {lv.get('grid')}, "
                     f"d = {lv.get('patch_dim')}, {lv.get('atoms')} atoms")
    style.title(fig, "Per-patch sparsity of codes over a dictionary learned from the patches: "
                "real images vs planted target vs Gaussian controls (hatched)", describe(doc))
    fig.tight_layout(rect=(0, 0, 1, 0.80))
    style.shared_legend(fig, axes[0], ncol=3, top=0.80)
    return style.save(fig, outdir, name, tight=False)


def error_curve_figure(doc, outdir, name):
    """Mean atoms per patch against the error tolerance (x RMS patch norm), per level."""
    srcs, n = _levels(doc)
    if not n:
        return None
    fig, axes = style.panels(n, ncols=min(n, 4), h=3.0)
    for li, ax in enumerate(axes):
        for src, blk, lab, col, hat in SERIES:
            curve = get_path(srcs, f"{src}.levels.{li}.{blk}.curve")
            if not curve:
                continue
            t = [p["tolerance"] for p in curve]
            m = [p["mean_atoms"] for p in curve]
            ax.plot(t, m, color=col, ls="--" if hat else "-", marker="o", label=lab)
        oracle = get_path(srcs, f"target.levels.{li}.planted.oracle.curve")
        if oracle:
            ax.plot([p["tolerance"] for p in oracle], [p["mean_atoms"] for p in oracle],
                    color=style.ROLE["reference"], marker="s", ls=":", label="planted, true atoms")
        ax.set_xlabel("error tolerance (x RMS patch norm)")
        ax.set_ylabel("mean atoms per patch")
        ax.set_title(f"level {li + 1}")
    style.title(fig, "Sparsity against the reconstruction error (lower = sparser)", describe(doc))
    fig.tight_layout(rect=(0, 0, 1, 0.74))
    style.shared_legend(fig, axes[0], ncol=3, top=0.74)
    return style.save(fig, outdir, name, tight=False)


def atoms_figure(doc, doc_path, source, outdir, name):
    """The learned atoms of one source as r x r colour tiles, one row per level, ordered by how
    far each is from flat (largest contrast first)."""
    srcs, n = _levels(doc)
    levels = get_path(srcs, f"{source}.levels") or []
    g = doc.get("geometry") or {}
    r, c = g.get("patch"), g.get("colors")
    rows = []
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
        rows.append((lv, D))
    if not rows:
        return None
    import matplotlib.pyplot as plt
    per_row = max(D.shape[1] for _, D in rows)
    fig, axes = plt.subplots(len(rows), per_row,
                             figsize=(max(style.MIN_WIDTH, 0.62 * per_row + 1.4), 0.75 * len(rows) + 1.2),
                             squeeze=False)
    for ri, (lv, D) in enumerate(rows):
        # Order: largest spread of the (mean-removed) atom first, so edges lead.
        order = np.argsort(-np.ptp(D - D.mean(axis=0, keepdims=True), axis=0), kind="stable")
        for k in range(per_row):
            ax = axes[ri][k]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if k >= D.shape[1]:
                ax.set_visible(False)
                continue
            img = _tile(D[:, order[k]], int(r), int(c))
            ax.imshow(img, interpolation="nearest", cmap="RdBu_r" if img.ndim == 2 else None,
                      vmin=0, vmax=1)
            if k == 0:
                ax.set_ylabel(f"level {lv.get('level')}", fontsize=7, rotation=0, ha="right",
                              va="center", labelpad=4)
    coh = [get_path(lv, "data.coherence.max") for lv, _ in rows]
    sub = (f"{source}: {per_row} atoms per level in pixel space (whitening undone), each tile one "
           f"atom ({r}x{r} pixels, {c} colours; grey = 0, the largest |entry| saturates); "
           f"coherence max per level (whitened) "
           + ", ".join(f"{x:.2f}" for x in coh if x is not None))
    fig.suptitle(style.wrap("Atoms learned from the patches alone (OMP + MOD)", fig, 9) + "\n"
                 + style.wrap(describe(doc), fig, 8.5) + "\n" + style.wrap(sub, fig, 8.5),
                 fontsize=8.5)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.03, top=1 - 1.0 / (0.75 * len(rows) + 1.2),
                        wspace=0.1, hspace=0.15)
    return style.save(fig, outdir, name, tight=False)


def locality_figure(doc, outdir, name):
    """Held-out fraction of variance unexplained of the level-l codes against the side n of the
    parent neighbourhood (n = 1: the parent only, kernel 2; n = 2: kernel 4's 2x2 block), the
    last point being the whole coarser image."""
    srcs, n = _levels(doc)
    panels = [li for li in range(1, n) if any(get_path(srcs, f"{s}.levels.{li}.locality")
                                               for s in srcs)]
    if not panels:
        return None
    fig, axes = style.panels(len(panels), ncols=min(len(panels), 3), h=3.0)
    for ax, li in zip(axes, panels):
        ticks = {}
        for si, (src, lab, col) in enumerate((("images", "real images", style.COLORS[1]),
                                              ("target", "planted target", style.COLORS[0]))):
            curve = get_path(srcs, f"{src}.levels.{li}.locality") or []
            pts = [(p["size"], p["fvu"], p.get("whole")) for p in curve if p.get("fvu") is not None]
            if not pts:
                continue
            x = [p[0] for p in pts]
            y = [p[1] for p in pts]
            ax.plot(x, y, color=col, marker="o", label=lab)
            for s, v, whole in pts:
                ticks[s] = f"{s}\n(whole)" if whole else str(s)
                if whole:
                    ax.scatter([s], [v], s=60, facecolor="none", edgecolor=col, zorder=3)
        ax.axvline(1, color=style.ROLE["reference"], lw=0.8, ls=":")
        ax.axvline(2, color=style.ROLE["reference"], lw=0.8, ls="--")
        xs = sorted(ticks)
        ax.set_xticks(xs)
        ax.set_xticklabels([ticks[s] for s in xs], fontsize=7)
        ax.set_xlabel("side n of the parent block (1: kernel 2, 2: kernel 4)")
        ax.set_ylabel("held-out unexplained variance")
        ax.legend(loc="lower right")
        lv = get_path(srcs, f"images.levels.{li}") or get_path(srcs, f"target.levels.{li}") or {}
        ax.set_title(f"level {lv.get('level', li + 1)} codes from level {li} codes")
        ax.set_ylim(bottom=0)
    style.title(fig, "Locality of super-resolution: a patch's code predicted from the codes of an "
                "n x n block of parents (ridge regression, weights per child parity; circled: "
                "the whole coarser image)", describe(doc))
    fig.tight_layout(rect=(0, 0, 1, 0.80))
    return style.save(fig, outdir, name, tight=False)
