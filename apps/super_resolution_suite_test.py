#!/usr/bin/env python3
"""CI check of super-resolution (level-2) recovery and of the locality suite (issues 4 and 5).

Usage: super_resolution_suite_test.py PATH/TO/fsr PATH/TO/experiments/suites
(run by ctest in builds with LibTorch).

The learner does NOT meet issue 4's level-2 bar (W_2 relative Frobenius error <= 0.1; see
docs/learner.md 'Level 2'). What this test guards is the level it does reach, measured on these
seeds (docs/learner.md gives the numbers), with margins stated beside each bound: a change that
loses level-2 recovery — or level 1 while level 2 trains — cannot land. Stated success rate: 2 of
2 ci seeds. Runs are deterministic on CPU for a seed and thread count, so the check is not flaky.

It also checks that the functional error the analyzer reports is recomputed independently here,
in numpy, from the stored target and learned model (S_2 from the true S_1 through each model's
W_2, b_2, after the level-1 and level-2 permutations and scales of SPEC §2).
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

FSR = SUITES = None
OUT = None


def run(name):
    out = os.path.join(OUT, name)
    r = subprocess.run([FSR, "run", os.path.join(SUITES, name + ".json"), "--out", out,
                        "--size", "ci", "--jobs", "2", "--json"],
                       capture_output=True, text=True, timeout=1200)
    return r, out


def results(out):
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    rows = []
    for job in summary["jobs"]:
        with open(os.path.join(out, "jobs", job["id"], "result.json")) as f:
            rows.append((job["id"], json.load(f)["result"]))
    return summary, rows


def up(s1, w, b):
    """S_2 = ReLU(ConvTranspose2d(S_1; W, stride 2, kernel 2) - b), s1: (N, m1, h, h)."""
    n, _, h, _ = s1.shape
    out = np.zeros((n, w.shape[1], 2 * h, 2 * h))
    for y in range(2 * h):
        for x in range(2 * h):
            out[:, :, y, x] = s1[:, :, y // 2, x // 2] @ w[:, :, y % 2, x % 2]
    return np.maximum(out - b[None, :, None, None], 0.0)


def unit(m):
    return m / np.linalg.norm(m, axis=0, keepdims=True)


class SuperResolutionSuites(unittest.TestCase):
    def test_level2_recovery_at_the_measured_level(self):
        r, out = run("super_resolution_recovery")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        summary, rows = results(out)
        self.assertTrue(summary["complete"], summary.get("missing"))
        self.assertEqual(len(rows), 2)
        for job_id, res in rows:
            self.assertEqual(res["status"], "completed", job_id)
            l1, l2 = res["train"]["recovery"]["levels"]
            detail = "%s: %s" % (job_id, json.dumps(res["train"]["recovery"])[:1200])
            # Level 1 stays at issue 4's bar through stage 2 (it is frozen there).
            self.assertGreaterEqual(l1["columns"]["mean_cosine"], 0.98, detail)
            self.assertGreaterEqual(l1["columns"]["min_cosine"], 0.95, detail)
            self.assertLessEqual(l1["first_layer"]["alpha_max_relative"], 0.05, detail)
            self.assertLessEqual(l1["first_layer"]["beta_max_relative"], 0.05, detail)
            # Level 2 at the measured level (docs/learner.md 'Level 2', seeds 1 / 2): columns mean
            # 0.989 / 0.972 (bound 0.96), worst 0.979 / 0.934 (bound 0.90); W_2 relative error
            # 0.459 / 0.572 (bound 0.7; a random W_2 at the target's scale stays at 1.3, a missed
            # column gave 3.1-9.4); functional error 0.207 / 0.262 (bound 0.35).
            self.assertGreaterEqual(l2["columns"]["mean_cosine"], 0.96, detail)
            self.assertGreaterEqual(l2["columns"]["min_cosine"], 0.90, detail)
            self.assertLessEqual(l2["super_resolution"]["w_relative"], 0.7, detail)
            f = res["analysis"]["levels"][1]["super_resolution"]["functional_error"]
            self.assertLessEqual(f, 0.35, detail)
            self.check_functional_error(os.path.join(out, "jobs", job_id), f)

    def check_functional_error(self, job_dir, reported):
        t = {k: np.load(os.path.join(job_dir, "target", k + ".npy"))
             for k in ("M_1", "M_2", "W_2", "b_2", "alpha", "beta")}
        m = {k: np.load(os.path.join(job_dir, "run", "model", k + ".npy"))
             for k in ("M_1", "M_2", "W_2", "b_2")}
        # Independent units (target_level2.json): S_1 = ReLU(alpha g - beta), g ~ N(0, I); unit
        # n = channel h^2 + y h + x (docs/target_format.md), so a C-order reshape to (N, m1, h, h).
        rng = np.random.default_rng(7)
        n, m1 = 20000, t["M_1"].shape[1]
        g = rng.standard_normal((n, t["alpha"].size))
        s1 = np.maximum(t["alpha"] * g - t["beta"], 0.0).reshape(n, m1, 2, 2)
        # Permutations by |cos| of the columns (one-to-one on these recovered runs: checked), and
        # the learned model's columns are unit norm (the model directory is in canonical form).
        p1 = np.abs(unit(t["M_1"]).T @ unit(m["M_1"])).argmax(1)
        p2 = np.abs(unit(t["M_2"]).T @ unit(m["M_2"])).argmax(1)
        self.assertEqual(len(set(p1)), len(p1))
        self.assertEqual(len(set(p2)), len(p2))
        # Learned level-1 unit p1[i] carries truth unit i's code in canonical scale (alpha moved
        # into the code), so it reads the true S_1 directly.
        s2_true = up(s1, t["W_2"], t["b_2"])
        s2_hat = up(s1, m["W_2"][p1][:, p2], m["b_2"][p2])
        mine = np.linalg.norm(s2_hat - s2_true) / np.linalg.norm(s2_true)
        # Monte Carlo on other draws than the analyzer's: measured 0.2028 vs 0.2074 and 0.2606 vs
        # 0.2621 on the ci seeds; allowed 5% + 0.005 (a wrong permutation or scale gives > 2x).
        self.assertAlmostEqual(mine, reported, delta=0.05 * reported + 0.005)

    def test_locality_suite(self):
        r, out = run("locality")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        summary, rows = results(out)
        self.assertTrue(summary["complete"], summary.get("missing"))
        by_quad = {}
        for job_id, res in rows:
            self.assertEqual(res["status"], "completed", job_id)
            q = "full" if "quadratic=full" in job_id else "diag"
            by_quad[q] = res
        self.assertEqual(sorted(by_quad), ["diag", "full"])
        for q, res in by_quad.items():
            d = res["analysis"]["levels"][1]["distribution"]
            for key in ("sliced_w1", "sliced_w1_floor"):
                self.assertTrue(np.isfinite(d[key]) and d[key] >= 0, (q, key, d[key]))
        # Locality: whole-image read-outs add nothing at level 2 (measured, seed 1: functional
        # error 0.202 patches vs 0.197 whole image, W_2 0.459 vs 0.457, level-2 columns 0.988 vs
        # 0.988). Bound: within 0.05 (10x the measured gap). NOTE (docs/suites.md): with this
        # learner W_2 stays at its local warm start, so the suite cannot yet show that *learning*
        # is local; it shows that global features do not change the result.
        def sr(q):
            return by_quad[q]["analysis"]["levels"][1]["super_resolution"]["functional_error"]
        self.assertLess(abs(sr("full") - sr("diag")), 0.05, (sr("full"), sr("diag")))
        cos = {q: by_quad[q]["train"]["recovery"]["levels"][1]["columns"]["mean_cosine"]
               for q in by_quad}
        self.assertLess(abs(cos["full"] - cos["diag"]), 0.02, cos)


if __name__ == "__main__":
    FSR, SUITES = sys.argv.pop(1), sys.argv.pop(1)
    OUT = tempfile.mkdtemp(prefix="fsr_sr_suites_")
    try:
        unittest.main(verbosity=2)
    finally:
        import shutil
        shutil.rmtree(OUT, ignore_errors=True)
