#!/usr/bin/env python3
"""End-to-end checks of the `fsr` command-line contract, with numpy as the independent party.

Usage: fsr_cli_test.py PATH/TO/fsr   (run by ctest)
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import unittest

import numpy as np

FSR = None


def run(*args):
    return subprocess.run([FSR, *args], capture_output=True, text=True, timeout=120)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def json_of(self, *args):
        r = run(*args, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, "--json must print exactly one JSON object")
        doc = json.loads(lines[0])
        self.assertEqual(doc["schema_version"], 1)
        self.assertIn("manifest", doc)
        return doc

    def assert_bad_input(self, args, *needles):
        before = sorted(os.listdir(self.dir))
        r = run(*args)
        self.assertEqual(r.returncode, 2, "stdout=%r stderr=%r" % (r.stdout, r.stderr))
        self.assertEqual(r.stdout, "")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])
        self.assertEqual(sorted(os.listdir(self.dir)), before, "bad input must write nothing")

    def test_moments_match_closed_form_computed_here(self):
        alpha, beta = 2.0, 1.0
        doc = self.json_of("moments", "--alpha", str(alpha), "--beta", str(beta), "--order", "2")
        t = beta / alpha
        q = 0.5 * math.erfc(t / math.sqrt(2))
        phi = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
        # Python's erfc and exp are independent of Boost; 1e-12 covers double roundoff.
        self.assertAlmostEqual(doc["p_active"], q, delta=1e-12)
        self.assertAlmostEqual(doc["moments"][0], alpha * (phi - t * q), delta=1e-12)
        self.assertAlmostEqual(doc["moments"][1], alpha**2 * ((1 + t * t) * q - t * phi),
                               delta=1e-12)

    def test_moments_bad_input(self):
        self.assert_bad_input(["moments", "--alpha", "-1", "--beta", "0"], "alpha = -1")
        self.assert_bad_input(["moments", "--alpha", "1", "--beta", "0", "--order", "0"], "--order = 0")
        self.assert_bad_input(["moments", "--alpha", "1"], "--beta")

    def test_match_recovers_a_permutation_written_by_numpy(self):
        rng = np.random.default_rng(0)
        truth, _ = np.linalg.qr(rng.standard_normal((12, 6)))
        perm = rng.permutation(8)  # estimate column perm[i] holds truth column i (or noise)
        estimate = rng.standard_normal((12, 8))
        for i in range(6):
            estimate[:, perm[i]] = 3.0 * truth[:, i]
        np.save(self.path("T.npy"), truth)
        np.save(self.path("E.npy"), estimate.astype(np.float32))
        doc = self.json_of("match", "--truth", self.path("T.npy"), "--estimate",
                           self.path("E.npy"))
        self.assertEqual(doc["permutation"], [int(p) for p in perm[:6]])
        self.assertEqual(sorted(doc["unmatched"]), sorted(int(p) for p in perm[6:]))
        self.assertGreater(doc["min_cosine"], 1 - 1e-6)  # float32 storage: ~1e-7 relative
        self.assertEqual(doc["fraction_above"], 1.0)

    def test_match_bad_input(self):
        np.save(self.path("T.npy"), np.eye(4))
        np.save(self.path("short.npy"), np.eye(5)[:, :3])
        bad = np.eye(4)
        bad[1, 2] = np.nan
        np.save(self.path("nan.npy"), bad)
        np.save(self.path("fortran.npy"), np.asfortranarray(np.arange(16.0).reshape(4, 4)))
        np.save(self.path("int.npy"), np.eye(4, dtype=np.int32))
        with open(self.path("T.npy"), "rb") as f:
            whole = f.read()
        with open(self.path("cut.npy"), "wb") as f:
            f.write(whole[:-8])
        with open(self.path("junk.npy"), "wb") as f:
            f.write(b"this is not an array")
        t = ["match", "--truth", self.path("T.npy"), "--estimate"]
        self.assert_bad_input(t + [self.path("short.npy")], "estimate")
        self.assert_bad_input(t + [self.path("nan.npy")], "--estimate[1, 2] = nan")
        self.assert_bad_input(t + [self.path("fortran.npy")], "Fortran order")
        self.assert_bad_input(t + [self.path("int.npy")], "dtype '<i4'")
        self.assert_bad_input(t + [self.path("cut.npy")], "truncated")
        self.assert_bad_input(t + [self.path("junk.npy")], "not a .npy file")
        self.assert_bad_input(t + [self.path("missing.npy")], "missing.npy")
        self.assert_bad_input(t + [self.path("T.npy"), "--threshold", "1.5"], "threshold")

    def test_fit_first_layer_on_planted_units(self):
        rng = np.random.default_rng(1)
        n = 40000
        alpha = np.array([1.0, 2.0, 0.5])
        beta = np.array([0.5, 2.0, 0.0])
        g = rng.standard_normal((n, 3))
        s = np.maximum(alpha * g - beta, 0.0)
        np.save(self.path("S.npy"), s)
        doc = self.json_of("fit-first-layer", "--samples", self.path("S.npy"))
        for key in ("alpha", "beta", "rho", "n_active", "stderr_alpha", "stderr_beta"):
            self.assertIn(key, doc)
        a_hat, se = np.array(doc["alpha"]), np.array(doc["stderr_alpha"])
        b_hat, se_b = np.array(doc["beta"]), np.array(doc["stderr_beta"])
        # Within 4 standard errors (fixed seed; 4 s.e. is a 6e-5 two-sided event per unit).
        self.assertTrue(np.all(np.abs(a_hat - alpha) < 4 * se), (a_hat, alpha, se))
        self.assertTrue(np.all(np.abs(b_hat - beta) < 4 * se_b), (b_hat, beta, se_b))
        self.assertEqual(doc["n_active"], [int(c) for c in (s > 0).sum(axis=0)])
        rho = np.array(doc["rho"])
        self.assertTrue(np.all(np.abs(rho - np.eye(3)) < 0.05), rho)  # independent units

    def test_fit_first_layer_bad_input(self):
        np.save(self.path("vec.npy"), np.ones(5))
        np.save(self.path("neg.npy"), -np.ones((5, 2)))
        bad = np.ones((5, 2))
        bad[3, 1] = np.inf
        np.save(self.path("inf.npy"), bad)
        self.assert_bad_input(["fit-first-layer", "--samples", self.path("vec.npy")], "shape (5,)")
        self.assert_bad_input(["fit-first-layer", "--samples", self.path("neg.npy")], ">= 0")
        self.assert_bad_input(["fit-first-layer", "--samples", self.path("inf.npy")], "inf")
        self.assert_bad_input(["fit-first-layer", "--samples", self.path("vec.npy"), "--method",
                               "magic"], "--method")

    def test_synth_writes_arrays_numpy_reads_with_documented_shapes(self):
        config = {"levels": 2, "grid": 2, "channels": [8, 8], "patch": 2, "colors": 3,
                  "kernel": 2, "active": [0.1, 0.1],
                  "first_layer": {"correlation": "independent", "latent_dim": 16,
                                  "alpha": [0.5, 2.0]},
                  "dictionary": {"kind": "orthonormal", "coherence": 0.1},
                  "noise": 0.0, "seed": 1}
        with open(self.path("c.json"), "w") as f:
            json.dump(config, f)
        out = self.path("t")
        self.json_of("synth", "--config", self.path("c.json"), "--out", out, "--samples", "50",
                     "--hidden")
        # docs/target_format.md: X_l is N x c x (r h_l) x (r h_l), S_l is N x m_l x h_l x h_l,
        # M_l is d x m_l, alpha/beta have h_1^2 m_1 entries.
        self.assertEqual(np.load(os.path.join(out, "X_1.npy")).shape, (50, 3, 4, 4))
        self.assertEqual(np.load(os.path.join(out, "X_2.npy")).shape, (50, 3, 8, 8))
        self.assertEqual(np.load(os.path.join(out, "S_2.npy")).shape, (50, 8, 4, 4))
        m1 = np.load(os.path.join(out, "M_1.npy"))
        self.assertEqual(m1.shape, (12, 8))
        self.assertEqual(np.load(os.path.join(out, "alpha.npy")).shape, (32,))
        # X_1 patch p = M_1 S_1[p], with d ordered (colour, dy, dx): recompute it here.
        s1 = np.load(os.path.join(out, "S_1.npy"))
        x1 = np.load(os.path.join(out, "X_1.npy"))
        patch = np.einsum("dm,nm->nd", m1, s1[:, :, 1, 0]).reshape(50, 3, 2, 2)
        np.testing.assert_allclose(x1[:, :, 2:4, 0:2], patch, atol=1e-12)
        report = self.json_of("inspect", out)
        self.assertIn("schema_version", report)

    def test_synth_bad_config_writes_nothing(self):
        with open(self.path("bad.json"), "w") as f:
            json.dump({"levels": 2, "grid": 2, "channels": [8, 8], "patch": 2, "colors": 3,
                       "active": [0.1, 1.4], "seed": 1}, f)
        self.assert_bad_input(["synth", "--config", self.path("bad.json"), "--out",
                               self.path("t")], "active[1] = 1.4")
        with open(self.path("typo.json"), "w") as f:
            json.dump({"levels": 1, "grid": 2, "channels": [8], "patch": 2, "colors": 3,
                       "active": [0.1], "first_layer": {"corelation": "latent"}}, f)
        self.assert_bad_input(["synth", "--config", self.path("typo.json"), "--out",
                               self.path("t")], "first_layer.corelation")

    def test_analyze_a_target_against_itself_and_bad_run_dirs(self):
        config = {"levels": 2, "grid": 2, "channels": [6, 6], "patch": 2, "colors": 3,
                  "active": [0.2, 0.2], "seed": 3}
        with open(self.path("c.json"), "w") as f:
            json.dump(config, f)
        target = self.path("t")
        self.json_of("synth", "--config", self.path("c.json"), "--out", target)
        # A target read as a "learned model" is recovered exactly (a run dir in target layout).
        doc = self.json_of("analyze", "--target", target, "--run", target, "--samples", "500",
                           "--out", self.path("analysis.json"))
        level1, level2 = doc["levels"]
        self.assertAlmostEqual(level1["columns"]["min_cosine"], 1.0, delta=1e-12)
        self.assertAlmostEqual(level2["columns"]["min_cosine"], 1.0, delta=1e-12)
        self.assertLess(level1["first_layer"]["alpha_max_relative"], 1e-12)
        self.assertLess(level2["super_resolution"]["w_relative"], 1e-12)
        with open(self.path("analysis.json")) as f:
            written = json.load(f)
        self.assertEqual(written["schema_version"], 1)
        os.remove(self.path("analysis.json"))
        self.assert_bad_input(["analyze", "--target", target, "--run", self.path("nowhere")],
                              "--run", "nowhere")
        self.assert_bad_input(["analyze", "--target", self.path("nowhere"), "--run", target],
                              "--target")


    def test_train_on_an_image_pyramid_has_no_planted_truth(self):
        if not re.search(r"^\s+train\s", run("--help").stdout, re.M):
            self.skipTest("fsr built without LibTorch (the sanitizer build): no train command")
        # A 48 x 40 RGB texture written as PPM here (no image library), cropped by fsr pyramid into
        # 300 two-level samples (sides 4, 8); the learner trains on the first 200.
        h, w = 40, 48
        y, x = np.mgrid[0:h, 0:w]
        img = np.stack([(7 * y + 13 * x) % 256, (3 * x * y) % 256, (5 * y + 2 * x + 40) % 256],
                       axis=-1).astype(np.uint8)
        with open(self.path("img.ppm"), "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (w, h))
            f.write(img.tobytes())
        pyr = self.path("pyr")
        r = run("pyramid", "--images", self.path("img.ppm"), "--levels", "2", "--grid", "2",
                "--patch", "2", "--colors", "3", "--samples", "300", "--out", pyr)
        self.assertEqual(r.returncode, 0, r.stderr)
        config = {"threads": 1,
                  "generator": {"kernel": 2, "channels": [4], "columns_init": "patch_kmeans",
                                "up_init": "regression", "correlation": "independent",
                                "warm_start_samples": 200, "mod_rounds": 5},
                  "discriminator": {"readout": "optimal", "quadratic": "diag"},
                  "sgda": {"d_steps": 1, "batch": 64},
                  "data": {"source": "fixed", "train_samples": 200},
                  "schedule": {"kind": "layerwise_finetune", "steps": [20, 20],
                               "finetune_steps": 10},
                  "log": {"every": 10, "checkpoint_every": 0, "eval_samples": 64}}
        cfg, bad = self.path("c.json"), self.path("bad.json")
        with open(cfg, "w") as f:
            json.dump(config, f)
        with open(bad, "w") as f:
            json.dump(dict(config, data={"source": "stream"}), f)
        self.assert_bad_input(["train", "--target", pyr, "--config", bad, "--out", self.path("b")],
                              "data.source = stream: must be fixed", "no generator")
        out = self.path("run")
        doc = self.json_of("train", "--target", pyr, "--config", cfg, "--out", out)
        self.assertEqual(doc["status"], "completed")
        self.assertIsNone(doc["recovery"])
        self.assertIn("no planted truth", doc["no_planted_truth"])
        with open(os.path.join(out, "model", "target.json")) as f:
            arch = json.load(f)["architecture"]
        self.assertEqual((arch["kernel"], arch["channels"]), (2, [4, 4]))
        a = self.json_of("analyze", "--target", pyr, "--run", out, "--samples", "50")
        self.assertIs(a["planted"], False)
        self.assertEqual(a["held_out_first"], 200)
        for lv in a["levels"]:
            self.assertIsNone(lv["recovery"])
            self.assertEqual(lv["distribution"]["samples"], 50)  # halves of the 100 held out
            self.assertGreater(lv["distribution"]["sliced_w1_floor"], 0)

if __name__ == "__main__":
    FSR = sys.argv.pop(1)
    unittest.main(verbosity=2)
