"""Figures of suite summaries (fsr run / fsr merge; experiments/runner.h): recorded errors
against the number of samples N with fitted log-log slopes, and layer-wise vs random-lower vs
joint per level when the suite sweeps the schedule."""
import re
import textwrap
from collections import OrderedDict

import numpy as np

from . import keys, style
from .documents import get_path
from .fits import loglog_slope

MAX_PANELS = 6


def _ok_rows(doc):
    rows = doc.get(keys.S_ROWS) or []
    return [r for r in rows if isinstance(r, dict) and r.get("status", "ok") == "ok"
            and isinstance(r.get(keys.S_VALUES), dict)]


def _lookup(row, names):
    for n in names:
        for src in (row.get(keys.S_SWEEP) or {}, row.get(keys.S_VALUES) or {}, row):
            v = get_path(src, n)
            if v is not None:
                return v
    return None


def _samples(row):
    v = _lookup(row, keys.S_SAMPLES)
    return float(v) if isinstance(v, (int, float)) else None


def _schedule(row):
    v = _lookup(row, keys.S_SCHEDULE)
    if isinstance(v, str):
        return v
    job = str(row.get("job", ""))
    for s in sorted(keys.SCHEDULES, key=len, reverse=True):
        if s in job:
            return s
    return None


def targets_of(doc):
    """The target names of a summary's finished rows, in order of first appearance."""
    return list(OrderedDict((str(r.get("target")), 1) for r in _ok_rows(doc) if r.get("target")))


def safe_name(text):
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(text))


def only_target(doc, target):
    """A copy of the summary holding only the rows of one target."""
    out = dict(doc)
    out[keys.S_ROWS] = [r for r in doc.get(keys.S_ROWS) or [] if str(r.get("target")) == target]
    return out


def describe(doc):
    parts = [f"suite '{doc.get('suite', '?')}' (size {doc.get('size', '?')})"]
    rows = _ok_rows(doc)
    targets = sorted({str(r.get("target")) for r in rows if r.get("target")})
    seeds = sorted({r.get("seed") for r in rows if r.get("seed") is not None})
    if targets:
        parts.append("target " + ", ".join(targets))
    parts.append(f"{len(rows)} finished jobs, {len(seeds)} seeds")
    return "; ".join(parts)


def _error_keys(rows):
    ks = OrderedDict()
    for r in rows:
        for k, v in r[keys.S_VALUES].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) \
                    and any(m in k for m in keys.S_ERROR_MARKERS):
                ks[k] = True
    return list(ks)


PRETTY = {  # metric (level index removed) -> axis label
    "mean_cosine": "matched |cos| of M\u0302 with M (mean)",
    "min_cosine": "matched |cos| of M\u0302 with M (worst)",
    "distribution.sliced_w1": "sliced W1, generated vs real X_l",
    "distribution.sliced_w2": "sliced W2, generated vs real X_l",
    "columns.mean_cosine": "matched |cos| of M\u0302 with M (mean)",
    "columns.min_cosine": "matched |cos| of M\u0302 with M (worst)",
}


def _pretty(key):
    if key in PRETTY:
        return PRETTY[key]
    m = re.match(r"(?:.*\.)?moment_mismatch\.(\d+)$", key)
    if m:  # per-order entries of a moment-mismatch list: index 0 is order 1
        return f"moment mismatch, order {int(m.group(1)) + 1} (relative)"
    k = key.split(".")[-1]
    k = k.replace("_relative", " (relative)").replace("_abs_error", " (absolute)") \
         .replace("_abs", " (absolute)").replace("_", " ")
    return k.replace("alpha", "\u03b1").replace("beta", "\u03b2").replace("rho", "\u03c1")


def error_vs_n_figures(doc, outdir, name):
    """One figure per recorded error (up to MAX_PANELS): the error against N, per job, seeds as
    dots, the median line, the log-log fit (dashed) and an N^(-1/2) reference (dotted). Returns
    ([(metric, files)], fits) with fits = [{metric, series, slope, intercept, lo, hi}]."""
    rows = [r for r in _ok_rows(doc) if _samples(r) is not None]
    if len({_samples(r) for r in rows}) < 2:
        return [], []
    ekeys = _error_keys(rows)[:MAX_PANELS]
    groups = OrderedDict()
    for r in rows:
        groups.setdefault((str(r.get("target", "")), str(r.get("job", ""))), []).append(r)
    multi_target = len({g[0] for g in groups}) > 1
    figures, fits = [], []
    for ei, ek in enumerate(ekeys):
        fig, (ax,) = style.figure()
        anchor = None
        for gi, ((target, job), rs) in enumerate(groups.items()):
            pts = [(_samples(r), r[keys.S_VALUES].get(ek)) for r in rs]
            pts = [(n, v) for n, v in pts if isinstance(v, (int, float)) and v is not None]
            if not pts:
                continue
            col = style.series(gi)
            n_all = np.array([p[0] for p in pts])
            v_all = np.array([p[1] for p in pts], float)
            ns = np.unique(n_all)
            med = np.array([np.median(v_all[n_all == n]) for n in ns])
            label = f"{target}/{job}" if multi_target else job
            ax.scatter(n_all, v_all, s=5, color=col, alpha=0.35, lw=0)
            ax.plot(ns, med, color=col, marker=style.MARKERS[gi % len(style.MARKERS)], lw=0.9,
                    label=label)
            fit = loglog_slope(n_all, v_all)
            if fit:
                xx = np.geomspace(ns.min(), ns.max(), 20)
                ax.plot(xx, np.exp(fit["intercept"]) * xx ** fit["slope"], color=col, ls="--",
                        lw=0.9)
                fits.append({"metric": ek, "series": label, **fit})
            if anchor is None and med[0] > 0:
                anchor = (ns[0], med[0], ns[-1])
        if anchor:
            xx = np.geomspace(anchor[0], anchor[2], 20)
            ax.plot(xx, anchor[1] * (xx / anchor[0]) ** -0.5, color=style.ROLE["reference"],
                    ls=":", lw=1.0, label=r"$N^{-1/2}$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("samples N")
        ax.set_ylabel(_pretty(ek))
        style.label_log_minor(ax)
        style.legend(ax, loc="lower left")
        slug = re.sub(r"[^A-Za-z0-9]+", "_", ek).strip("_")
        figures.append((ek, style.save(fig, outdir, f"{name}_{slug}")))
    return figures, fits


_LEVEL_RE = re.compile(r"(?:^|\.)(?:levels|recovery|moment_mismatch|level)\.(\d+)(?=\.|$)")


def _split_level(key):
    """'levels.1.distribution.sliced_w1' -> (2, 'distribution.sliced_w1'); no index -> (None, key)."""
    m = _LEVEL_RE.search(key)
    if not m:
        return None, key
    rest = (key[:m.start()] + key[m.end():]).strip(".")
    rest = re.sub(r"levels?\.", "", rest)
    return int(m.group(1)) + 1, rest or key


def schedule_metrics(doc):
    """{metric: {level: {schedule: [values over seeds]}}} of a suite that sweeps the schedule."""
    rows = [r for r in _ok_rows(doc) if _schedule(r)]
    scheds = list(OrderedDict((_schedule(r), 1) for r in rows))
    metrics = OrderedDict()
    for r in rows:
        for k, v in r[keys.S_VALUES].items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or k in keys.S_SAMPLES:
                continue
            lvl, met = _split_level(k)
            metrics.setdefault(met, {}).setdefault(lvl, {}).setdefault(_schedule(r), []).append(v)
    return scheds, metrics


def schedule_bars(ax, scheds, per_level, floors=None):
    """Grouped bars: one group per level, one bar per schedule (mean, sd over seeds as error bar),
    the noise floor of each level as a black tick when given ({level: value})."""
    levels = sorted(per_level, key=lambda x: -1 if x is None else x)
    w = 0.8 / len(scheds)
    for si, s in enumerate(scheds):
        means, sds = [], []
        for lvl in levels:
            vals = np.asarray(per_level[lvl].get(s, []), float)
            means.append(np.mean(vals) if len(vals) else np.nan)
            sds.append(np.std(vals) if len(vals) > 1 else 0.0)
        x = np.arange(len(levels)) + (si - (len(scheds) - 1) / 2) * w
        ax.bar(x, means, w, yerr=sds if any(sds) else None, color=style.series(si),
               label=s.replace("_", "-"))
    if floors:
        for li, lvl in enumerate(levels):
            f = floors.get(lvl)
            if f is not None and np.isfinite(f):
                ax.plot([li - 0.45, li + 0.45], [f, f], color="black", lw=1.0,
                        label="noise floor" if li == 0 else None)
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels(["all" if l is None else f"level {l}" for l in levels])
    ax.grid(axis="x", visible=False)
    return levels


def _level_floors(metrics, met):
    """{level: mean over schedules and seeds} of the recorded `<met>_floor`, or None."""
    floor = metrics.get(met + "_floor")
    if not floor:
        return None
    return {lvl: float(np.mean([v for vals in per.values() for v in vals]))
            for lvl, per in floor.items()}


def schedule_panels(metrics, most=3):
    """[(metric, {level: floor} or None)] for the panels of schedules_figure: the metrics recorded
    with a `<metric>_floor` first, then the others, each group in record order; at most `most`."""
    mets = [m for m in metrics if not m.endswith("_floor")]
    mets = sorted(mets, key=lambda m: (m + "_floor" not in metrics, mets.index(m)))[:most]
    return [(m, _level_floors(metrics, m)) for m in mets]


def schedules_figure(doc, outdir, name):
    """Suites that sweep the schedule (other than the paper's Fig. 10 suite, drawn by paper.py):
    up to three recorded metrics, one stacked panel each, grouped by level — first those recorded
    with a noise floor (drawn as a black tick per level: what two samples of the target itself
    score), then the others in record order. The metric names, wrapped, label the y axes."""
    scheds, metrics = schedule_metrics(doc)
    if len(scheds) < 2:
        return None
    panels = schedule_panels(metrics)
    if not panels:
        return None
    fig, axes = style.figure(rows=len(panels), sharex=False)
    for ax, (met, floors) in zip(axes, panels):
        schedule_bars(ax, scheds, metrics[met], floors=floors)
        ax.set_ylabel(textwrap.fill(_pretty(met), 18), fontsize=7)
        if any(m in met for m in ("sliced_w", "moment", "error", "relative")):
            ax.set_yscale("log")
    style.figure_legend(fig, axes[0], ncol=2)
    return style.save(fig, outdir, name)
