#!/usr/bin/env python3
"""CI check of experiments/suites/agnostic_bfc.json (docs/agnostic_bfc.md): runs its `ci` size
(control and output-noise targets, layer-wise / layer-wise + joint fine-tune / joint) through
`fsr run`, checks that every job finished with docs/science.md §2's distribution metrics per level (moment
mismatch orders 1..4 and sliced W1, each with its two-sample noise floor), recomputes the summary
rows from the jobs' own analysis documents, checks the claims the ci run supports (margins next
to each, from docs/agnostic_bfc.md), and that `fsr report` draws one schedules figure per target.

Usage: agnostic_bfc_suite_test.py PATH/TO/fsr PATH/TO/experiments/suites   (builds with LibTorch)
"""
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import unittest

import suite_run

FSR = SUITES = None
OUT = None
RUN = None
SUITE = "agnostic_bfc"
SCHEDULES = ("layerwise", "layerwise_finetune", "joint")
TARGETS = ("control", "output_noise")


CI_RUN = suite_run.CiSuiteRun(SUITE, reuse_env="FSR_BFC_REUSE", prefix="fsr_bfc_",
                              run_args=["--jobs", "2"], timeout=1200)


def setUpModule():
    global OUT, RUN
    OUT, RUN = CI_RUN.start(FSR, SUITES)


def tearDownModule():
    CI_RUN.cleanup()


def summary():
    with open(os.path.join(OUT, SUITE, "summary.json")) as f:
        return json.load(f)


def row(target, job):
    rows = [r for r in summary()["jobs"] if r["target"] == target and r["job"] == job]
    assert len(rows) == 1, (target, job)
    return rows[0]["values"]


def finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class AgnosticBfcSuite(unittest.TestCase):
    def test_0_run_completed(self):
        code, err = RUN
        self.assertEqual(code, 0, err)
        s = summary()
        self.assertTrue(s["complete"], s.get("missing"))
        self.assertEqual(len(s["jobs"]), len(TARGETS) * len(SCHEDULES))

    def test_metrics_per_level_with_floors(self):
        for t in TARGETS:
            for j in SCHEDULES:
                v = row(t, j)
                self.assertEqual(v["status"], "completed", (t, j))
                for l in (0, 1):
                    d = f"analysis.levels.{l}.distribution."
                    for k in range(4):
                        self.assertTrue(finite(v[d + f"moment_mismatch.{k}"]) and v[d + f"moment_mismatch.{k}"] >= 0)
                    self.assertEqual(len(v[d + "moment_mismatch_floor"]), 4)
                    self.assertTrue(v[d + "sliced_w1"] > 0 and v[d + "sliced_w1_floor"] > 0, (t, j, l))

    def test_summary_rows_are_the_jobs_analyses(self):
        for path in glob.glob(os.path.join(OUT, SUITE, "jobs", "*", "run", "analysis.json")):
            job_id = path.split(os.sep)[-3]
            target, job = job_id.split(".")[:2]
            with open(path) as f:
                a = json.load(f)
            v = row(target, job)
            for l in (0, 1):
                self.assertAlmostEqual(a["levels"][l]["distribution"]["sliced_w1"],
                                       v[f"analysis.levels.{l}.distribution.sliced_w1"], places=12)

    def sw1(self, target, job, level):
        v = row(target, job)
        d = f"analysis.levels.{level}.distribution."
        return v[d + "sliced_w1"], v[d + "sliced_w1_floor"]

    def test_control_reaches_its_noise_floor(self):
        # Well specified: every schedule within 1.3 x the two-sample floor at both levels
        # (measured 0.98-1.12 x at ci size).
        for j in SCHEDULES:
            for l in (0, 1):
                w, floor = self.sw1("control", j, l)
                print(f"control {j} level {l + 1}: SW1 {w:.5f}, floor {floor:.5f}")
                self.assertLess(w, 1.3 * floor, (j, l))

    def test_output_noise_is_out_of_reach_for_every_schedule(self):
        # The generator has no output noise: no schedule comes near the floor (measured
        # 3.1-4.1 x at ci size).
        for j in SCHEDULES:
            for l in (0, 1):
                w, floor = self.sw1("output_noise", j, l)
                print(f"output_noise {j} level {l + 1}: SW1 {w:.5f}, floor {floor:.5f}")
                self.assertGreater(w, 2.5 * floor, (j, l))

    def test_fine_tune_corrects_level_1_on_output_noise(self):
        # BFC on the misspecified target: the joint fine-tune lowers level 1's distance below
        # layer-wise training's (measured 0.0184 vs 0.0238, -23 %; asserted at -10 %).
        lw, _ = self.sw1("output_noise", "layerwise", 0)
        ft, _ = self.sw1("output_noise", "layerwise_finetune", 0)
        self.assertLess(ft, 0.9 * lw)

    def test_report_draws_one_schedules_figure_per_target(self):
        # The summary alone (the runs' own analysis and training figures are other tests').
        only = os.path.join(OUT, "summary_only")
        os.makedirs(only, exist_ok=True)
        shutil.copy(os.path.join(OUT, SUITE, "summary.json"), only)
        fig = os.path.join(OUT, "figs")
        r = subprocess.run([FSR, "report", only, "--out", fig],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        for t in TARGETS:
            self.assertTrue(glob.glob(os.path.join(fig, f"suite_*_schedules_{t}.png")), t)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    FSR, SUITES = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], "-v"])
