#!/usr/bin/env python3
"""CI check of super-resolution (level-2) recovery and of the locality suite.

Usage: super_resolution_suite_test.py PATH/TO/fsr PATH/TO/experiments/suites
(run by ctest in builds with LibTorch).

The level-2 bar: W_2 relative Frobenius error <= 0.1 after the permutations and scales of
docs/science.md §2, over the entries of W_2 the target's data identifies (score/recovery.h
identified_weights: an entry no co-active parent/child pair ever exercises is only bounded — seed
1 has 8 such entries, 12.7% of ||W_2||, so its raw error cannot go below 0.127 for any estimator;
docs/learner.md 'Level 2'). Both ci seeds must meet it, and level 1 must stay at its bar while
level 2 trains. Stated success rate: 2 of 2 ci seeds (5 of 5 in docs/learner.md). Runs are
deterministic on CPU for a seed and thread count, so the check is not flaky.

It also recomputes, independently in numpy from the stored target and learned model, the
functional error the analyzer reports (S_2 from the true S_1 through each model's W_2, b_2, after
the level-1 and level-2 permutations and scales of docs/science.md §2) and the identified-entries W_2 error
(the identified entries counted from those true codes).
"""
import json
import os
import shutil
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
            # Level 1 stays at the bar through stage 2 (it is frozen there).
            self.assertGreaterEqual(l1["columns"]["mean_cosine"], 0.98, detail)
            self.assertGreaterEqual(l1["columns"]["min_cosine"], 0.95, detail)
            self.assertLessEqual(l1["first_layer"]["alpha_max_relative"], 0.05, detail)
            self.assertLessEqual(l1["first_layer"]["beta_max_relative"], 0.05, detail)
            # Level 2: the bar on the identified entries (measured, docs/learner.md 'Level
            # 2', seeds 1 / 2: 0.048 / 0.079), columns at the level-1 bar (measured 0.9993 /
            # 0.9978 mean, 0.9987 / 0.9963 worst).
            sr = l2["super_resolution"]
            self.assertLessEqual(sr["w_identified_relative"], 0.1, detail)
            self.assertTrue(l2["meets_bar"], detail)
            self.assertGreaterEqual(l2["columns"]["mean_cosine"], 0.98, detail)
            self.assertGreaterEqual(l2["columns"]["min_cosine"], 0.95, detail)
            a = res["analysis"]["levels"][1]["super_resolution"]
            self.assertEqual(a["w_identified_relative"], sr["w_identified_relative"], detail)
            # Functional error given the true S_1 (measured 0.052 / 0.058; the k-means-only start
            # of commit 01773c1 gave 0.21 / 0.26). Bound 0.1.
            self.assertLessEqual(a["functional_error"], 0.1, detail)
            self.check_functional_error(os.path.join(out, "jobs", job_id), a)

    def check_functional_error(self, job_dir, reported_sr):
        reported = reported_sr["functional_error"]
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
        # Monte Carlo on other draws than the analyzer's: allowed 5% + 0.005 (a wrong permutation
        # or scale gives > 2x).
        self.assertAlmostEqual(mine, reported, delta=0.05 * reported + 0.005)
        # Identified entries: (i, j, ky, kx) with parent i active at (py, px) and child j active
        # at (2 py + ky, 2 px + kx) in one of the first 20 000 draws of the target's stream (the
        # analyzer's definition, score/recovery.h). Some entries are so rarely co-active that the
        # mask depends on the draws (this test's first version, on 20 000 other draws, found 4
        # unidentified entries where the analyzer found 5): the same draws come from `fsr synth
        # --samples 20000 --hidden` on the job's target config (its fingerprint checked), the
        # counting is redone here, and the error then agrees to roundoff (1e-9).
        with open(os.path.join(job_dir, "target", "target.json")) as f:
            meta = json.load(f)
        with tempfile.TemporaryDirectory() as tmp:
            cfg = os.path.join(tmp, "config.json")
            with open(cfg, "w") as f:
                json.dump(meta["config"], f)
            r = subprocess.run([FSR, "synth", "--config", cfg, "--out", os.path.join(tmp, "t"),
                                "--samples", "20000", "--hidden", "--json"],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            with open(os.path.join(tmp, "t", "target.json")) as f:
                self.assertEqual(json.load(f)["fingerprint"], meta["fingerprint"])
            a = (np.load(os.path.join(tmp, "t", "S_1.npy")) > 0).astype(float)
            c_all = (np.load(os.path.join(tmp, "t", "S_2.npy")) > 0).astype(float)
        seen = np.zeros(t["W_2"].shape, bool)
        for ky in range(2):
            for kx in range(2):
                c = c_all[:, :, ky::2, kx::2]
                seen[:, :, ky, kx] = np.einsum("nipq,njpq->ij", a, c) > 0
        d = (m["W_2"][p1][:, p2] - t["W_2"])[seen]
        mine = np.linalg.norm(d) / np.linalg.norm(t["W_2"][seen])
        self.assertEqual(int((~seen).sum()), reported_sr["unidentified_entries"])
        self.assertAlmostEqual(mine, reported_sr["w_identified_relative"], delta=1e-9)

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
        # error 0.030 patches vs 0.027 whole image, W_2 identified 0.024 vs 0.023, level-2
        # columns 0.9998 vs 0.9998). Bound: within 0.05 (a lost column or a W_2 at the old
        # k-means start moves it by > 0.15). NOTE (docs/suites.md): W_2 is set by the local
        # warm start and GDA keeps it, so the suite cannot show that *learning* is local; it
        # shows that global features do not change the result.
        def sr(q):
            return by_quad[q]["analysis"]["levels"][1]["super_resolution"]["functional_error"]
        self.assertLess(abs(sr("full") - sr("diag")), 0.05, (sr("full"), sr("diag")))
        cos = {q: by_quad[q]["train"]["recovery"]["levels"][1]["columns"]["mean_cosine"]
               for q in by_quad}
        self.assertLess(abs(cos["full"] - cos["diag"]), 0.02, cos)
        # The paper's Fig. 9 counterpart, drawn from the suite's summary alone; its notes carry
        # the numbers the figure shows, the same as the jobs' results.
        fig = os.path.join(out, "figures")
        trim = os.path.join(OUT, "locality_summary")
        os.makedirs(trim, exist_ok=True)
        shutil.copy(os.path.join(out, "summary.json"), trim)
        r = subprocess.run([FSR, "report", trim, "--out", fig, "--json"], capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        report = json.loads(r.stdout)
        self.assertEqual(report["problems"], [])
        self.assertIn("fig9_locality.png", report["figures"])
        with open(os.path.join(fig, "report.md")) as f:
            md = f.read()
        self.assertIn("functional %.4f" % sr("diag"), md)


if __name__ == "__main__":
    FSR, SUITES = sys.argv.pop(1), sys.argv.pop(1)
    OUT = tempfile.mkdtemp(prefix="fsr_sr_suites_")
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(OUT, ignore_errors=True)
