#!/usr/bin/env python3
"""What the discriminator's decoder V_1 learned, per run of a phase map (docs/learner.md, "D's
features"): the share of each unit-norm row of V_1 that lies in the span of the target's
columns M_1, and the best |cos| of any V_1 row to each true column, against the same two numbers
for random rows of that shape (the chance levels).

    /usr/bin/python3 research/v1_span.py MAP_DIR [--glob 'd12_a*'] [--draws 200]

MAP_DIR: an `fsr run` output of experiments/suites/gda_phase_diagram.json (reads
jobs/*/target/M_1.npy and jobs/*/run/V_1.npy; jobs without both are skipped). A row of V_1 in
the span but at chance alignment means D decodes the subspace the data live in, not its basis.
"""
import argparse
import glob
import os

import numpy as np


def unit_columns(a):
    return a / np.linalg.norm(a, axis=0, keepdims=True)


def scores(m, v):
    """(mean share of V's rows in span(M), mean over M's columns of the best |cos| to a V row)."""
    q, _ = np.linalg.qr(m)
    vn = unit_columns(v)
    in_span = float((np.linalg.norm(q.T @ vn, axis=0) ** 2).mean())
    best = float(np.abs(unit_columns(m).T @ vn).max(axis=1).mean())
    return in_span, best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("map_dir")
    ap.add_argument("--glob", default="*", help="job ids to read (default: all)")
    ap.add_argument("--draws", type=int, default=200, help="random decoders for the chance levels")
    a = ap.parse_args()
    rows = []
    for job in sorted(glob.glob(os.path.join(a.map_dir, "jobs", a.glob))):
        mp, vp = os.path.join(job, "target", "M_1.npy"), os.path.join(job, "run", "V_1.npy")
        if not (os.path.exists(mp) and os.path.exists(vp)):
            continue
        m, v = np.load(mp), np.load(vp)
        if v.shape[0] != m.shape[0]:
            v = v.T  # rows of V are d-vectors: store as d x units
        rows.append((os.path.basename(job), m, v) + scores(m, v))
    if not rows:
        raise SystemExit(f"{a.map_dir}: no job with target/M_1.npy and run/V_1.npy")
    print(f"{'job':48s} {'in span':>8s} {'best |cos|':>10s}")
    for name, _, _, s, b in rows:
        print(f"{name:48s} {s:8.3f} {b:10.3f}")
    rng = np.random.default_rng(0)
    _, m, v, _, _ = rows[0]
    chance = np.array([scores(np.linalg.qr(rng.standard_normal(m.shape))[0],
                              rng.standard_normal(v.shape)) for _ in range(a.draws)])
    s = np.array([r[3] for r in rows])
    b = np.array([r[4] for r in rows])
    print(f"\n{len(rows)} runs: V_1 rows in span(M_1) mean {s.mean():.3f} (range {s.min():.3f}-"
          f"{s.max():.3f}), chance {chance[:, 0].mean():.3f} (= m/d for random rows); best |cos| "
          f"to a true column mean {b.mean():.3f} (range {b.min():.3f}-{b.max():.3f}), chance "
          f"{chance[:, 1].mean():.3f}  [chance for the first job's shape, {a.draws} draws]")


if __name__ == "__main__":
    main()
