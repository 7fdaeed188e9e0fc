#!/usr/bin/env python3
"""Error against the number of samples N: the first-layer moment estimator on a target's codes.

    /usr/bin/python3 examples/error_vs_n.py [--out DIR] [--quick]

For each N, seeds independent batches of the true first-layer codes S_1 of the target
experiments/learners/target_level1.json (alpha spread over [0.5, 2]) are fitted by the moment
estimator (fsrlab.fit_first_layer); the error is the worst unit's |alpha_hat - alpha| / alpha.
Prints the fitted log-log slope (the truncated-moment rate is -1/2, docs/science.md §3) and draws
DIR/error_vs_n.pdf and .png in the report style (reports/fsrplot/style.py). --quick: 3 seeds and
N up to 10^4 (a few seconds); the default, 10 seeds up to 10^5.
"""
import argparse
import os
import sys

import numpy as np

import fsrlab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "reports"))
from fsrplot import style  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--out", default="out/examples/error_vs_n")
ap.add_argument("--quick", action="store_true", help="3 seeds, N up to 10^4")
args = ap.parse_args()
ns = [300, 1000, 3000, 10000] + ([] if args.quick else [30000, 100000])
seeds = range(3 if args.quick else 10)

# The measurement: sample codes, fit, compare with the planted alpha.
target = fsrlab.build_target(os.path.join(ROOT, "experiments/learners/target_level1.json"))
err = np.array([[np.nanmax(np.abs(fsrlab.fit_first_layer(
    target.sample(n, first=seed * 10**6, hidden=True)["S"][0], method="moments")["alpha"]
    - target.alpha) / target.alpha) for seed in seeds] for n in ns])
slope = np.polyfit(np.log(ns), np.log(np.median(err, axis=1)), 1)[0]
print(f"worst-unit alpha error, median over {len(seeds)} seeds: "
      + ", ".join(f"N={n}: {e:.4f}" for n, e in zip(ns, np.median(err, axis=1))))
print(f"log-log slope {slope:.3f} (truncated-moment rate -0.5)")

style.apply()
fig, (ax,) = style.figure()
ax.loglog(np.repeat(ns, len(seeds)), err.ravel(), ".", color=style.series(0), alpha=0.4)
ax.loglog(ns, np.median(err, axis=1), "o-", color=style.series(0), label="moments, median")
ax.loglog(ns, np.median(err, axis=1)[0] * (np.array(ns) / ns[0]) ** -0.5, ":",
          color=style.ROLE["reference"], label="$N^{-1/2}$")
ax.set(xlabel="samples N", ylabel=r"worst-unit $\alpha$ error")
style.label_log_minor(ax)
style.legend(ax)
os.makedirs(args.out, exist_ok=True)
print("wrote", ", ".join(os.path.join(args.out, f) for f in style.save(fig, args.out, "error_vs_n")))
