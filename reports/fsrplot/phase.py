"""The map of where pure GDA learns level 1 (experiments/suites/gda_phase_diagram.json,
docs/learner.md "The map"): success rate of the column bar per cell of target activity x
generator width, one panel per patch dimension d, and where it fails how far it got (the mean
matched |cos| of M_hat_1 with M_1, averaged over the cell's seeds); a second figure for the
target variants (correlated first layer, incoherent overcomplete dictionaries) beside the plain
target of the same d and activity.

The cell of a job comes from the target config in the suite's plan.json (d = patch^2 colours,
activity = active[0], the variant from first_layer.correlation and dictionary.kind), not from its
name, and the width from the job's sweep (or its config). A cell without a finished job is drawn
hatched, "not run": a partial run (fsr run --only) draws what it has.
"""
import json
import os
from collections import OrderedDict

import numpy as np

from . import keys, style
from .documents import get_path

# The column part of the level-1 bar (docs/science.md §2; score/recovery.h RecoveryBar):
# one-to-one matched |cos| of M_hat_1 with M_1, mean >= 0.98 and worst >= 0.95.
BAR_MEAN, BAR_MIN = 0.98, 0.95
MEAN_COS = "train.recovery.levels.0.columns.mean_cosine"
MIN_COS = "train.recovery.levels.0.columns.min_cosine"
WIDTH_KEY = "generator.width"


def _plan(root):
    """{target name: target config} and {job id: job config} from ROOT/plan.json ({} if none)."""
    try:
        with open(os.path.join(root, "plan.json")) as f:
            plan = json.load(f)
    except (OSError, ValueError):
        return {}, {}
    targets, configs = {}, {}
    for j in plan.get("jobs") or []:
        if isinstance(j, dict):
            targets[str(j.get("target_name", j.get("target")))] = j.get("target") or {}
            configs[str(j.get("id"))] = j.get("config") or {}
    return targets, configs


def variant_of(t):
    """(d, activity, m, variant label) of a target config; variant None for the plain family
    (independent units, orthonormal dictionary)."""
    try:
        d = int(t["patch"]) ** 2 * int(t["colors"])
        act = float(t["active"][0] if isinstance(t["active"], list) else t["active"])
        m = int(t["channels"][0] if isinstance(t["channels"], list) else t["channels"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    fl, dic = t.get("first_layer") or {}, t.get("dictionary") or {}
    corr, kind = str(fl.get("correlation", "independent")), str(dic.get("kind", "orthonormal"))
    parts = []
    if corr == "latent":
        parts.append(f"latent m0={fl.get('latent_dim')}")
    elif corr != "independent":
        parts.append("correlated (file)")
    if kind == "incoherent":
        parts.append(f"{'overcomplete ' if m > d else 'incoherent '}m={m}, \u03bc\u2264{dic.get('coherence')}")
    elif kind != "orthonormal":
        parts.append(f"dictionary m={m} (file)")
    return d, act, m, (", ".join(parts) or None)


# A run whose generator ended with fewer non-zero columns than the target's m lost a column: the
# scorer matches each missing true column to a zero column at |cos| 0 and lists it in
# columns.missing_columns (score/recovery.h), so the run is scored and below the bar. Outputs
# made before that scoring have the job "failed" with this message instead, and no scores.
MISSING = "train.recovery.levels.0.columns.missing_columns"
LOST_COLUMNS = "non-zero columns, fewer than the target's"


class Cell:
    def __init__(self):
        self.runs = []  # (mean cos, min cos) per finished job; None: no scored model
        self.lost = 0   # runs that ended with fewer non-zero columns than the target's m

    def add(self, mean, mn, lost=False):
        ok = isinstance(mean, (int, float)) and isinstance(mn, (int, float))
        self.runs.append((float(mean), float(mn)) if ok else None)
        self.lost += int(lost)

    def add_lost(self):
        self.runs.append(None)
        self.lost += 1

    @property
    def n(self):
        return len(self.runs)

    @property
    def successes(self):
        return sum(1 for r in self.runs if r and r[0] >= BAR_MEAN and r[1] >= BAR_MIN)

    @property
    def mean_cos(self):
        v = [r[0] for r in self.runs if r]
        return float(np.mean(v)) if v else float("nan")

    @property
    def min_cos(self):
        v = [r[1] for r in self.runs if r]
        return float(np.mean(v)) if v else float("nan")


def cells(doc, root):
    """{(d, activity, variant, m): {width: Cell}} over the summary's finished rows."""
    targets, configs = _plan(root)
    out = OrderedDict()
    for r in doc.get(keys.S_ROWS) or []:
        if not isinstance(r, dict):
            continue
        lost = r.get("status") == "failed" and LOST_COLUMNS in str(r.get("error", ""))
        if r.get("status") != "ok" and not lost:
            continue
        info = variant_of(targets.get(str(r.get("target"))) or {})
        if info is None:
            continue
        d, act, m, var = info
        w = get_path(r.get(keys.S_SWEEP) or {}, WIDTH_KEY)
        if w is None:
            w = get_path(configs.get(str(r.get("id"))) or {}, WIDTH_KEY)
        if not isinstance(w, (int, float)):
            continue
        vals = r.get(keys.S_VALUES) or {}
        c = out.setdefault((d, act, var, m), OrderedDict()).setdefault(float(w), Cell())
        if lost:
            c.add_lost()
        else:
            c.add(vals.get(MEAN_COS), vals.get(MIN_COS), lost=bool(vals.get(MISSING)))
    return out


def _planned(root):
    """(ds, activities, widths, {d: {m}}) the plan holds for the plain family, so that cells not
    run show."""
    targets, configs = _plan(root)
    ds, acts, widths, ms = set(), set(), set(), {}
    for t in targets.values():
        info = variant_of(t)
        if info and info[3] is None:
            ds.add(info[0])
            acts.add(info[1])
            ms.setdefault(info[0], set()).add(info[2])
    for c in configs.values():
        w = get_path(c, WIDTH_KEY)
        if isinstance(w, (int, float)):
            widths.add(float(w))
    return sorted(ds), sorted(acts), sorted(widths), ms


def _cmap():
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list("success", ["#D55E00", "#F0E442", "#009E73"])


def _draw_grid(ax, rows, widths, get, cmap):
    """Heat map: rows (label, key) top to bottom x widths; get(key, width) -> Cell or None."""
    from matplotlib.patches import Rectangle
    for i, (_, key) in enumerate(rows):
        for j, w in enumerate(widths):
            c = get(key, w)
            if c is None or c.n == 0:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white",
                                       edgecolor="0.85", hatch="//////", lw=0.0))
                ax.text(j, i, "not\nrun", ha="center", va="center", fontsize=4.5, color="0.4",
                        bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"))
                continue
            rate = c.successes / c.n
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=cmap(rate),
                                   edgecolor="white", lw=0.8))
            mc = c.mean_cos
            txt = f"{c.successes}/{c.n}\n" + ("\u2014" if np.isnan(mc) else f"{mc:.3f}".lstrip("0"))
            if c.lost:
                txt += f"\n{c.lost} lost"
            ax.text(j, i, txt, ha="center", va="center", fontsize=5, linespacing=1.1,
                    color="black")
    ax.set_xlim(-0.5, len(widths) - 0.5)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xticks(range(len(widths)))
    ax.set_xticklabels([f"{w:g}\u00d7" for w in widths])
    ax.set_yticks(range(len(rows)))
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.tick_params(length=0)


def map_figures(doc, root, outdir, name):
    data = cells(doc, root)
    ds, acts, widths, planned_m = _planned(root)
    for (d, act, var, m), by_w in data.items():
        widths = sorted(set(widths) | set(by_w))
        if var is None:
            ds = sorted(set(ds) | {d})
            acts = sorted(set(acts) | {act})
    if not data or not ds or not widths:
        return []
    cmap = _cmap()
    plain = {(d, act): by_w for (d, act, var, m), by_w in data.items() if var is None}
    fig, axes = style.figure(rows=1, cols=len(ds), height=1.85, sharey=True)
    rows = [(f"{a * 100:g} %", a) for a in sorted(acts)]
    for ax, d in zip(axes, ds):
        _draw_grid(ax, rows, widths, lambda a, w: (plain.get((d, a)) or {}).get(w), cmap)
        ms = sorted({m for (dd, _, var, m) in data if dd == d and var is None}
                    | planned_m.get(d, set()))
        ax.set_title(f"d = {d}" + (f", m = {ms[0]}" if len(ms) == 1 else ""), fontsize=7)
    axes[0].set_yticklabels([lab for lab, _ in rows])
    axes[0].set_ylabel("target activity")
    fig.supxlabel("generator width (\u00d7 the target's m)", fontsize=7)
    files = style.save(fig, outdir, name)
    notes = [f"column bar: one-to-one matched |cos| of M\u0302\u2081 with M\u2081, mean \u2265 "
             f"{BAR_MEAN} and worst \u2265 {BAR_MIN}; cell colour = fraction of seeds at the bar "
             "(red 0, yellow 1/2, green 1); text: successes/seeds and the mean matched |cos| "
             "averaged over the scored seeds; 'k lost': k seeds ended with fewer non-zero columns "
             "than the target's m (each missing true column scored at |cos| 0, so below the bar; "
             "in outputs made before that scoring, not scored)"]
    for (d, act, var, m), by_w in data.items():
        for w, c in sorted(by_w.items()):
            notes.append(f"d = {d}, m = {m}, activity {act * 100:g} %"
                         + (f", {var}" if var else "") + f", width {w:g}: {c.successes}/{c.n} at "
                         f"the column bar, M\u2081 mean {c.mean_cos:.4f} / worst {c.min_cos:.4f} "
                         "(averages over seeds)"
                         + (f"; {c.lost} seed(s) lost a column" if c.lost else ""))
    out = [("Where pure GDA learns level 1: success rate of the column bar per cell of target "
            "activity \u00d7 generator width (relative to the target's m), one panel per patch "
            "dimension d; each cell shows successes/seeds and the mean matched |cos| of "
            "M\u0302\u2081 with M\u2081 (how far it got); hatched: not run", files, notes)]

    # Variants beside the plain target of the same d and activity.
    variants = [(k, by_w) for k, by_w in data.items() if k[2] is not None]
    if variants:
        base = OrderedDict()
        for (d, act, var, m), _ in variants:
            if (d, act) in plain:
                base[(d, act)] = plain[(d, act)]
        vrows, lookup = [], {}
        for (d, act), by_w in base.items():
            key = ("plain", d, act)
            vrows.append((f"d={d}, {act * 100:g} %: orthonormal", key))
            lookup[key] = by_w
        for (d, act, var, m), by_w in variants:
            key = (var, d, act)
            vrows.append((f"d={d}, {act * 100:g} %: {var}", key))
            lookup[key] = by_w
        fig, (ax,) = style.figure(height=0.45 * len(vrows) + 0.55)
        _draw_grid(ax, vrows, widths, lambda k, w: lookup.get(k, {}).get(w), cmap)
        ax.set_yticklabels([lab for lab, _ in vrows], fontsize=6)
        ax.set_xlabel("generator width", fontsize=7)
        files = style.save(fig, outdir, name + "_variants")
        out.append(("Pure GDA on target variants, beside the plain target of the same d and "
                    "activity: correlated first layer (latent Gaussian of dimension m0) and "
                    "incoherent dictionaries (overcomplete: m > d, coherence at most \u03bc); "
                    "cells as in the map", files, []))
    return out
