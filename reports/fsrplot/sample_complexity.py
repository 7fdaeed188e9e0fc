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


DIMENSION_LABEL_SHORT = {
    "patch_dim": "patch dimension d = r\u00b2c",
    "channels": "channels d = m\u2081",
    "first_layer_units": "first-layer units d",
}
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


def nstar_figures(doc, outdir, name):
    """Per job, one figure of two stacked panels: N* against d (one series per eps) and against
    1/eps (one series per point), log-log; filled markers measured N*, open ones censored
    (v: N* <= n_min, ^: N* > n_max); solid: the polynomial fit, with its exponent interval as a
    band; dashed: the exponential fit (d panel); grey: the job's reference bounds scaled by their
    median N*/bound. Returns [(job, files)]; the verdict goes to report.md (verdict_text)."""
    data = read(doc)
    jobs = [j for j in data["jobs"] if any(k[0] == j for k in data["rows"])]
    out = []
    for job in jobs:
        fig, axes = style.figure(rows=2, sharex=False, height=4.4)
        _nstar_job(data, job, axes)
        out.append((job, style.save(fig, outdir, f"{name}_{job}")))
    return out


def _nstar_job(data, job, axes):
    suite = data["suite"]
    pts = list(data["points"].values())
    ref_styles = [":", "-.", (0, (5, 2, 1, 2))]
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
        ax = axes[pi]
        series = data["eps"] if along == "d" else [p["name"] for p in pts]
        for si, sv in enumerate(series):
            col = style.series(si)
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
                    color=col, label=lab, zorder=4)
            for st, m2 in ((keys.SC_STATUS_AT_MIN, "v"), (keys.SC_STATUS_NOT_REACHED, "^")):
                cm = [m for m in marks[st] if sel(m)]
                if cm:
                    ax.plot([X(m) for m in cm], [m[3] for m in cm], ls="none", marker=m2,
                            mfc="white", color=col, zorder=4)
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
                ax.plot(xx, yy, color=col, lw=0.9, zorder=3)
                exi = ai if along == "d" else bi
                if exi:
                    x0 = math.exp(np.mean(np.log(xx)))
                    y0 = float(np.exp(np.interp(math.log(x0), np.log(xx), np.log(yy))))
                    ax.fill_between(xx, y0 * (xx / x0) ** exi[0], y0 * (xx / x0) ** exi[1],
                                    color=col, alpha=0.13, lw=0, zorder=1)
            if have_exp and along == "d":
                ax.plot(xx, np.exp(ec) * np.exp(ea * np.asarray(d_, float)) * np.power(e_, -eb),
                        color=col, lw=0.7, ls="--", alpha=0.8, zorder=3)
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
                    lw=1.0, zorder=2, label=ref["name"].replace("_", " ") if pi == 0 else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        if along == "d":
            ax.set_xlabel(DIMENSION_LABEL_SHORT.get(suite.get(keys.SC_DIMENSION), "dimension d"))
            style.ticks_at(ax, [p["d"] for p in pts if _num(p.get("d"))], "x")
        else:
            ax.set_xlabel("1/\u03b5")
            style.ticks_at(ax, [1.0 / e for e in data["eps"]], "x")
        ax.set_ylabel("N*")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo / 1.5, hi * 4)
        style.legend(ax, loc="upper left", ncol=2, fontsize=6.5)


# ---- error against N ----------------------------------------------------------------------------

def error_vs_n_figures(doc, outdir, name):
    """Per job: the recovery error against N at each fixed d (trials as dots, the median over
    seeds, the fitted log-log slope dashed over N >= curve.min_samples, the eps levels as
    horizontal lines, the expected N^(-1/2) dotted); then one figure of every point's fitted slope
    with its interval. Returns [(label, files)]; the slopes go to report.md (slope_notes)."""
    data = read(doc)
    jobs = [j for j in data["jobs"] if any(k[0] == j for k in data["curves"])]
    if not jobs:
        return []
    suite = data["suite"]
    min_n = (suite.get(keys.SC_CURVE) or {}).get("min_samples")
    from .suites import _pretty
    err_name = _pretty(str(suite.get(keys.SC_ERROR_PATH, "error")))
    if suite.get(keys.SC_ERROR_TRANSFORM) == "one_minus":
        err_name = f"1 \u2212 {err_name}"
    pts = list(data["points"].values())
    out = []
    expected = None
    for job in jobs:
        fig, (ax,) = style.figure(height=2.6)
        anchor = None
        for si, p in enumerate(pts):
            cv = data["curves"].get((job, p["name"]))
            if not cv:
                continue
            col = style.series(si)
            tr = [t for t in data["trials"] if t.get("job") == job and t.get("point") == p["name"]]
            if tr:
                ax.scatter([t["n"] for t in tr], [t["error"] for t in tr], s=3, color=col,
                           alpha=0.3, lw=0, zorder=2)
            by = [b for b in cv.get("by_n") or [] if _num(b.get("n")) and _num(b.get("median_error"))]
            by.sort(key=lambda b: b["n"])
            lab = f"d = {p.get('d', cv.get('d', 0)):g}"
            if by:
                ax.plot([b["n"] for b in by], [b["median_error"] for b in by], color=col, lw=0.8,
                        marker=style.MARKERS[si % len(style.MARKERS)], ms=2.5, zorder=3, label=lab)
                if anchor is None:
                    anchor = (by[0]["n"], by[0]["median_error"], by[-1]["n"])
            slope, icpt = cv.get("slope"), cv.get("intercept")
            if _num(slope) and _num(icpt) and by:
                x0 = max(by[0]["n"], min_n) if _num(min_n) else by[0]["n"]
                xx = np.geomspace(x0, by[-1]["n"], 20)
                ax.plot(xx, np.exp(icpt) * xx ** slope, color=col, ls="--", lw=1.0, zorder=4)
        es = (data["verdicts"].get(job) or {}).get(keys.SC_ERROR_SLOPE) or {}
        if _num(es.get("expected")):
            expected = es["expected"]
        if anchor:
            xx = np.geomspace(anchor[0], anchor[2], 20)
            ex = expected if _num(expected) else -0.5
            ax.plot(xx, anchor[1] * (xx / anchor[0]) ** ex, color=style.ROLE["reference"], ls=":",
                    lw=1.2, zorder=3, label=f"$N^{{{ex:g}}}$")
        for e in data["eps"]:
            ax.axhline(e, color="0.55", lw=0.5, ls="-.", zorder=1)
            ax.text(1.0, e, f" \u03b5={e:g}", transform=ax.get_yaxis_transform(), fontsize=6,
                    color="0.35", va="center", ha="left", clip_on=False)
        ax.set_xscale("log")
        ax.set_yscale("log")
        below = [t for t in data["trials"] if t.get("job") == job and t["n"] < (min_n or 0)]
        if _num(min_n) and below:
            lo = ax.get_xlim()[0]
            if lo < min_n:
                ax.axvspan(lo, min_n, color="0.93", zorder=0, lw=0)
                ax.set_xlim(left=lo)
        ax.set_xlabel("samples N")
        ax.set_ylabel(err_name)
        style.label_log_minor(ax)
        style.legend(ax, loc="lower left", ncol=2, fontsize=6.5)
        out.append((job, style.save(fig, outdir, f"{name}_{job}")))
    # Fitted slope per point with its interval (verdict.<job>.error_slope, or curves[]).
    fig, (ax,) = style.figure(height=2.2)
    ds = [p["d"] for p in pts if _num(p.get("d"))]
    for ji, job in enumerate(jobs):
        xs, ys, lo, hi = _slope_rows(data, job, ji, len(jobs))
        ax.errorbar(xs, ys, yerr=[lo, hi], ls="none", marker=style.MARKERS[ji % len(style.MARKERS)],
                    color=style.series(ji), label=job)
    if _num(expected):
        ax.axhline(expected, color=style.ROLE["reference"], ls=":", lw=1.2,
                   label=f"expected {expected:g}")
    ax.set_xscale("log")
    if ds:
        style.ticks_at(ax, ds, "x")
    ax.set_xlabel(DIMENSION_LABEL_SHORT.get(suite.get(keys.SC_DIMENSION), "dimension d"))
    ax.set_ylabel("slope of log error on log N")
    lo_, hi_ = ax.get_ylim()
    ax.set_ylim(lo_, hi_ + 0.3 * (hi_ - lo_))
    style.legend(ax, loc="upper left", ncol=3)
    out.append(("slopes", style.save(fig, outdir, f"{name}_slopes")))
    return out


def _slope_rows(data, job, ji, njobs):
    es = (data["verdicts"].get(job) or {}).get(keys.SC_ERROR_SLOPE) or {}
    rows = es.get("points") or [dict(point=pt, slope=c.get("slope"), slope_interval=c.get("slope_interval"))
                                for (j, pt), c in data["curves"].items() if j == job]
    xs, ys, lo, hi = [], [], [], []
    for r in rows:
        p = data["points"].get(r.get("point")) or {}
        iv = _interval(r.get("slope_interval"))
        if _num(p.get("d")) and _num(r.get("slope")) and iv:
            xs.append(p["d"] * 1.06 ** (ji - (njobs - 1) / 2))
            ys.append(r["slope"])
            lo.append(r["slope"] - iv[0])
            hi.append(iv[1] - r["slope"])
    return xs, ys, lo, hi


def slope_notes(doc):
    """Every point's fitted error-vs-N slope with its interval, one line per job."""
    data = read(doc)
    out = []
    for job in data["jobs"]:
        cs = [(p, data["curves"].get((job, p))) for p in data["points"]]
        cs = [(p, c) for p, c in cs if c and _num(c.get("slope"))]
        if cs:
            out.append(f"error-vs-N slope ({job}): " + "; ".join(
                f"d = {data['points'][p].get('d', 0):g}: {c['slope']:.3f} "
                f"{_fmt_i(_interval(c.get('slope_interval')))}" for p, c in cs))
    return out


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


def steps_figures(doc, outdir, name):
    """Per job with a training trajectory: median generator steps to reach eps (first passage,
    top) and to stay within eps (bottom), at N*, against d (one series per eps), with the fitted
    power of d (dashed) and the logging interval (dotted: the resolution). Returns [(job, files)]."""
    st = doc.get(SC_STEPS)
    if not isinstance(st, dict) or not st.get("measured"):
        return []
    rows = [r for r in st.get(SC_STEPS_ROWS) or [] if isinstance(r, dict) and _num(r.get("d"))
            and _num(r.get("eps")) and isinstance(r.get("job"), str)]
    fits = st.get(SC_STEPS_FITS) or {}
    jobs = [j for j in fits if any(r["job"] == j for r in rows)]
    data = read(doc)
    suite = data["suite"]
    ds = sorted({float(r["d"]) for r in rows})
    out = []
    for job in jobs:
        fig, axes = style.figure(rows=2, height=3.6)
        for ki, (key, fit_key, label) in enumerate(STEPS_KINDS):
            ax = axes[ki]
            eps = sorted({_eps_key(r["eps"]) for r in rows if r["job"] == job}, reverse=True)
            vals = [r[key] for r in rows if r["job"] == job and _num(r.get(key)) and r[key] > 0]
            every = _log_every(suite, job)
            if every:
                ax.axhline(every, color=style.ROLE["reference"], ls=":", lw=1.0, zorder=1,
                           label="log interval" if ki == 0 else None)
                vals.append(every)
            for ei, e in enumerate(eps):
                sel = sorted([r for r in rows if r["job"] == job and _eps_key(r["eps"]) == e
                              and _num(r.get(key)) and r[key] > 0], key=lambda r: r["d"])
                if not sel:
                    continue
                col = style.series(ei)
                ax.plot([r["d"] for r in sel], [r[key] for r in sel], color=col, lw=0.9,
                        marker=style.MARKERS[ei % len(style.MARKERS)],
                        label=f"\u03b5 = {e:g}" if ki == 0 else None)
                f = fits.get(job, {}).get(fit_key) or {}
                a, b, c = f.get("d_exponent"), f.get("eps_exponent"), f.get("log_constant")
                if _num(a) and _num(c) and len(ds) > 1:
                    xx = np.geomspace(min(ds), max(ds), 20)
                    ax.plot(xx, np.exp(c) * xx ** a * (1.0 / e) ** (b if _num(b) else 0.0),
                            color=col, ls="--", lw=0.9)
            ax.set_xscale("log")
            ax.set_yscale("log")
            style.ticks_at(ax, ds, "x")
            if vals:
                ax.set_ylim(min(vals) / 2.0, max(vals) * 8.0)
            ax.set_ylabel("steps (" + fit_key + ")")
        style.figure_legend(fig, axes[0], ncol=4)
        axes[-1].set_xlabel(DIMENSION_LABEL_SHORT.get(suite.get(keys.SC_DIMENSION), "dimension d"))
        out.append((job, style.save(fig, outdir, f"{name}_{job}")))
    return out


def steps_notes(doc):
    st = doc.get(SC_STEPS)
    out = []
    if isinstance(st, dict) and st.get("measured"):
        out.append(f"steps to \u03b5 read from the trajectory {st.get('path', '?')}; first = first "
                   "logged step with error \u2264 \u03b5, stay = first step from which it stays there")
        for job, f in (st.get(SC_STEPS_FITS) or {}).items():
            for kind in ("first", "stay"):
                summary = (f.get(kind) or {}).get("summary") if isinstance(f, dict) else None
                if summary:
                    out.append(f"steps to \u03b5 ({job}, {kind}): {summary}")
    return out
