"""The synthetic counterparts of the paper's figures (docs/science.md §5), each drawn from the
output directory of its suite (summary.json and, for trajectories, the jobs' metrics.jsonl):

  hidden_layer_sparsity  fig5_sparsity    per-patch histograms of active channels, target vs
                                          learned, mean over seeds with the seeds' range
  moment_trajectories    fig6_moments_*   moment mismatch over training per job, with noise floor
  feature_alignment      fig7_alignment   matched |cos| of D's decoder V and G's M_hat with M
                                          against training length (or over one run's logged
                                          steps), with the chance level of V per job
  locality               fig9_locality    patch vs whole-image discriminator: W_2 and functional
                                          errors, level-2 sliced Wasserstein with its floor
  schedules              fig10_schedules  layer-wise vs random-lower vs joint vs fine-tune per
                                          level: sliced Wasserstein and moment mismatch, floors
  gda_phase_diagram      gda_phase_map    where pure GDA learns level 1: column-bar success per
                                          activity x generator width, one panel per d, with the
                                          mean matched |cos| per cell (fsrplot/phase.py); and
                                          gda_phase_map_variants for correlated / overcomplete

FIGURES maps a suite name to its drawer; each drawer returns [(caption, files, notes)].
"""
import json
import os
from collections import OrderedDict

import numpy as np

from . import keys, phase, style, training
from .documents import get_path, load_jsonl
from .suites import _ok_rows, schedule_bars, schedule_metrics


def _level_values(rows, pattern):
    """{level: [value per row]} of recorded paths 'analysis.levels.<i>.<pattern>'."""
    out = OrderedDict()
    for r in rows:
        for k, v in r[keys.S_VALUES].items():
            if k.startswith("analysis.levels.") and k.endswith("." + pattern):
                lvl = int(k.split(".")[2]) + 1
                out.setdefault(lvl, []).append(v)
    return out


# ---- Fig. 5: sparsity ---------------------------------------------------------------------------
def fig5(doc, root, outdir, name):
    from .analysis import histogram_panel
    rows = _ok_rows(doc)
    target = _level_values(rows, "activity.target.active_count_histogram")
    learned = _level_values(rows, "activity.learned.active_count_histogram")
    ks = _level_values(rows, "activity.k")
    levels = [l for l in target if target[l] and all(isinstance(h, list) for h in target[l])]
    if not levels:
        return []
    fig, axes = style.figure(rows=len(levels), sharex=False)
    notes = []
    for ax, l in zip(axes, levels):
        hists, spread = [], []
        for lab, src, col in (("target", target, style.ROLE["target"]),
                              ("learned", learned, style.ROLE["learned"])):
            hs = [np.asarray(h, float) for h in src.get(l, []) if isinstance(h, list)]
            if not hs:
                continue
            n = max(len(h) for h in hs)
            a = np.array([np.pad(h, (0, n - len(h))) for h in hs])
            hists.append((a.mean(0), lab, col))
            spread.append((a.min(0), a.max(0)) if len(hs) > 1 else None)
            mean_count = float(np.mean([np.dot(np.arange(len(h)), h) for h in hs]))
            notes.append(f"level {l}, {lab}: mean active channels per patch {mean_count:.3f} "
                         f"over {len(hs)} seed(s)")
        k = ks.get(l, [None])[0]
        histogram_panel(ax, hists, k, spread=spread)
        style.tag(ax, f"level {l}")
    style.legend(axes[0], loc="upper right")
    axes[-1].set_xlabel("active channels in a patch")
    files = style.save(fig, outdir, name)
    return [("Per-patch sparsity of the hidden layers, target vs learned (the paper's Fig. 5): "
             "fraction of patches with j active channels, mean over seeds (error bars: range "
             "over seeds); dashed: k", files, notes)]


# ---- Fig. 6: moments over training --------------------------------------------------------------
def _job_dirs(doc, root):
    for r in _ok_rows(doc):
        d = os.path.join(root, "jobs", str(r.get("id")))
        if os.path.isdir(d):
            yield r, d


def fig6(doc, root, outdir, name):
    out = []
    for r, d in _job_dirs(doc, root):
        metrics = os.path.join(d, "run", keys.METRICS_FILES[0])
        if not os.path.isfile(metrics):
            continue
        config = _load(os.path.join(d, "run", "config.json"))
        result = _load(os.path.join(d, "run", "result.json"))
        job = str(r.get("job"))
        files = training.moments_figure(metrics, load_jsonl(metrics), result, config, outdir,
                                        f"{name}_{job}")
        if files:
            _, note = training.noise_floor(metrics, config)
            out.append((f"Moment mismatch of patches over training, job {job} (the paper's "
                        "Fig. 6): orders 1..4 per level; dashed: the noise floor of each order; "
                        "dotted verticals: stage changes", files,
                        [f"job {r.get('id')}"] + ([note] if note else [])))
    return out


def _load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# ---- Fig. 7: feature alignment ------------------------------------------------------------------
def _hungarian_max(c):
    """Maximum-weight one-to-one assignment of the rows of c (n <= m columns); returns the total.
    Shortest augmenting paths with potentials (the method of theory/match_columns.h)."""
    n, m = c.shape
    cost = -c
    inf = float("inf")
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    p, way = np.zeros(m + 1, int), np.zeros(m + 1, int)
    for i in range(1, n + 1):
        p[0], j0 = i, 0
        minv, used = np.full(m + 1, inf), np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            cur = cost[i0 - 1] - u[i0] - v[1:]
            free = ~used[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            cand = np.where(free, minv[1:], inf)
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            u[p[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    return sum(c[p[j] - 1, j - 1] for j in range(1, m + 1) if p[j])


def chance_alignment(d, m, units, draws=400, seed=0):
    """Mean matched |cos| of `units` random unit decoders against m orthonormal columns in
    dimension d, by an exact assignment (columns to decoders when m <= units): (mean, 5 %, 95 %)
    over `draws` seeded draws. Random directions are rotation invariant, so the columns can be
    the first m coordinate axes."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(draws):
        v = rng.standard_normal((units, d))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        c = np.abs(v[:, :m].T)  # m x units: |cos| of column i with decoder j
        vals.append(_hungarian_max(c if m <= units else c.T) / min(m, units))
    vals = np.asarray(vals)
    return float(vals.mean()), float(np.quantile(vals, 0.05)), float(np.quantile(vals, 0.95))


def _v_chance(d):
    """The chance level of a job's decoder V_1 against its target's M_1 (job directory d), or
    None: chance_alignment with V's own unit count, when both arrays are there and the target's
    columns fit in d (the chance level assumes orthonormal columns)."""
    try:
        V = np.load(os.path.join(d, "run", "V_1.npy"), mmap_mode="r")
        M = np.load(os.path.join(d, "target", "M_1.npy"), mmap_mode="r")
    except (OSError, ValueError):
        return None
    if V.ndim != 2 or M.ndim != 2 or V.shape[0] != M.shape[0] or M.shape[1] > M.shape[0]:
        return None
    return (M.shape[0], M.shape[1], V.shape[1]), chance_alignment(M.shape[0], M.shape[1], V.shape[1])


FIG7_SWEEP = (("analysis.levels.0.decoder.vs_target.mean_cosine", r"D: $V$ vs $M$", "decoder"),
              ("analysis.levels.0.decoder.vs_learned.mean_cosine", r"$V$ vs $\hat{M}$", "target"),
              ("analysis.levels.0.columns.mean_cosine", r"G: $\hat{M}$ vs $M$", "learned"))
# The same three series over one run, from its metrics.jsonl (level 1).
FIG7_TRAJECTORY = ((keys.M_V_COSINE, "decoder"), (keys.M_V_HAT_COSINE, "target"),
                   (keys.M_RECOVERY, "learned"))


def _trajectory(d):
    """{series key: (steps, level-1 mean matched |cos|)} of one job's run/metrics.jsonl."""
    path = os.path.join(d, "run", keys.METRICS_FILES[0])
    if not os.path.isfile(path):
        return {}
    out = {}
    for key, _ in FIG7_TRAJECTORY:
        steps, vals = training._per_level(load_jsonl(path), key,
                                          lambda e: e.get(keys.M_MEAN_COS)).get(1, ([], []))
        pairs = [(s, v) for s, v in zip(steps, vals) if isinstance(v, (int, float))]
        if pairs:
            out[key] = pairs
    return out


def fig7(doc, root, outdir, name):
    """One panel per job. A job with a sweep of schedule.steps is drawn against training length
    (one point per length, mean over seeds, from the summary); a job without one is drawn over
    its runs' logged metrics (mean over seeds at each logged step), so a learner whose schedule
    depends on its length (cosine step size, a prune at a fraction of the run) shows its one
    trajectory. Grey: the chance level of V for that job's decoder count."""
    rows = _ok_rows(doc)
    if not rows:
        return []
    swept = lambda r: isinstance(get_path(r.get("sweep") or {}, "schedule.steps"), (int, float))
    jobs = list(OrderedDict((str(r.get("job")), 1) for r in rows))
    chances, trajectories, notes = {}, {}, []
    for r, d in _job_dirs(doc, root):
        job = str(r.get("job"))
        if job not in chances:
            c = _v_chance(d)
            if c:
                chances[job] = c[1]
                (dd, m, units), (mean, lo, hi) = c
                notes.append(f"{job}: chance level of V vs M: {units} random unit decoders against "
                             f"{m} orthonormal columns in d = {dd}: mean {mean:.3f}, 5-95 % "
                             f"[{lo:.3f}, {hi:.3f}] (400 seeded draws; grey band)")
        if not swept(r):
            t = _trajectory(d)
            if t:
                trajectories.setdefault(job, []).append((r, t))
    jobs = [j for j in jobs if j in trajectories or any(swept(r) and str(r.get("job")) == j
                                                         for r in rows)]
    if not jobs:
        return []
    fig, axes = style.figure(rows=len(jobs), sharex=False)
    for ax, job in zip(axes, jobs):
        if job in chances:
            ax.axhspan(chances[job][1], chances[job][2], color="0.85", lw=0, zorder=0)
            ax.axhline(chances[job][0], color="0.6", lw=0.6, zorder=0)
        if job in trajectories:
            _fig7_trajectory(ax, job, trajectories[job], notes)
        else:
            _fig7_sweep(ax, [r for r in rows if swept(r) and str(r.get("job")) == job], notes)
        ax.set_ylim(0, 1.04)
        ax.set_ylabel("matched |cos|")
        style.tag(ax, job.replace("_", " "), loc="lower left")
    style.figure_legend(fig, axes[0], ncol=3)
    axes[-1].set_xlabel("training steps")
    files = style.save(fig, outdir, name)
    return [("Feature alignment against training length (the paper's Fig. 7): mean matched "
             "|cos| of the discriminator's decoder V with the target's columns M (D) and with "
             "the generator's columns (V vs M\u0302), and of the generator's M\u0302 with M (G); "
             "a job swept over training length has one point per length, a job without a sweep "
             "its logged trajectory (mean over seeds)", files, notes)]


def _fig7_sweep(ax, rs, notes):
    rs = sorted(rs, key=lambda r: get_path(r["sweep"], "schedule.steps"))
    steps = sorted({get_path(r["sweep"], "schedule.steps") for r in rs})
    for key, lab, role in FIG7_SWEEP:
        xs, ys = [], []
        for t in steps:
            v = [r[keys.S_VALUES].get(key) for r in rs if get_path(r["sweep"], "schedule.steps") == t]
            v = [x for x in v if isinstance(x, (int, float))]
            if v:
                xs.append(t)
                ys.append(float(np.mean(v)))
        if xs:
            ax.plot(xs, ys, color=style.ROLE[role], marker="o", label=lab)
    if len(steps) > 1:
        ax.set_xscale("log")
        style.ticks_at(ax, steps)
    for r in rs:
        vals = ", ".join(f"{lab.split(':')[0] if ':' in lab else 'V vs M-hat'} "
                         f"{r[keys.S_VALUES].get(k, float('nan')):.3f}"
                         for k, lab, _ in FIG7_SWEEP if isinstance(r[keys.S_VALUES].get(k), (int, float)))
        notes.append(f"{r.get('job')}, {get_path(r['sweep'], 'schedule.steps')} steps, seed "
                     f"{r.get('seed')}: {vals}")


def _fig7_trajectory(ax, job, runs, notes):
    labels = {key: lab for (key, role), (_, lab, _) in zip(FIG7_TRAJECTORY, FIG7_SWEEP)}
    for key, role in FIG7_TRAJECTORY:
        per_step = OrderedDict()
        for _, t in runs:
            for s, v in t.get(key, []):
                per_step.setdefault(s, []).append(v)
        if not per_step:
            continue
        xs = sorted(per_step)
        ys = [float(np.mean(per_step[s])) for s in xs]
        ax.plot(xs, ys, color=style.ROLE[role], label=labels[key])
        ends = ", ".join(f"seed {r.get('seed')} {t[key][-1][1]:.3f}" for r, t in runs if t.get(key))
        best = max(max(v for _, v in t[key]) for _, t in runs if t.get(key))
        peak = int(np.argmax(ys))
        plain = labels[key].replace("$", "").replace("\\hat{M}", "M\u0302")
        notes.append(f"{job}, {plain}: mean over {len(runs)} seed(s) {ys[0]:.3f} at step "
                     f"{xs[0]}, largest {ys[peak]:.3f} at step {xs[peak]}, {ys[-1]:.3f} at step "
                     f"{xs[-1]}; at the end {ends}; largest logged value of any seed {best:.3f}")


# ---- Fig. 9: locality ---------------------------------------------------------------------------
LOCALITY_SWEEP = "discriminator.quadratic"
LOCALITY_LABEL = {"diag": "patches", "full": "whole image", "none": "no quadratic"}


def fig9(doc, root, outdir, name):
    rows = [r for r in _ok_rows(doc) if get_path(r.get("sweep") or {}, LOCALITY_SWEEP)]
    if not rows:
        return []
    kinds = list(OrderedDict((get_path(r["sweep"], LOCALITY_SWEEP), 1) for r in rows))
    errs = (("analysis.levels.1.super_resolution.functional_error", "functional"),
            ("train.recovery.levels.1.super_resolution.w_identified_relative", "$W_2$ identified"),
            ("train.recovery.levels.1.super_resolution.w_relative", "$W_2$ all"))
    errs = [e for e in errs if any(isinstance(r[keys.S_VALUES].get(e[0]), (int, float)) for r in rows)]
    fig, (ax, ax2) = style.figure(rows=2, sharex=False, height=3.4)
    w = 0.8 / len(kinds)
    notes = []
    for ki, kind in enumerate(kinds):
        rs = [r for r in rows if get_path(r["sweep"], LOCALITY_SWEEP) == kind]
        lab = LOCALITY_LABEL.get(kind, kind)
        means = []
        for key, _ in errs:
            v = [r[keys.S_VALUES].get(key) for r in rs]
            means.append(np.mean([x for x in v if isinstance(x, (int, float))] or [np.nan]))
        ax.bar(np.arange(len(errs)) + (ki - (len(kinds) - 1) / 2) * w, means, w,
               color=style.series(ki), label=f"D sees {lab}")
        sw = [r[keys.S_VALUES].get("analysis.levels.1.distribution.sliced_w1") for r in rs]
        fl = [r[keys.S_VALUES].get("analysis.levels.1.distribution.sliced_w1_floor") for r in rs]
        sw = [x for x in sw if isinstance(x, (int, float))]
        fl = [x for x in fl if isinstance(x, (int, float))]
        if sw:
            ax2.bar(ki, np.mean(sw), 0.6, color=style.series(ki))
        if fl:
            ax2.plot([ki - 0.35, ki + 0.35], [np.mean(fl)] * 2, color="black", lw=1.0,
                     label="noise floor" if ki == 0 else None)
        notes.append(f"{lab} ({LOCALITY_SWEEP} = {kind}, {len(rs)} seed(s)): "
                     + ", ".join(f"{n.replace('$', '').replace('_', '')} {m:.4f}"
                                 for (_, n), m in zip(errs, means))
                     + (f", level-2 SW1 {np.mean(sw):.5f} (floor {np.mean(fl):.5f})" if sw and fl else ""))
    ax.set_xticks(range(len(errs)))
    ax.set_xticklabels([n for _, n in errs])
    ax.set_ylabel("relative error, level 2")
    ax.grid(axis="x", visible=False)
    style.legend(ax, loc="upper left")
    ax2.set_xticks(range(len(kinds)))
    ax2.set_xticklabels([f"D sees {LOCALITY_LABEL.get(k, k)}" for k in kinds])
    ax2.set_ylabel("level-2 sliced W$_1$")
    ax2.grid(axis="x", visible=False)
    lo, hi = ax2.get_ylim()
    ax2.set_ylim(0, hi * 1.25)
    style.legend(ax2, loc="upper right")
    files = style.save(fig, outdir, name)
    return [("Locality of super-resolution (the paper's Fig. 9): the level-2 stage trained against "
             "a discriminator that sees patches vs one that sees whole images; top: functional "
             "and W\u2082 errors (identified entries, all entries); bottom: level-2 sliced "
             "Wasserstein with its noise floor", files, notes)]


# ---- Fig. 10: schedules -------------------------------------------------------------------------
def fig10(doc, root, outdir, name):
    scheds, metrics = schedule_metrics(doc)
    if len(scheds) < 2:
        return []
    panels = []

    def key(suffix):  # the recorded metric ending in suffix ("analysis.distribution.sliced_w1")
        return next((m for m in metrics if m == suffix or m.endswith("." + suffix)), None)
    for suffix, floor_suffix, label in (("distribution.sliced_w1", "distribution.sliced_w1_floor",
                                         "sliced W$_1$"),
                                        ("distribution.moment_mismatch.1", None,
                                         "moment mismatch, order 2")):
        met, floor_met = key(suffix), key(floor_suffix) if floor_suffix else None
        if met:
            floors = None
            if floor_met:
                floors = {l: float(np.mean([v for vs in d.values() for v in vs]))
                          for l, d in metrics[floor_met].items()}
            elif "moment_mismatch." in met:
                floors = _moment_floors(doc, int(met.rsplit(".", 1)[1]))
            panels.append((met, label, floors))
    if not panels:
        return []
    fig, axes = style.figure(rows=len(panels), sharex=False, height=1.5 * len(panels) + 0.5)
    notes = []
    for ax, (met, label, floors) in zip(axes, panels):
        levels = schedule_bars(ax, scheds, metrics[met], floors)
        ax.set_yscale("log")
        ax.set_ylabel(label)
        style.label_log_minor(ax)
        for s in scheds:
            notes.append(f"{label.replace('$', '').replace('_', '')}, {s}: "
                         + ", ".join(f"level {l} {np.mean(metrics[met][l].get(s, [np.nan])):.4g}"
                                     for l in levels)
                         + (" (floors " + ", ".join(f"{floors[l]:.4g}" for l in levels
                                                     if l in floors) + ")" if floors and s == scheds[0] else ""))
    style.figure_legend(fig, axes[0], ncol=3)
    files = style.save(fig, outdir, name)
    return [("Training schedules compared per level (the paper's Fig. 10; with backward feature "
             "correction as layer-wise + fine-tune): distance of generated to real images, mean "
             "over seeds; black: the noise floor of two target batches", files, notes)]


def _moment_floors(doc, k):
    """{level: floor of moment order k+1} from the recorded moment_mismatch_floor lists."""
    out = {}
    for r in _ok_rows(doc):
        for key, v in r[keys.S_VALUES].items():
            if key.endswith("distribution.moment_mismatch_floor") and isinstance(v, list) \
                    and len(v) > k and key.startswith("analysis.levels."):
                out.setdefault(int(key.split(".")[2]) + 1, []).append(v[k])
    return {l: float(np.mean(v)) for l, v in out.items()}


FIGURES = OrderedDict([
    ("hidden_layer_sparsity", ("fig5_sparsity", fig5)),
    ("moment_trajectories", ("fig6_moments", fig6)),
    ("feature_alignment", ("fig7_alignment", fig7)),
    ("locality", ("fig9_locality", fig9)),
    ("schedules", ("fig10_schedules", fig10)),
    ("gda_phase_diagram", ("gda_phase_map", phase.map_figures)),
])


def draw(doc, summary_path, outdir):
    """The paper-figure counterparts of a suite summary, or [] for other suites."""
    entry = FIGURES.get(str(doc.get("suite")))
    if not entry:
        return []
    name, fn = entry
    return fn(doc, os.path.dirname(os.path.abspath(summary_path)), outdir, name)


def handles(doc):
    return str(doc.get("suite")) in FIGURES

