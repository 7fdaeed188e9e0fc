"""Figures of sample-complexity documents (kind "sample-complexity", written by `fsr complexity`:
experiments/sample_complexity.h, format in docs/sample_complexity.md).

  nstar_figure:      per job, log-log N* against d (one series per eps) and against 1/eps (one per
                     point), the fitted polynomial model (solid) with its exponent interval (band),
                     the exponential model (dashed), the reference bounds of the job (grey, scaled
                     by their median N*/bound), censored rows open, and the job's own verdict.
  error_vs_n_figure: per job, recovery error against N at each fixed d (trials, median over seeds,
                     fitted slope over N >= curve.min_samples, the eps levels, the expected slope),
                     and one panel with every point's fitted slope and interval (verdict error_slope).

Everything is read by its real key (keys.py); rows are matched to (job, point, eps) by the fields
each row carries, never by position."""
import math
from collections import OrderedDict

import numpy as np

from . import keys, style


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _interval(v):
    if isinstance(v, dict):
        lo, hi = v.get("lo"), v.get("hi")
    elif isinstance(v, (list, tuple)) and len(v) == 2:
        lo, hi = v
    else:
        return None
    return (float(lo), float(hi)) if _num(lo) and _num(hi) else None


def _eps_key(e):
    return float(f"{float(e):.12g}")


DIMENSION_LABEL = {
    "patch_dim": "patch dimension d = r\u00b2c (pixels \u00d7 colours)",
    "channels": "channels d = m\u2081 (units)",
    "first_layer_units": "first-layer units d = h\u2081\u00b2m\u2081",
}


# ---- reading ------------------------------------------------------------------------------------

def read(doc):
    """The document as plain tables: suite settings, points and jobs in suite order, N* rows keyed
    by (job, point, eps), fits and verdicts per job, curves keyed by (job, point), trials."""
    suite = doc.get(keys.SC_SUITE)
    if not isinstance(suite, dict):
        suite = ((doc.get("manifest") or {}).get("config")) or {}
    search = suite.get(keys.SC_SEARCH) or {}
    points = OrderedDict()
    for p in suite.get(keys.SC_POINTS) or []:
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            points[p["name"]] = p
    jobs = [j["name"] for j in suite.get(keys.SC_JOBS) or []
            if isinstance(j, dict) and isinstance(j.get("name"), str)]

    rows = OrderedDict()
    for r in doc.get(keys.SC_NSTAR) or []:
        if not (isinstance(r, dict) and isinstance(r.get("job"), str) and _num(r.get("eps"))):
            continue
        pt = r.get("point")
        d = r.get("d") if _num(r.get("d")) else (points.get(pt) or {}).get("d")
        if not _num(d):
            continue
        row = dict(r, d=float(d), eps=float(r["eps"]))
        rows[(r["job"], pt, _eps_key(r["eps"]))] = row
        if r["job"] not in jobs:
            jobs.append(r["job"])
        if pt not in points:
            points[pt] = {"name": pt, "d": float(d)}

    eps = [float(e) for e in suite.get("eps") or [] if _num(e)]
    for (_, _, e) in rows:
        if e not in [_eps_key(x) for x in eps]:
            eps.append(e)
    eps = sorted(set(_eps_key(e) for e in eps), reverse=True)

    fits = {j: f for j, f in (doc.get(keys.SC_FITS) or {}).items() if isinstance(f, dict)}
    verdicts = {}
    for j in jobs:
        v = (doc.get(keys.SC_VERDICT) or {}).get(j)
        if not isinstance(v, dict):
            v = (fits.get(j) or {}).get("verdict")
        if isinstance(v, dict):
            verdicts[j] = v

    curves = OrderedDict()
    for c in doc.get(keys.SC_CURVES) or []:
        if isinstance(c, dict) and isinstance(c.get("job"), str):
            curves[(c["job"], c.get("point"))] = c

    trials = [t for t in doc.get(keys.SC_TRIALS) or []
              if isinstance(t, dict) and _num(t.get("n")) and _num(t.get("error"))
              and t["error"] > 0 and t.get("status", "ok") == "ok"]
    seeds = suite.get(keys.SC_SEEDS) or []
    return {"suite": suite, "search": search, "points": points, "jobs": jobs, "eps": eps,
            "rows": rows, "fits": fits, "verdicts": verdicts, "curves": curves, "trials": trials,
            "n_seeds": len(seeds) if isinstance(seeds, list) else None}


def nstar_points(data, job):
    """Markers of one job by status: {status: [(point, d, eps, n)]}. reached and at_minimum sit at
    n_star (at_minimum: N* <= n_min, n_star = n_min); not_reached sits at n_below (N* > n_below,
    the largest size tried)."""
    out = {keys.SC_STATUS_REACHED: [], keys.SC_STATUS_AT_MIN: [], keys.SC_STATUS_NOT_REACHED: []}
    for (j, pt, e), r in data["rows"].items():
        if j != job:
            continue
        st = r.get("status", keys.SC_STATUS_REACHED)
        if st == keys.SC_STATUS_NOT_REACHED:
            n = r.get("n_below") if _num(r.get("n_below")) else data["search"].get("n_max")
        else:
            n = r.get("n_star")
        if st in out and _num(n) and n > 0:
            out[st].append((pt, r["d"], e, float(n)))
    return out


def describe(doc):
    """The configuration in one short line: suite, size, error measured, dimension, success rule."""
    data = read(doc)
    s, sr = data["suite"], data["search"]
    name = s.get(keys.SC_SUITE_NAME) if isinstance(s.get(keys.SC_SUITE_NAME), str) else "?"
    err = s.get(keys.SC_ERROR_PATH, "error")
    if s.get(keys.SC_ERROR_TRANSFORM) == "one_minus":
        err = f"1 \u2212 {err}"
    parts = [f"{name} (size {s.get(keys.SC_SIZE, '?')})", f"error = {err}",
             f"d = {s.get(keys.SC_DIMENSION, '?')}"]
    if _num(sr.get("success_fraction")):
        seeds = f" of {data['n_seeds']} seeds" if data["n_seeds"] else " of seeds"
        parts.append(f"N*: error \u2264 \u03b5 in \u2265 {sr['success_fraction']:.0%}{seeds}")
    if _num(sr.get("n_min")) and _num(sr.get("n_max")):
        r = sr.get("steps_per_doubling")
        parts.append(f"N in [{int(sr['n_min'])}, {int(sr['n_max'])}]"
                     + (f", grid factor 2^(1/{r:g})" if _num(r) else ""))
    return "; ".join(parts)


def _fmt_i(i):
    return f"[{i[0]:.2f}, {i[1]:.2f}]" if i else ""


def verdict_text(data, job):
    """The job's own verdict (verdict.<job>, fits.<job>) as a few lines for a text box."""
    v = data["verdicts"].get(job) or {}
    f = data["fits"].get(job) or {}
    poly = f.get("polynomial") or {}
    a = v.get("d_exponent", poly.get("d_coefficient"))
    b = v.get("eps_exponent", poly.get("eps_exponent"))
    ai = _interval(v.get("d_exponent_interval", poly.get("d_coefficient_interval")))
    bi = _interval(v.get("eps_exponent_interval", poly.get("eps_exponent_interval")))
    lvl = v.get("level", poly.get("level"))
    lines = []
    if _num(a) and _num(b):
        lines.append(f"N* \u221d d^{a:.2f} {_fmt_i(ai)} \u00b7 (1/\u03b5)^{b:.2f} {_fmt_i(bi)}")
        if _num(lvl):
            lines.append(f"  ({lvl:.0%} bootstrap intervals, {f.get('points_used', '?')} N* values)")
    elif f.get("fit", 1) is None:
        lines.append(f"no fit: {f.get('reason', '?')}")
    dA = v.get("delta_aic", f.get("delta_aic"))
    pref = v.get("preferred", f.get("preferred"))
    if _num(dA) and pref:
        ev = v.get("evidence", f.get("evidence"))
        lines.append(f"poly vs exp: \u0394AIC = {dA:.3g}" + (f" ({ev})" if ev else "")
                     + f" \u2192 {pref}")
    cw = v.get("consistent_with")
    if isinstance(cw, list):
        lines.append("consistent with: " + (", ".join(cw) if cw else "no reference bound"))
    ex = f.get("excluded")
    if isinstance(ex, list) and ex:
        lines.append(f"{len(ex)} censored N* left out of the fit")
    return "\n".join(lines)


# ---- N* figure ----------------------------------------------------------------------------------

def _ref_factor(ref_name, point):
    """The constant of a reference bound at a point (theory/bounds.h): 1/Q for truncated_moment
    (Q = the point's active fraction), 1 otherwise."""
    if ref_name == "truncated_moment" and _num(point.get("active")) and point["active"] > 0:
        return 1.0 / point["active"]
    return 1.0


def _references(data, job):
    out = []
    for ref in (data["fits"].get(job) or {}).get("references") or []:
        if isinstance(ref, dict) and isinstance(ref.get("name"), str) \
                and _num(ref.get("d_exponent")) and _num(ref.get("eps_exponent")):
            out.append(ref)
    return out


def _ref_label(ref):
    flags = []
    for k, sym in (("d_exponent_in_interval", "d"), ("eps_exponent_in_interval", "\u03b5")):
        if isinstance(ref.get(k), bool):
            flags.append(f"{sym} {'yes' if ref[k] else 'no'}")
    scale = f", \u00d7{math.exp(ref['log_ratio_median']):.3g}" if _num(ref.get("log_ratio_median")) else ""
    return (f"{ref['name']} \u221d d^{ref['d_exponent']:g}(1/\u03b5)^{ref['eps_exponent']:g}"
            f"{scale}" + (f" (in CI: {', '.join(flags)})" if flags else ""))


def nstar_figure(doc, outdir, name):
    data = read(doc)
    jobs = [j for j in data["jobs"] if any(k[0] == j for k in data["rows"])]
    if not jobs:
        return None
    suite, search = data["suite"], data["search"]
    pts = list(data["points"].values())
    fig, axes = style.panels(2 * len(jobs), ncols=2, w=5.4, h=4.3)
    ref_styles = [":", "-.", (0, (5, 2, 1, 2))]
    for ji, job in enumerate(jobs):
        marks = nstar_points(data, job)
        fit = data["fits"].get(job) or {}
        poly = fit.get("polynomial") or {}
        expo = fit.get("exponential") or {}
        a, b, c = poly.get("d_coefficient"), poly.get("eps_exponent"), poly.get("log_constant")
        ai, bi = _interval(poly.get("d_coefficient_interval")), _interval(poly.get("eps_exponent_interval"))
        ea, eb, ec = expo.get("d_coefficient"), expo.get("eps_exponent"), expo.get("log_constant")
        have_poly = all(_num(v) for v in (a, b, c))
        have_exp = all(_num(v) for v in (ea, eb, ec))
        refs = _references(data, job)
        for pi, along in enumerate(("d", "eps")):
            ax = axes[2 * ji + pi]
            series = data["eps"] if along == "d" else [p["name"] for p in pts]
            for si, sv in enumerate(series):
                col = style.COLORS[si % len(style.COLORS)]
                mk = style.MARKERS[si % len(style.MARKERS)]
                if along == "d":
                    sel = lambda m: m[2] == sv  # noqa: E731
                    X = lambda m: m[1]           # noqa: E731
                    lab = f"\u03b5 = {sv:g}"
                else:
                    sel = lambda m: m[0] == sv  # noqa: E731
                    X = lambda m: 1.0 / m[2]     # noqa: E731
                    lab = f"d = {data['points'][sv].get('d', 0):g}"
                reached = sorted((m for m in marks[keys.SC_STATUS_REACHED] if sel(m)), key=X)
                ax.plot([X(m) for m in reached], [m[3] for m in reached], ls="none", marker=mk,
                        ms=6, color=col, label=lab, zorder=4)
                for st, m2 in ((keys.SC_STATUS_AT_MIN, "v"), (keys.SC_STATUS_NOT_REACHED, "^")):
                    cm = [m for m in marks[st] if sel(m)]
                    if cm:
                        ax.plot([X(m) for m in cm], [m[3] for m in cm], ls="none", marker=m2, ms=7,
                                mfc="white", mew=1.3, color=col, zorder=4)
                # Models on this slice: polynomial (solid, exponent band), exponential (dashed).
                if along == "d":
                    xs = np.array([p["d"] for p in pts if _num(p.get("d"))], float)
                else:
                    xs = 1.0 / np.array(data["eps"], float)
                if not len(xs):
                    continue
                xx = np.geomspace(xs.min(), xs.max(), 40)
                d_ = xx if along == "d" else data["points"][sv]["d"]
                e_ = sv if along == "d" else 1.0 / xx
                if have_poly:
                    yy = np.exp(c) * np.power(d_, a) * np.power(e_, -b)
                    ax.plot(xx, yy, color=col, lw=1.2, zorder=3)
                    exi, ex = (ai, a) if along == "d" else (bi, b)
                    if exi:
                        x0 = math.exp(np.mean(np.log(xx)))
                        y0 = float(np.exp(np.interp(math.log(x0), np.log(xx), np.log(yy))))
                        ax.fill_between(xx, y0 * (xx / x0) ** exi[0], y0 * (xx / x0) ** exi[1],
                                        color=col, alpha=0.13, lw=0, zorder=1)
                if have_exp and along == "d":
                    ax.plot(xx, np.exp(ec) * np.exp(ea * np.asarray(d_, float)) * np.power(e_, -eb),
                            color=col, lw=0.9, ls="--", alpha=0.8, zorder=3)
            # Reference bounds of this job, at the smallest eps (d panel) or the largest d (1/eps
            # panel), scaled by their median N*/bound (fits.<job>.references[].log_ratio_median).
            if along == "d":
                e_ref = min(data["eps"])
                rp = sorted((p for p in pts if _num(p.get("d"))), key=lambda p: p["d"])
                rx = [p["d"] for p in rp]
            else:
                p_ref = max((p for p in pts if _num(p.get("d"))), key=lambda p: p["d"])
                rx = sorted(1.0 / np.array(data["eps"], float))
            for ri, ref in enumerate(refs):
                k = math.exp(ref["log_ratio_median"]) if _num(ref.get("log_ratio_median")) else 1.0
                if along == "d":
                    ry = [k * _ref_factor(ref["name"], p) * p["d"] ** ref["d_exponent"]
                          * e_ref ** -ref["eps_exponent"] for p in rp]
                else:
                    ry = [k * _ref_factor(ref["name"], p_ref) * p_ref["d"] ** ref["d_exponent"]
                          * x ** ref["eps_exponent"] for x in rx]
                ax.plot(rx, ry, color=style.ROLE["reference"], ls=ref_styles[ri % len(ref_styles)],
                        lw=1.4, zorder=2, label=_ref_label(ref))
            # Key to the line styles, once per panel.
            if have_poly:
                ax.plot([], [], color="0.3", lw=1.2, label=f"polynomial fit (band: {poly.get('level', 0.95):.0%} CI of exponent)")
            if have_exp and along == "d":
                ax.plot([], [], color="0.3", lw=0.9, ls="--", label="exponential fit, exp(a\u00b7d)")
            if marks[keys.SC_STATUS_AT_MIN]:
                ax.plot([], [], ls="none", marker="v", mfc="white", color="0.3",
                        label=f"N* \u2264 n_min = {search.get('n_min', '?')} (censored)")
            if marks[keys.SC_STATUS_NOT_REACHED]:
                ax.plot([], [], ls="none", marker="^", mfc="white", color="0.3",
                        label=f"N* > n_max = {search.get('n_max', '?')} (drawn at the largest N tried)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            if along == "d":
                ax.set_xlabel(DIMENSION_LABEL.get(suite.get(keys.SC_DIMENSION), "dimension d"))
                style.ticks_at(ax, [p["d"] for p in pts if _num(p.get("d"))], "x")
                ttl = f"{job}: N* against d, one line per \u03b5"
                if _num(a):
                    ttl += f" (fit d^{a:.2f})"
            else:
                ax.set_xlabel("1/\u03b5 (\u03b5: target error, " + str(suite.get(keys.SC_ERROR_PATH, "error"))
                              .split(".")[-1] + ")")
                style.ticks_at(ax, [1.0 / e for e in data["eps"]], "x")
                ttl = f"{job}: N* against 1/\u03b5, one line per d"
                if _num(b):
                    ttl += f" (fit (1/\u03b5)^{b:.2f})"
            ax.set_ylabel("N* (training samples)")
            ax.set_title(ttl)
            ax.legend(loc="upper left", fontsize=6.5, handlelength=2.6)
            if pi == 0:
                ax.text(0.98, 0.03, verdict_text(data, job), transform=ax.transAxes, ha="right",
                        va="bottom", zorder=6, fontsize=6.5, family="monospace",
                        bbox=dict(boxstyle="round", fc="white", ec="0.7", alpha=0.92))
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo / 2.5, hi * 3)  # room for the legend above, the verdict below
    r = search.get("steps_per_doubling")
    style.title(fig, "Sample complexity N*(d, \u03b5): filled markers measured N* (exact to a factor "
                + (f"2^(1/{r:g})" if _num(r) else "of the grid") + "), open markers censored; "
                "grey: reference bounds (SPEC \u00a73) scaled by their median N*/bound, drawn at the "
                "smallest \u03b5 (left) and the largest d (right)",
                describe(doc))
    return style.save(fig, outdir, name)


# ---- error against N ----------------------------------------------------------------------------

def error_vs_n_figure(doc, outdir, name):
    data = read(doc)
    jobs = [j for j in data["jobs"] if any(k[0] == j for k in data["curves"])]
    if not jobs:
        return None
    suite = data["suite"]
    min_n = (suite.get(keys.SC_CURVE) or {}).get("min_samples")
    err_name = str(suite.get(keys.SC_ERROR_PATH, "error"))
    if suite.get(keys.SC_ERROR_TRANSFORM) == "one_minus":
        err_name = f"1 \u2212 {err_name}"
    pts = list(data["points"].values())
    n_panels = len(jobs) + 1
    fig, axes = style.panels(n_panels, ncols=min(3, n_panels), w=4.8, h=4.1)
    expected = None
    for ji, job in enumerate(jobs):
        ax = axes[ji]
        anchor = None
        for si, p in enumerate(pts):
            cv = data["curves"].get((job, p["name"]))
            if not cv:
                continue
            col = style.COLORS[si % len(style.COLORS)]
            tr = [t for t in data["trials"] if t.get("job") == job and t.get("point") == p["name"]]
            if tr:
                ax.scatter([t["n"] for t in tr], [t["error"] for t in tr], s=7, color=col,
                           alpha=0.3, lw=0, zorder=2)
            by = [b for b in cv.get("by_n") or [] if _num(b.get("n")) and _num(b.get("median_error"))]
            by.sort(key=lambda b: b["n"])
            lab = f"d = {p.get('d', cv.get('d', 0)):g}"
            if by:
                ax.plot([b["n"] for b in by], [b["median_error"] for b in by], color=col, lw=1.0,
                        marker=style.MARKERS[si % len(style.MARKERS)], ms=3.5, zorder=3)
                if anchor is None:
                    anchor = (by[0]["n"], by[0]["median_error"], by[-1]["n"])
            slope, icpt, si_ = cv.get("slope"), cv.get("intercept"), _interval(cv.get("slope_interval"))
            if _num(slope) and _num(icpt) and by:
                x0 = max(by[0]["n"], min_n) if _num(min_n) else by[0]["n"]
                xx = np.geomspace(x0, by[-1]["n"], 20)
                ax.plot(xx, np.exp(icpt) * xx ** slope, color=col, ls="--", lw=1.6, zorder=4,
                        label=f"{lab}: slope {slope:.2f} {_fmt_i(si_)}")
            else:
                ax.plot([], [], color=col, label=lab)
        es = (data["verdicts"].get(job) or {}).get(keys.SC_ERROR_SLOPE) or {}
        if _num(es.get("expected")):
            expected = es["expected"]
        if anchor:
            xx = np.geomspace(anchor[0], anchor[2], 20)
            ex = expected if _num(expected) else -0.5
            ax.plot(xx, anchor[1] * (xx / anchor[0]) ** ex, color=style.ROLE["reference"], ls=":",
                    lw=1.6, zorder=3, label=f"N^{ex:g} (truncated-moment rate)")
        for e in data["eps"]:
            ax.axhline(e, color="0.55", lw=0.7, ls="-.", zorder=1)
            ax.text(1.0, e, f" \u03b5={e:g}", transform=ax.get_yaxis_transform(), fontsize=6.5,
                    color="0.35", va="center", ha="left", clip_on=False)
        ax.set_xscale("log")
        ax.set_yscale("log")
        below = [t for t in data["trials"] if t.get("job") == job and t["n"] < (min_n or 0)]
        if _num(min_n) and below:  # trials of the search below the fit range
            lo = ax.get_xlim()[0]
            if lo < min_n:
                ax.axvspan(lo, min_n, color="0.92", zorder=0, lw=0)
                ax.set_xlim(left=lo)
        ax.set_xlabel("training-set size N (samples)")
        ax.set_ylabel(f"recovery error {err_name.split('.')[-1]} (dimensionless)")
        ax.set_title(f"{job}: error against N at fixed d")
        ax.legend(loc="lower left", fontsize=6.5)
    # Fitted slope per point with its interval (verdict.<job>.error_slope, or curves[]).
    ax = axes[len(jobs)]
    ds = [p["d"] for p in pts if _num(p.get("d"))]
    for ji, job in enumerate(jobs):
        col = style.COLORS[ji % len(style.COLORS)]
        es = (data["verdicts"].get(job) or {}).get(keys.SC_ERROR_SLOPE) or {}
        rows = es.get("points") or [dict(point=pt, slope=c.get("slope"), slope_interval=c.get("slope_interval"))
                                    for (j, pt), c in data["curves"].items() if j == job]
        xs, ys, lo, hi = [], [], [], []
        for r in rows:
            p = data["points"].get(r.get("point")) or {}
            iv = _interval(r.get("slope_interval"))
            if _num(p.get("d")) and _num(r.get("slope")) and iv:
                xs.append(p["d"] * 1.06 ** (ji - (len(jobs) - 1) / 2))
                ys.append(r["slope"])
                lo.append(r["slope"] - iv[0])
                hi.append(iv[1] - r["slope"])
        lab = job
        if isinstance(es.get("expected_in_every_interval"), bool) and _num(es.get("expected")):
            lab += f" ({es['expected']:g} in every interval: {'yes' if es['expected_in_every_interval'] else 'no'})"
        ax.errorbar(xs, ys, yerr=[lo, hi], ls="none", marker=style.MARKERS[ji % len(style.MARKERS)],
                    color=col, capsize=3, ms=5, label=lab)
    if _num(expected):
        ax.axhline(expected, color=style.ROLE["reference"], ls=":", lw=1.6,
                   label=f"expected {expected:g} (truncated-moment N^-1/2)")
    ax.set_xscale("log")
    if ds:
        style.ticks_at(ax, ds, "x")
    ax.set_xlabel(DIMENSION_LABEL.get(suite.get(keys.SC_DIMENSION), "dimension d"))
    ax.set_ylabel("fitted slope of log error on log N")
    level = (suite.get("fit") or {}).get("level")
    ax.set_title("error-vs-N slope per d" + (f" ({level:.0%} seed-bootstrap interval)" if _num(level) else ""))
    lo_, hi_ = ax.get_ylim()
    ax.set_ylim(lo_, hi_ + 0.35 * (hi_ - lo_))
    ax.legend(loc="upper left", fontsize=6.5)
    style.title(fig, "Recovery error against the training-set size N at fixed d: dots trials (one per "
                "seed), line the median over seeds, dashed the fitted log-log slope"
                + (f" over N \u2265 {min_n:g} (grey: not fitted)" if _num(min_n) else ""),
                describe(doc))
    return style.save(fig, outdir, name)


# ---- steps-to-eps (time complexity) -------------------------------------------------------------

# steps_to_eps of the document (docs/sample_complexity.md): {measured, path, rows[], fits{job:
# {first, stay}}}; rows carry point, job, d, eps, n (= N*), median_steps, median_steps_to_stay.
SC_STEPS = "steps_to_eps"
SC_STEPS_ROWS = "rows"
SC_STEPS_FITS = "fits"
STEPS_KINDS = (("median_steps", "first", "first step with error \u2264 \u03b5"),
               ("median_steps_to_stay", "stay", "first step from which error stays \u2264 \u03b5"))


def _log_every(suite, job):
    """The learner's logging interval (log.every of the job config), the resolution of steps."""
    for j in suite.get(keys.SC_JOBS) or []:
        if isinstance(j, dict) and j.get("name") == job:
            every = ((j.get("config") or {}).get("log") or {}).get("every")
            return float(every) if _num(every) else None
    return None


def steps_figure(doc, outdir, name):
    """Per job with a training trajectory: median generator steps to reach eps (first passage) and
    to stay within eps, at N*, against d (one series per eps), with the fitted power of d."""
    st = doc.get(SC_STEPS)
    if not isinstance(st, dict) or not st.get("measured"):
        return None
    rows = [r for r in st.get(SC_STEPS_ROWS) or [] if isinstance(r, dict) and _num(r.get("d"))
            and _num(r.get("eps")) and isinstance(r.get("job"), str)]
    fits = st.get(SC_STEPS_FITS) or {}
    jobs = [j for j in fits if any(r["job"] == j for r in rows)]
    if not jobs:
        return None
    data = read(doc)
    suite = data["suite"]
    ds = sorted({float(r["d"]) for r in rows})
    fig, axes = style.panels(2 * len(jobs), ncols=2, w=4.8, h=4.1)
    for ji, job in enumerate(jobs):
        for ki, (key, fit_key, label) in enumerate(STEPS_KINDS):
            ax = axes[2 * ji + ki]
            eps = sorted({_eps_key(r["eps"]) for r in rows if r["job"] == job}, reverse=True)
            vals = [r[key] for r in rows if r["job"] == job and _num(r.get(key)) and r[key] > 0]
            every = _log_every(suite, job)
            if every:
                ax.axhline(every, color=style.ROLE["reference"], ls=":", lw=1.4, zorder=1,
                           label=f"logging interval (log.every = {every:g})")
                vals.append(every)
            for ei, e in enumerate(eps):
                sel = sorted([r for r in rows if r["job"] == job and _eps_key(r["eps"]) == e
                              and _num(r.get(key)) and r[key] > 0], key=lambda r: r["d"])
                if not sel:
                    continue
                col = style.COLORS[ei % len(style.COLORS)]
                ax.plot([r["d"] for r in sel], [r[key] for r in sel], color=col, lw=1.0,
                        marker=style.MARKERS[ei % len(style.MARKERS)], ms=4,
                        label=f"\u03b5 = {e:g} (at N*)")
                f = fits.get(job, {}).get(fit_key) or {}
                a, b, c = f.get("d_exponent"), f.get("eps_exponent"), f.get("log_constant")
                if _num(a) and _num(c) and len(ds) > 1:
                    xx = np.geomspace(min(ds), max(ds), 20)
                    ax.plot(xx, np.exp(c) * xx ** a * (1.0 / e) ** (b if _num(b) else 0.0),
                            color=col, ls="--", lw=1.2)
            f = fits.get(job, {}).get(fit_key) or {}
            a, ai = f.get("d_exponent"), _interval(f.get("d_exponent_interval"))
            b, bi = f.get("eps_exponent"), _interval(f.get("eps_exponent_interval"))
            if _num(a):
                txt = f"steps \u221d d^{a:.2f} {_fmt_i(ai)}"
                if _num(b):
                    txt += f" \u00b7 (1/\u03b5)^{b:.2f} {_fmt_i(bi)}"
                if _num(f.get("level")):
                    txt += f"\n({f['level']:.0%} bootstrap intervals, dashed: fit)"
            else:
                txt = f"no fit: {f.get('summary', '?')}"
            ax.text(0.02, 0.98, txt, transform=ax.transAxes, fontsize=6.5, va="top", ha="left",
                    bbox=dict(boxstyle="round", fc="white", ec="0.7", alpha=0.9))
            ax.set_xscale("log")
            ax.set_yscale("log")
            style.ticks_at(ax, ds, "x")
            if vals:
                ax.set_ylim(min(vals) / 2.0, max(vals) * 8.0)
            ax.set_xlabel(DIMENSION_LABEL.get(suite.get(keys.SC_DIMENSION), "dimension d"))
            ax.set_ylabel("generator steps (median over seeds)")
            ax.set_title(f"{job}: {label}", fontsize=8)
            ax.legend(loc="center right", fontsize=6.5)
    style.title(fig, "Steps to \u03b5 (time complexity) against d, from the logged training "
                f"trajectory {st.get('path', '?')} (resolution: the logging interval)",
                describe(doc))
    return style.save(fig, outdir, name)
