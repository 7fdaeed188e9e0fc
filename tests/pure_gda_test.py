#!/usr/bin/env python3
"""CI check that pure GDA learns level-1 columns: `fsr train` with
experiments/learners/level1_gda.json (random columns, a 4x wide generator started sparse,
random discriminator: nothing about the target or its samples enters the initialisation) on a
level-1 target of the family of experiments/learners/target_level1_alpha1.json with alpha spread
over [0.5, 2] per unit. The run must meet the column bar (one-to-one matched |cos| mean >= 0.98,
worst >= 0.95), recomputed here with scipy's Hungarian solver on the saved dictionaries.

Usage: pure_gda_test.py PATH/TO/fsr LEARNER.json TARGET.json [--seed N] [--alpha-one]
                        [--decoder-bar X]

--alpha-one keeps the target's alpha (1) instead of spreading it. --decoder-bar also asks D's
decoder at the end of the run (V_1.npy: 32 rows) to align with the target's columns: matched
|cos| mean >= X, the bar of docs/learner.md "D's features", recomputed here the same way and
reported beside its chance level (the trainer's, for random rows of that shape).

The seed and the thread count are fixed and the run is deterministic on CPU, so this is not a
flaky check; docs/learner.md ("What pure GDA learns") has the seed map behind the choice of seed.
alpha/beta are not checked: pure GDA does not reach their bar (same page).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from scipy.optimize import linear_sum_assignment

ARGS = None


def matched_cosines(truth, learned):
    """One-to-one |cos| of truth's columns against learned's (docs/science.md section 2)."""
    t = truth / np.linalg.norm(truth, axis=0)
    e = learned / np.linalg.norm(learned, axis=0)
    c = np.abs(t.T @ e)
    rows, cols = linear_sum_assignment(-c)
    return c[rows, cols]


class PureGdaTest(unittest.TestCase):
    def test_random_start_learns_the_columns(self):
        with tempfile.TemporaryDirectory() as out:
            with open(ARGS.target) as f:
                target = json.load(f)
            target["seed"] = ARGS.seed
            if not ARGS.alpha_one:
                target["first_layer"]["alpha"] = [0.5, 2.0]
            with open(ARGS.learner) as f:
                learner = json.load(f)
            learner["seed"] = ARGS.seed
            learner["threads"] = 1
            tc, lc = os.path.join(out, "target.json"), os.path.join(out, "learner.json")
            with open(tc, "w") as f:
                json.dump(target, f)
            with open(lc, "w") as f:
                json.dump(learner, f)
            t, run = os.path.join(out, "T"), os.path.join(out, "run")
            r = subprocess.run([ARGS.fsr, "synth", "--config", tc, "--out", t],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            r = subprocess.run([ARGS.fsr, "train", "--target", t, "--config", lc, "--out", run],
                               capture_output=True, text=True, timeout=900)
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            with open(os.path.join(run, "metrics.jsonl")) as f:
                records = [json.loads(line) for line in f if line.strip()]
            truth = np.load(os.path.join(t, "M_1.npy"))
            learned = np.load(os.path.join(run, "model", "M_1.npy"))
            cos = matched_cosines(truth, learned)
            first, last = records[0], records[-1]
            start = first["recovery"][0]
            v = last["v_cosine"][0]
            print("columns: start %.4f/%.4f -> end %.4f/%.4f (numpy); %d channels kept; "
                  "V_1 matched |cos| %.3f, chance %.3f" % (
                      start["mean_cosine"], start["min_cosine"], cos.mean(), cos.min(),
                      learned.shape[1], v["mean_cosine"], v["chance_mean_cosine"]))
            # The record at step 0 is the random start, far from the target.
            self.assertEqual(first["step"], 0)
            self.assertLess(start["mean_cosine"], 0.8)
            # The column bar, on numpy's matching of the saved model.
            self.assertGreaterEqual(cos.mean(), 0.98)
            self.assertGreaterEqual(cos.min(), 0.95)
            # The trainer's own score agrees with numpy's (both are exact assignments; 1e-9
            # covers the float64 round trip through the .npy files).
            self.assertAlmostEqual(last["recovery"][0]["mean_cosine"], cos.mean(), delta=1e-9)
            if ARGS.decoder_bar is not None:
                vcos = matched_cosines(truth, np.load(os.path.join(run, "V_1.npy")))
                print("V_1 at the end (numpy): %.4f mean, %.4f worst; chance %.3f" % (
                    vcos.mean(), vcos.min(), v["chance_mean_cosine"]))
                self.assertGreaterEqual(vcos.mean(), ARGS.decoder_bar)
                # A bar this far above chance (0.63 for 32 rows in d = 12) is a real alignment.
                self.assertLess(v["chance_mean_cosine"], ARGS.decoder_bar - 0.2)
                # V_1.npy is the decoder the last record scored: the same float64 values and an
                # exact assignment on both sides (1e-16 measured), so 1e-9 as for the columns.
                self.assertAlmostEqual(v["mean_cosine"], vcos.mean(), delta=1e-9)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("fsr")
    ap.add_argument("learner")
    ap.add_argument("target")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--alpha-one", action="store_true")
    ap.add_argument("--decoder-bar", type=float)
    ARGS = ap.parse_args()
    unittest.main(argv=sys.argv[:1])
