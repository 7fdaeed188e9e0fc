#!/usr/bin/env python3
"""Level-1 recovery from Python: plant a target, train the GDA learner on it, score what came back.

    /usr/bin/python3 examples/level1_recovery.py [--out DIR] [--quick]

The recipe is experiments/learners/level1.json on the target family of
experiments/learners/target_level1_alpha1.json (docs/learner.md says what it recovers and why:
read it before citing the numbers). --quick trains 300 steps at batch 512 instead of 2000 at
2048 (about 10 s instead of 40 s on one core; ctest runs it so). Prints the matched cosines of the
learned output columns and the first layer's worst alpha / beta errors, and writes DIR/target,
DIR/run (model, metrics, checkpoint) and DIR/run/analysis.json.
"""
import argparse
import json
import os
import shutil

import fsrlab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--out", default="out/examples/level1_recovery")
ap.add_argument("--quick", action="store_true", help="300 steps at batch 512")
args = ap.parse_args()
shutil.rmtree(args.out, ignore_errors=True)  # a fresh run each time
learner = json.load(open(os.path.join(ROOT, "experiments/learners/level1.json")))
if args.quick:
    learner["schedule"]["steps"], learner["sgda"]["batch"] = 300, 512


def progress(record):  # called with every metrics record of the run (a dict)
    cos = record["recovery"][0]
    print(f"step {record['step']:5d}: matched |cos| mean {cos['mean_cosine']:.4f}")


# The whole pipeline: four calls.
target = fsrlab.build_target(os.path.join(ROOT, "experiments/learners/target_level1_alpha1.json"))
target.save(f"{args.out}/target")
fsrlab.train(f"{args.out}/target", learner, f"{args.out}/run", progress=progress)
level1 = fsrlab.analyze(f"{args.out}/target", f"{args.out}/run",
                        out=f"{args.out}/run/analysis.json")["levels"][0]

cols, first = level1["columns"], level1["first_layer"]
print(f"M_1 matched |cos|: mean {cols['mean_cosine']:.4f}, worst {cols['min_cosine']:.4f}")
print(f"alpha max rel. error {first['alpha_max_relative']:.3f}, "
      f"beta {first['beta_max_relative']:.3f}, rho max abs. error {first['rho_max_abs_error']:.3f}")
