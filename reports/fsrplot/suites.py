"""Figures of suite summaries (fsr run / fsr merge; experiments/runner.h): recorded errors
against the number of samples N with fitted log-log slopes, and layer-wise vs random-lower vs
joint per level when the suite sweeps the schedule."""
import re
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


def error_vs_n_figure(doc, outdir, name):
    rows = [r for r in _ok_rows(doc) if _samples(r) is not None]
    if len({_samples(r) for r in rows}) < 2:
        return None, []
    ekeys = _error_keys(rows)[:MAX_PANELS]
    if not ekeys:
        return None, []
    groups = OrderedDict()
    for r in rows:
        groups.setdefault((str(r.get("target", "")), str(r.get("job", ""))), []).append(r)
    multi_target = len({g[0] for g in groups}) > 1
    fig, axes = style.panels(len(ekeys), ncols=min(3, len(ekeys)))
    fits = []
    for ax, ek in zip(axes, ekeys):
        anchor = None
        for gi, ((target, job), rs) in enumerate(groups.items()):
            pts = [(_samples(r), r[keys.S_VALUES].get(ek)) for r in rs]
            pts = [(n, v) for n, v in pts if isinstance(v, (int, float)) and v is not None]
            if not pts:
                continue
            col = style.COLORS[gi % len(style.COLORS)]
            n_all = np.array([p[0] for p in pts])
            v_all = np.array([p[1] for p in pts], float)
            ns = np.unique(n_all)
            med = np.array([np.median(v_all[n_all == n]) for n in ns])
            lo = np.array([np.min(v_all[n_all == n]) for n in ns])
            hi = np.array([np.max(v_all[n_all == n]) for n in ns])
            label = f"{target}/{job}" if multi_target else job
            ax.scatter(n_all, v_all, s=8, color=col, alpha=0.35, lw=0)
            ax.fill_between(ns, lo, hi, color=col, alpha=0.12, lw=0)
            ax.plot(ns, med, color=col, marker=style.MARKERS[gi % len(style.MARKERS)], lw=1.0)
            fit = loglog_slope(n_all, v_all)
            if fit:
                xx = np.geomspace(ns.min(), ns.max(), 20)
                ax.plot(xx, np.exp(fit["intercept"]) * xx ** fit["slope"], color=col, ls="--", lw=1.2,
                        label=f"{label}: slope {fit['slope']:.2f} [{fit['lo']:.2f}, {fit['hi']:.2f}]")
                fits.append({"metric": ek, "series": label, **fit})
            else:
                ax.plot([], [], color=col, label=label)
            if anchor is None and med[0] > 0:
                anchor = (ns[0], med[0], ns[-1])
        if anchor:
            xx = np.geomspace(anchor[0], anchor[2], 20)
            ax.plot(xx, anchor[1] * (xx / anchor[0]) ** -0.5, color=style.ROLE["reference"], ls=":",
                    lw=1.2, label="reference N^(-1/2)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training samples N")
        ax.set_ylabel(_pretty(ek))
        ax.set_title(ek)
        ax.legend(loc="lower left", fontsize=7)
    style.title(fig, "Recovery error against the number of samples (median, range over seeds; "
                "dashed: log-log fit with 95% bootstrap interval)", describe(doc))
    return style.save(fig, outdir, name), fits


_LEVEL_RE = re.compile(r"(?:^|\.)(?:levels|recovery|moment_mismatch|level)\.(\d+)(?=\.|$)")


def _split_level(key):
    """'levels.1.distribution.sliced_w1' -> (2, 'distribution.sliced_w1'); no index -> (None, key)."""
    m = _LEVEL_RE.search(key)
    if not m:
        return None, key
    rest = (key[:m.start()] + key[m.end():]).strip(".")
    rest = re.sub(r"levels?\.", "", rest)
    return int(m.group(1)) + 1, rest or key


def schedules_figure(doc, outdir, name):
    rows = [r for r in _ok_rows(doc) if _schedule(r)]
    scheds = list(OrderedDict((_schedule(r), 1) for r in rows))
    if len(scheds) < 2:
        return None
    metrics = OrderedDict()  # metric -> {level: {sched: [values]}}
    for r in rows:
        for k, v in r[keys.S_VALUES].items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or k in keys.S_SAMPLES:
                continue
            lvl, met = _split_level(k)
            metrics.setdefault(met, {}).setdefault(lvl, {}).setdefault(_schedule(r), []).append(v)
    mets = list(metrics)[:MAX_PANELS]
    if not mets:
        return None
    fig, axes = style.panels(len(mets), ncols=min(3, len(mets)))
    w = 0.8 / len(scheds)
    for ax, met in zip(axes, mets):
        levels = sorted(metrics[met], key=lambda x: -1 if x is None else x)
        for si, s in enumerate(scheds):
            means, sds = [], []
            for lvl in levels:
                vals = np.asarray(metrics[met][lvl].get(s, []), float)
                means.append(np.mean(vals) if len(vals) else np.nan)
                sds.append(np.std(vals) if len(vals) > 1 else 0.0)
            x = np.arange(len(levels)) + (si - (len(scheds) - 1) / 2) * w
            ax.bar(x, means, w, yerr=sds, capsize=2, color=style.COLORS[si % len(style.COLORS)],
                   label=s.replace("_", "-"))
        ax.set_xticks(range(len(levels)))
        ax.set_xticklabels(["all" if l is None else f"level {l}" for l in levels])
        ax.set_ylabel(_pretty(met))
        ax.set_title(_pretty(met), fontsize="small")
        if any(m in met for m in ("sliced_w", "moment", "error", "relative")):
            ax.set_yscale("log")
    style.title(fig, "Training schedules compared per level (mean \u00b1 sd over seeds)", describe(doc))
    fig.tight_layout(rect=(0, 0, 1, 0.84))
    style.shared_legend(fig, axes[0])
    return style.save(fig, outdir, name, tight=False)
