"""One style for every fsrlab figure: fonts, colours, sizes, and how a figure is saved.

Every figure is written twice, FIGDIR/<name>.pdf (vector, for the paper) and FIGDIR/<name>.png
(for report.md), through save(); nothing else in fsrplot calls savefig.
"""
import os
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 150
# Colour-blind-safe cycle (Okabe-Ito), used in this order everywhere.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
# Fixed roles, so that "target" is the same colour in every figure.
ROLE = {
    "target": "#0072B2",
    "learned": "#D55E00",
    "decoder": "#009E73",
    "floor": "#7F7F7F",
    "fit": "#000000",
    "reference": "#7F7F7F",
}
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
PANEL_W, PANEL_H = 4.0, 3.2  # inches per subplot panel


def apply():
    plt.rcParams.update({
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "font.size": 9,
        "axes.titlesize": 9.5,
        "axes.labelsize": 9,
        "legend.fontsize": 8,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "figure.titlesize": 11,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "grid.linewidth": 0.5,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": matplotlib.cycler(color=COLORS),
        "lines.linewidth": 1.4,
        "lines.markersize": 4,
        "legend.frameon": False,
        "pdf.fonttype": 42,  # embed TrueType: text stays text in the PDF
    })


MIN_WIDTH = 7.0  # inches: room for a two-line title that says the configuration


def panels(n, ncols=None, w=PANEL_W, h=PANEL_H, **kw):
    """A figure with n panels in a grid; returns (fig, flat list of n axes)."""
    ncols = ncols or min(n, 3)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(MIN_WIDTH, w * ncols), h * nrows + 0.5),
                             squeeze=False, **kw)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def wrap(text, fig, fontsize=10.0):
    """Wraps text to the figure's width (about 0.6 em per character)."""
    width = max(40, int(fig.get_figwidth() * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def title(fig, text, sub=None):
    """Figure title: what is shown (first) and the configuration it was measured on (then),
    wrapped to the figure's width."""
    fig.suptitle(wrap(text, fig, 10.5) + ("\n" + wrap(sub, fig, 9.5) if sub else ""), fontsize=10)


def save(fig, outdir, name, tight=True):
    """Writes OUTDIR/name.pdf and OUTDIR/name.png atomically; returns [pdf, png] basenames."""
    if tight:
        fig.tight_layout()
    written = []
    for ext in ("pdf", "png"):
        path = os.path.join(outdir, f"{name}.{ext}")
        tmp = f"{path}.tmp.{ext}"
        fig.savefig(tmp, format=ext)
        os.replace(tmp, path)
        written.append(f"{name}.{ext}")
    plt.close(fig)
    return written


def ticks_at(ax, values, axis="x"):
    """Major ticks exactly at the measured values, written plainly (12, 24, 48, 96)."""
    from matplotlib.ticker import FixedLocator, NullLocator
    vals = sorted(set(float(v) for v in values))
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(FixedLocator(vals))
    a.set_minor_locator(NullLocator())
    a.set_ticklabels([f"{v:g}" for v in vals])


def plain_log_ticks(ax, axis="x"):
    """Plain numbers (12, 24, 48) instead of 2x10^1 on a log axis spanning under two decades."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter
    a = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = (ax.get_xlim() if axis == "x" else ax.get_ylim())
    if lo > 0 and hi / lo < 100:
        f = ScalarFormatter()
        f.set_scientific(False)
        a.set_major_formatter(f)
        a.set_minor_formatter(NullFormatter())


def shared_legend(fig, ax, ncol=None, top=0.84):
    """One legend for the whole figure, under the title, from ax's handles."""
    h, l = ax.get_legend_handles_labels()
    if h:
        fig.legend(h, l, loc="lower center", ncol=ncol or len(h), bbox_to_anchor=(0.5, top))
