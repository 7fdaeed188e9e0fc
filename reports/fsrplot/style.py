"""The one look of every fsrlab figure: a figure is one column of a two-column paper.

Every figure is COLUMN inches wide (3.3 in, one column of a two-column paper), with fonts that stay
readable at that size when pasted unscaled (8 pt text, 7 pt ticks and legends), short axis titles,
and no figure-level title: what a figure is, and the configuration it was measured on, go into
the caption and notes of report.md, never into the image. Each figure is written twice through
save(): FIGDIR/<name>.pdf (vector, fonts embedded as TrueType) and FIGDIR/<name>.png (300 dpi).

A new figure, in any module (reports/fsrplot/*.py or a script that puts reports/ on sys.path):

    from fsrplot import style
    style.apply()                                   # once per process (report.py does it)
    fig, (ax,) = style.figure()                     # one panel, 3.3 x 2.3 in
    ax.plot(x, y, label="learned", color=style.ROLE["learned"])
    style.legend(ax)
    files = style.save(fig, outdir, "my_figure")    # ["my_figure.pdf", "my_figure.png"]

Stacked panels: style.figure(rows=3) (shared x by default); panels side by side, for small
multiples only: style.figure(rows=1, cols=2). Colours: ROLE for quantities that keep their colour
in every figure (target, learned, decoder, floor, reference), series(i) for the i-th series.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLUMN = 3.3       # inches: one column of a two-column paper
PANEL_H = 2.3      # inches: height of a single-panel figure
ROW_H = 1.55       # inches: height of each row of a stacked figure
PNG_DPI = 300
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
LINESTYLES = ["-", "--", "-.", ":"]


def apply():
    """Sets matplotlib's parameters for every figure drawn afterwards in this process."""
    plt.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": PNG_DPI,
        "font.size": 8,
        "axes.titlesize": 8,
        "axes.labelsize": 8,
        "legend.fontsize": 7,
        "xtick.labelsize": 7,
        "ytick.labelsize": 7,
        "axes.titlepad": 3,
        "axes.labelpad": 2,
        "axes.linewidth": 0.6,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "grid.linewidth": 0.4,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": matplotlib.cycler(color=COLORS),
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "xtick.major.size": 2.5,
        "ytick.major.size": 2.5,
        "xtick.minor.size": 1.5,
        "ytick.minor.size": 1.5,
        "lines.linewidth": 1.1,
        "lines.markersize": 3.5,
        "patch.linewidth": 0.5,
        "errorbar.capsize": 1.5,
        "legend.frameon": False,
        "legend.handlelength": 1.8,
        "legend.borderaxespad": 0.3,
        "legend.labelspacing": 0.3,
        "legend.columnspacing": 1.0,
        "mathtext.default": "regular",
        "pdf.fonttype": 42,  # embed TrueType: text stays text in the PDF
        "ps.fonttype": 42,
    })


def series(i):
    """Colour of the i-th series of a figure."""
    return COLORS[i % len(COLORS)]


def figure(rows=1, cols=1, height=None, sharex=None, sharey=False, **kw):
    """A column-wide figure of rows x cols panels; returns (fig, flat list of axes). The height is
    PANEL_H for one row, ROW_H per row for more, unless given. Stacked rows share x by default."""
    if height is None:
        height = PANEL_H if rows == 1 else ROW_H * rows + 0.25
    if sharex is None:
        sharex = rows > 1 and cols == 1
    fig, axes = plt.subplots(rows, cols, figsize=(COLUMN, height), squeeze=False,
                             sharex=sharex, sharey=sharey, constrained_layout=True, **kw)
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, hspace=0.04, wspace=0.04)
    return fig, list(axes.ravel())


def legend(ax, loc="best", ncol=1, **kw):
    """A compact legend (nothing when the axes hold no labelled artist)."""
    h, lab = ax.get_legend_handles_labels()
    if h:
        ax.legend(h, lab, loc=loc, ncol=ncol, **kw)


def figure_legend(fig, ax, ncol=None, **kw):
    """One legend for the whole figure, above the top panel ax, from ax's labelled artists
    (constrained layout makes room for it)."""
    h, lab = ax.get_legend_handles_labels()
    if h:
        ax.legend(h, lab, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                  ncol=ncol or min(len(h), 3), borderaxespad=0.2, **kw)


def tag(ax, text, loc="upper left"):
    """A short panel label inside a corner of the axes ("level 1", "(a)"); loc is "upper left",
    "lower left", "upper right" or "lower right" (pick the one the data leave empty)."""
    y, va = (0.97, "top") if loc.startswith("upper") else (0.03, "bottom")
    x, ha = (0.98, "right") if loc.endswith("right") else (0.02, "left")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=7,
            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))


def save(fig, outdir, name):
    """Writes OUTDIR/name.pdf and OUTDIR/name.png atomically; returns [pdf, png] basenames."""
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
    a.set_ticklabels([f"{v:.3g}" for v in vals])


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


def label_log_minor(ax, axis="y"):
    """Plain labels (0.02, 0.05, 0.1) at the decades and their 2x and 5x ticks of a log axis that
    spans under two decades, where the decades alone would leave one or two labels."""
    import math
    from matplotlib.ticker import FuncFormatter
    a = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    if not (lo > 0 and hi / lo < 100):
        return

    def fmt(v, _):
        m = v / 10 ** math.floor(math.log10(v) + 1e-9)
        return f"{v:g}" if any(abs(m - k) < 1e-6 for k in (1, 2, 5)) else ""
    a.set_major_formatter(FuncFormatter(fmt))
    a.set_minor_formatter(FuncFormatter(fmt))
