#!/usr/bin/env python3
"""ctest python_module_test: `import fsrlab` gives the command line's results, bit for bit.

Run with Debian's python and the build's module on the path (ctest sets both):
    PYTHONPATH=build/python FSR_BIN=build/apps/fsr /usr/bin/python3 python/fsrlab_test.py

The command line is the independent party: every result of the module is compared with what the
`fsr` executable writes for the same input (.npy files read by numpy, JSON documents), exactly —
the same C++ code runs, so any difference is a binding bug (a copy in the wrong order, a lost
digit, a default that differs). Also: arrays come back without copies, errors carry the CLI's
message, every function has help text, Ctrl-C stops training cleanly and the run resumes to the
uninterrupted result.
"""
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

import numpy as np

# This file sits beside the package's sources (python/fsrlab/, without the compiled _core): import
# the built package from PYTHONPATH, not the sources next to the script.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
import fsrlab  # noqa: E402

FSR = os.environ.get("FSR_BIN", "")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICKSTART = os.path.join(ROOT, "experiments", "targets", "quickstart.json")
LEVEL1 = os.path.join(ROOT, "experiments", "learners", "level1.json")


def fsr(*args, check=True):
    r = subprocess.run([FSR, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and r.returncode != 0:
        raise AssertionError(f"fsr {' '.join(map(str, args))}: exit {r.returncode}: {r.stderr}")
    return r


def fsr_json(*args):
    return json.loads(fsr(*args, "--json").stdout)


def without_timings(v):
    """The rule of `fsr merge` (experiments/runner.cpp): drop manifest, seconds, *_seconds."""
    if isinstance(v, dict):
        return {k: without_timings(x) for k, x in v.items()
                if not (k in ("manifest", "seconds") or (len(k) > 8 and k.endswith("_seconds")))}
    if isinstance(v, list):
        return [without_timings(x) for x in v]
    return v


def as_json_numbers(a):
    """A NumPy array as the CLI writes it: NaN -> None, nested lists."""
    return [as_json_numbers(x) for x in a] if isinstance(a, np.ndarray) and a.ndim > 0 else (
        None if isinstance(a, (float, np.floating)) and math.isnan(a) else float(a))


def small_learner(steps, every=20):
    with open(LEVEL1) as f:
        c = json.load(f)
    c["schedule"].update({"steps": steps, "levels": 1})  # level 1 of the 2-level target
    c["sgda"]["batch"] = 256
    c["log"].update({"every": every, "checkpoint_every": 0, "eval_samples": 256})
    c["threads"] = 1
    return c


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fsrlab_test_")
        cls.dir = cls.tmp.name

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, *parts):
        return os.path.join(self.dir, *parts)


class Targets(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cli = os.path.join(cls.dir, "cli_target")
        fsr("synth", "--config", QUICKSTART, "--out", cls.cli, "--samples", 300, "--hidden")
        cls.t = fsrlab.build_target(QUICKSTART)

    def test_parameters_equal_the_cli_files(self):
        t = self.t
        for name, mine in (("A", t.A), ("alpha", t.alpha), ("beta", t.beta)):
            np.testing.assert_array_equal(mine, np.load(os.path.join(self.cli, f"{name}.npy")), name)
        for l in range(1, t.levels + 1):
            np.testing.assert_array_equal(t.M[l - 1], np.load(os.path.join(self.cli, f"M_{l}.npy")))
        for l in range(2, t.levels + 1):
            np.testing.assert_array_equal(t.W[l - 2], np.load(os.path.join(self.cli, f"W_{l}.npy")))
            np.testing.assert_array_equal(t.b[l - 2], np.load(os.path.join(self.cli, f"b_{l}.npy")))
        with open(os.path.join(self.cli, "target.json")) as f:
            doc = json.load(f)
        self.assertEqual(t.architecture, doc["architecture"])
        self.assertEqual(t.config, doc["config"])

    def test_samples_equal_fsr_synth(self):
        s = self.t.sample(300, hidden=True)
        for l in range(1, self.t.levels + 1):
            np.testing.assert_array_equal(s["X"][l - 1], np.load(os.path.join(self.cli, f"X_{l}.npy")))
            np.testing.assert_array_equal(s["S"][l - 1], np.load(os.path.join(self.cli, f"S_{l}.npy")))
        # Sample i is the same whatever the first index, count and threads (blocks of 32).
        part = self.t.sample(50, first=101, threads=2)
        np.testing.assert_array_equal(part["X"][1], s["X"][1][101:151])

    def test_arrays_are_views_that_keep_their_owner_alive(self):
        s = fsrlab.build_target(QUICKSTART).sample(64, hidden=True)
        x = s["X"][1]
        self.assertEqual(x.shape, (64, 3, 8, 8))
        self.assertEqual(s["S"][0].shape, (64, 8, 2, 2))
        self.assertFalse(x.flags.owndata)   # a view of the C++ buffer, not a copy
        self.assertFalse(x.flags.writeable)
        self.assertTrue(x.flags.c_contiguous)
        t = fsrlab.build_target(QUICKSTART)
        alpha, M = t.alpha, t.M[0]
        self.assertFalse(alpha.flags.owndata)
        self.assertEqual(M.shape, (12, 8))
        del t, s
        import gc
        gc.collect()
        # The views still read the right numbers after their owners went out of scope.
        np.testing.assert_array_equal(alpha, np.load(os.path.join(self.cli, "alpha.npy")))
        np.testing.assert_array_equal(x, np.load(os.path.join(self.cli, "X_2.npy"))[:64])

    def test_dict_config_and_save_load_round_trip(self):
        with open(QUICKSTART) as f:
            t = fsrlab.build_target(json.load(f))
        np.testing.assert_array_equal(t.M[1], self.t.M[1])
        t.save(self.path("saved"))
        u = fsrlab.load_target(self.path("saved"))
        np.testing.assert_array_equal(u.sample(40)["X"][1], t.sample(40)["X"][1])
        report = u.inspect(samples=500)
        self.assertEqual(len(report["activity"]), 2)

    def test_non_gaussian_first_layer_equals_fsr_synth(self):
        # first_layer.noise (docs/target_format.md §2, "Latent laws") passes through the dict
        # config like any field: the module's Laplace and mixture targets are fsr synth's, bit for
        # bit, and their normalised config names the law.
        with open(QUICKSTART) as f:
            base = json.load(f)
        for law in ("laplace", "mixture"):
            cfg = json.loads(json.dumps(base))
            cfg.setdefault("first_layer", {})["noise"] = law
            path = self.path(f"{law}.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            cli = self.path(f"cli_{law}")
            fsr("synth", "--config", path, "--out", cli, "--samples", 64, "--hidden")
            t = fsrlab.build_target(cfg)
            self.assertEqual(t.config["first_layer"]["noise"], law)
            s = t.sample(64, hidden=True)
            for l in range(1, t.levels + 1):
                np.testing.assert_array_equal(s["X"][l - 1], np.load(os.path.join(cli, f"X_{l}.npy")))
                np.testing.assert_array_equal(s["S"][l - 1], np.load(os.path.join(cli, f"S_{l}.npy")))
            np.testing.assert_array_equal(t.beta, np.load(os.path.join(cli, "beta.npy")))
        # The Gaussian default's thresholds differ from the last law's (each law's own quantile).
        self.assertFalse(np.array_equal(fsrlab.build_target(cfg).beta, self.t.beta))


class Theory(Base):
    def test_relu_moments_equal_fsr_moments(self):
        mine = fsrlab.relu_moments(1.7, 0.4, order=6)
        cli = fsr_json("moments", "--alpha", 1.7, "--beta", 0.4, "--order", 6)
        for k in ("alpha", "beta", "t", "p_active", "moments"):
            self.assertEqual(mine[k], cli[k], k)
        t = fsrlab.normal_q_inverse(0.1)
        self.assertAlmostEqual(fsrlab.normal_q(t), 0.1, delta=1e-15)
        self.assertAlmostEqual(fsrlab.relu_t_from_moment_ratio(fsrlab.relu_moment_ratio(0.7)), 0.7,
                               delta=1e-10)

    def test_fit_first_layer_equals_the_cli(self):
        t = fsrlab.build_target(os.path.join(ROOT, "experiments/learners/target_level1.json"))
        s1 = t.sample(5000, hidden=True)["S"][0]
        np.save(self.path("S_1.npy"), s1)
        for method in ("moments", "mle", "auto"):
            mine = fsrlab.fit_first_layer(s1, method=method)
            cli = fsr_json("fit-first-layer", "--samples", self.path("S_1.npy"), "--method", method)
            for k in ("alpha", "beta", "stderr_alpha", "stderr_beta", "rho", "rho_raw", "rho_flag"):
                self.assertEqual(as_json_numbers(mine[k]), cli[k], (method, k))
            for k in ("n_samples", "method", "status", "rho_method", "psd_repair"):
                self.assertEqual(mine[k], cli[k], (method, k))
            self.assertEqual(mine["n_active"].tolist(), cli["n_active"])

    def test_match_columns_equals_fsr_match(self):
        rng = np.random.default_rng(3)
        truth = np.linalg.qr(rng.standard_normal((12, 8)))[0]
        est = np.concatenate([truth[:, ::-1] + 0.05 * rng.standard_normal((12, 8)),
                              rng.standard_normal((12, 3))], axis=1)
        np.save(self.path("T.npy"), truth)
        np.save(self.path("E.npy"), est)
        mine = fsrlab.match_columns(truth, est, threshold=0.95)
        cli = fsr_json("match", "--truth", self.path("T.npy"), "--estimate", self.path("E.npy"),
                       "--threshold", 0.95)
        self.assertEqual(mine, {k: cli[k] for k in mine})
        self.assertEqual(mine["permutation"], list(range(7, -1, -1)))


class Errors(Base):
    def test_input_error_carries_the_cli_message(self):
        bad = {"levels": 9, "grid": 2, "channels": 8, "patch": 2, "colors": 3, "active": 0.1}
        with open(self.path("bad.json"), "w") as f:
            json.dump(bad, f)
        r = fsr("synth", "--config", self.path("bad.json"), "--out", self.path("t"), check=False)
        self.assertEqual(r.returncode, 2)
        with self.assertRaises(fsrlab.InputError) as e:
            fsrlab.build_target(bad)
        self.assertEqual("fsr: " + str(e.exception), r.stderr.strip())
        self.assertIsInstance(e.exception, ValueError)
        with self.assertRaises(fsrlab.InputError) as e:
            fsrlab.fit_first_layer(-np.ones((10, 3)))
        self.assertIn("samples[0, 0] = -1: must be >= 0", str(e.exception))
        with self.assertRaises(fsrlab.InputError):
            fsrlab.build_target({"levels": 1, "grid": 2, "channels": 8, "patch": 2, "colors": 3,
                                 "active": 0.1, "seeed": 1})
        with self.assertRaises(fsrlab.InputError):
            fsrlab.load_target(self.path("nowhere"))


class Help(unittest.TestCase):
    def test_every_function_has_help_text(self):
        names = [n for n in fsrlab.__all__ if callable(getattr(fsrlab, n))]
        self.assertEqual("train" in names, fsrlab.has_learner)
        for n in names:
            doc = getattr(fsrlab, n).__doc__
            self.assertTrue(doc and len(doc.strip()) > 30, n)
        for n in ("sample", "save", "inspect"):
            self.assertGreater(len(getattr(fsrlab.Target, n).__doc__.strip()), 30, n)
        for n in ("A", "alpha", "beta", "M", "W", "b", "architecture", "config"):
            self.assertTrue(getattr(fsrlab.Target, n).__doc__, n)
        self.assertIn("fsrlab", fsrlab.__doc__)


class Analyze(Base):
    def test_analyze_equals_fsr_analyze(self):
        fsr("synth", "--config", QUICKSTART, "--out", self.path("t"))
        with open(QUICKSTART) as f:
            other = dict(json.load(f), seed=2)
        fsrlab.build_target(other).save(self.path("u"))
        mine = fsrlab.analyze(self.path("t"), self.path("u"), samples=600, seed=3,
                              out=self.path("a.json"))
        cli = fsr_json("analyze", "--target", self.path("t"), "--run", self.path("u"),
                       "--samples", 600, "--seed", 3, "--out", self.path("b.json"))
        cli = {k: v for k, v in cli.items() if k not in ("schema_version", "kind")}
        self.assertEqual(without_timings(mine), without_timings(cli))
        with open(self.path("a.json")) as f:
            self.assertEqual(without_timings(json.load(f))["levels"], mine["levels"])


@unittest.skipUnless(fsrlab.has_learner, "built without LibTorch")
class Train(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        fsr("synth", "--config", QUICKSTART, "--out", cls.target_dir())
        with open(os.path.join(cls.dir, "learner.json"), "w") as f:
            json.dump(small_learner(120), f)

    @classmethod
    def target_dir(cls):
        return os.path.join(cls.dir, "target")

    def assert_same_run(self, a, b):
        files = sorted(os.listdir(os.path.join(a, "model")))
        self.assertEqual(files, sorted(os.listdir(os.path.join(b, "model"))))
        for f in files:
            if f.endswith(".npy"):
                np.testing.assert_array_equal(np.load(os.path.join(a, "model", f)),
                                              np.load(os.path.join(b, "model", f)), f)
        def read(d):
            with open(os.path.join(d, "metrics.jsonl")) as f:
                return [without_timings(json.loads(x)) for x in f]
        self.assertEqual(read(a), read(b))

    def test_train_equals_fsr_train_and_reports_progress(self):
        records = []
        mine = fsrlab.train(self.target_dir(), self.path("learner.json"), self.path("run_py"),
                            device="cpu", progress=records.append)
        cli = fsr_json("train", "--target", self.target_dir(), "--config", self.path("learner.json"),
                       "--out", self.path("run_cli"), "--device", "cpu")
        self.assertEqual(mine["status"], "completed")
        drop = lambda d: {k: v for k, v in without_timings(d).items()  # noqa: E731
                          if k not in ("schema_version", "kind", "out")}
        self.assertEqual(drop(mine), drop(cli))
        self.assert_same_run(self.path("run_py"), self.path("run_cli"))
        with open(self.path("run_py", "metrics.jsonl")) as f:
            self.assertEqual([without_timings(r) for r in records],
                             [without_timings(json.loads(x)) for x in f])
        self.assertEqual([r["step"] for r in records], [0, 20, 40, 60, 80, 100, 120])  # 0: the start

    def test_ctrl_c_stops_cleanly_and_the_run_resumes(self):
        # A child trains with fsrlab.train; on its first progress record it says so, and this
        # process sends it SIGINT (Ctrl-C) while it is inside the C++ loop. It must stop with a
        # checkpoint and KeyboardInterrupt; resuming gives the uninterrupted run, bit for bit.
        fsr("train", "--target", self.target_dir(), "--config", self.path("learner.json"),
            "--out", self.path("whole"), "--device", "cpu")
        script = textwrap.dedent(f"""
            import sys, fsrlab
            def progress(r):
                print("record", r["step"], flush=True)
            try:
                fsrlab.train({self.target_dir()!r}, {self.path('learner.json')!r},
                             {self.path('cut')!r}, device="cpu", progress=progress,
                             resume=len(sys.argv) > 1)
            except KeyboardInterrupt as e:
                print("interrupted:", e, flush=True)
                sys.exit(3)
            print("completed", flush=True)
            """)
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                 env=os.environ)
        line = child.stdout.readline()
        self.assertTrue(line.startswith("record"), line)
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=300)
        self.assertEqual(child.returncode, 3, out)
        self.assertIn("resumes with fsrlab.train(..., resume=True)", out)
        with open(self.path("cut", "checkpoint", "state.json")) as f:
            stopped_at = json.load(f)["global_step"]
        self.assertLess(stopped_at, 120)
        r = subprocess.run([sys.executable, "-c", script, "resume"], capture_output=True,
                           text=True, env=os.environ, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("completed", r.stdout)
        self.assert_same_run(self.path("cut"), self.path("whole"))


class Suite(Base):
    def test_run_suite_equals_fsr_run(self):
        suite = os.path.join(ROOT, "experiments/suites/first_layer_recovery.json")
        mine = fsrlab.run_suite(suite, self.path("py"), size="ci", jobs=2)
        fsr("run", suite, "--out", self.path("cli"), "--size", "ci", "--jobs", 2)
        with open(self.path("cli", "summary.json")) as f:
            cli = json.load(f)
        self.assertTrue(mine["complete"])
        self.assertEqual([without_timings(j) for j in mine["jobs"]],
                         [without_timings(j) for j in cli["jobs"]])
        for j in mine["jobs"]:
            with open(self.path("py", "jobs", j["id"], "result.json")) as f:
                a = json.load(f)
            with open(self.path("cli", "jobs", j["id"], "result.json")) as f:
                b = json.load(f)
            self.assertEqual(without_timings(a["result"]), without_timings(b["result"]), j["id"])


if __name__ == "__main__":
    if not FSR:
        sys.exit("FSR_BIN (the fsr executable) must be set")
    unittest.main(verbosity=2)
