"""Small fitting helpers shared by the figures (log-log slopes with intervals)."""
import numpy as np


def loglog_slope(x, y, boot=500, seed=0):
    """Least-squares fit log y = a + b log x over the finite positive points. Returns
    dict(slope, intercept, lo, hi) with a 95% bootstrap interval over points, or None."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = np.log(x[ok]), np.log(y[ok])
    if len(np.unique(x)) < 2:
        return None
    b, a = np.polyfit(x, y, 1)
    rng = np.random.default_rng(seed)
    bs = []
    for _ in range(boot):
        idx = rng.integers(0, len(x), len(x))
        if len(np.unique(x[idx])) < 2:
            continue
        bs.append(np.polyfit(x[idx], y[idx], 1)[0])
    lo, hi = (np.percentile(bs, [2.5, 97.5]) if bs else (np.nan, np.nan))
    return {"slope": float(b), "intercept": float(a), "lo": float(lo), "hi": float(hi)}
