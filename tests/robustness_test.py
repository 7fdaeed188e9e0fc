#!/usr/bin/env python3
"""Hostile inputs against the built `fsr`: every defect docs/reliability.md lists as found, each
reproduced the way a user would meet it. The contract: exit 0 with a correct result, or exit 2
with one line on stderr naming the field, the value and the rule, and nothing written. Never a
crash (exit 139), a raw library exception (exit 1), an allocation the machine cannot make, or a
silent wrong answer.

Usage: robustness_test.py PATH/TO/fsr REPO_ROOT   (run by ctest; the training checks need a build
with LibTorch and are skipped without one)
"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

import numpy as np

FSR = None
ROOT = None


def run(*args, timeout=300, env=None):
    return subprocess.run([FSR, *args], capture_output=True, timeout=timeout, env=env)


def has_train():
    return re.search(rb"^\s+train\s", run("--help").stdout, re.M) is not None


def npy_bytes(header, data=b""):
    """An .npy file with a header of our choosing (numpy's layout, version 1.0)."""
    h = header
    while (10 + len(h) + 1) % 64:
        h += " "
    h += "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + data


def tiny_learner():
    """experiments/learners/tiny_level1.json: 60 steps, checkpoints every 20."""
    with open(os.path.join(ROOT, "experiments/learners/tiny_level1.json")) as f:
        return json.load(f)


class Hostile(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def write(self, name, content):
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(self.path(name), mode) as f:
            f.write(content)
        return self.path(name)

    def target_config(self, **changes):
        with open(os.path.join(ROOT, "experiments/targets/quickstart.json")) as f:
            c = json.load(f)
        c.update(changes)
        return c

    def assert_bad_input(self, args, *needles, writes_nothing=True):
        before = sorted(os.listdir(self.dir))
        r = run(*args)
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 2, "stdout=%r stderr=%r" % (r.stdout[:300], err[-2000:]))
        self.assertEqual(err.count("\n"), 1, "one line: %r" % err)
        self.assertNotIn("\0", err)
        for needle in needles:
            self.assertIn(needle, err)
        if writes_nothing:
            self.assertEqual(sorted(os.listdir(self.dir)), before, "bad input must write nothing")
        return err

    # ---- JSON at the boundary -------------------------------------------------------------

    def test_deep_nesting_is_refused_not_a_segfault(self):
        # Before: exit 139 at ~100 000 levels (the message printing the value recursed).
        deep = self.write("deep.json", "[" * 100000 + "]" * 100000)
        self.assert_bad_input(["synth", "--config", deep, "--out", self.path("t")],
                              "deep.json: [0][0]", "nesting deeper than 64 levels")
        deep2 = self.write("deep2.json", '{"zz": ' + "[" * 60000 + "]" * 60000 + "}")
        self.assert_bad_input(["synth", "--config", deep2, "--out", self.path("t")],
                              "deep2.json: zz[0]", "nesting deeper than 64 levels")

    def test_numbers_beyond_double_range_name_their_place(self):
        # Before: "[json.exception.out_of_range.406] number overflow parsing '1e999'", exit 1.
        text = json.dumps(self.target_config(noise=0.0)).replace('"noise": 0.0', '"noise": 1e999')
        cfg = self.write("big.json", text)
        self.assert_bad_input(["synth", "--config", cfg, "--out", self.path("t")],
                              "big.json: noise = 1e999: number beyond double range")

    def test_duplicate_keys_are_refused(self):
        # Before: accepted silently, the last value won.
        text = json.dumps(self.target_config()).replace('"seed": 1', '"seed": 1, "seed": 2')
        cfg = self.write("dup.json", text)
        self.assert_bad_input(["synth", "--config", cfg, "--out", self.path("t")],
                              "dup.json: seed = (given twice): duplicate keys are refused")

    def test_control_bytes_in_the_input_are_escaped_in_the_message(self):
        # Before: the unknown key's newline split the message and its NUL cut it short.
        c = self.target_config()
        c["bad\nkey\u0000x"] = 1
        cfg = self.write("ctl.json", json.dumps(c))
        err = self.assert_bad_input(["synth", "--config", cfg, "--out", self.path("t")],
                                    "bad\\nkey\\0x = 1: unknown key")
        self.assertIn("allowed:", err)

    def test_integers_given_as_huge_doubles_are_reported_as_given(self):
        # Before: "sgda.batch = -9223372036854775808" (an undefined conversion).
        c = tiny_learner()
        c["sgda"]["batch"] = 1e300
        cfg = self.write("learner.json", json.dumps(c))
        if not has_train():
            self.skipTest("no fsr train in this build")
        tdir = self.make_target()
        self.assert_bad_input(["train", "--target", tdir, "--config", cfg, "--out",
                               self.path("run")], "sgda.batch = 1e+300: must be an integer in [1, ")

    # ---- Output paths ---------------------------------------------------------------------

    def test_unusable_out_paths_are_bad_input(self):
        # Before: a dangling link in synth, /dev/null or a dangling link in train: exit 1.
        cfg = os.path.join(ROOT, "experiments/targets/quickstart.json")
        os.symlink(self.path("nowhere", "x"), self.path("dangling"))
        self.assert_bad_input(["synth", "--config", cfg, "--out", self.path("dangling")],
                              "is a dangling symbolic link")
        self.assert_bad_input(["synth", "--config", cfg, "--out", "/dev/null"],
                              "--out = /dev/null: exists and is not a directory")
        # A trailing separator names the same directory (before: exit 1, an empty dir left).
        r = run("synth", "--config", cfg, "--out", self.path("slash") + "/")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(self.path("slash", "target.json")))
        if not has_train():
            return
        tdir = self.path("slash")
        learner = self.write("learner.json", json.dumps(tiny_learner()))
        for out, needle in (("/dev/null", "exists and is not a directory"),
                            (self.path("dangling"), "is a dangling symbolic link")):
            self.assert_bad_input(["train", "--target", tdir, "--config", learner, "--out", out],
                                  "--out = " + out, needle)

    def test_report_onto_a_place_that_cannot_be_written(self):
        # Before: a Python traceback (PermissionError / FileNotFoundError), exit 1.
        os.makedirs(self.path("results"))
        with open(os.path.join(ROOT, "reports/fixtures/training/metrics.jsonl")) as f:
            self.write("results/metrics.jsonl", f.read())
        self.assert_bad_input(["report", self.path("results"), "--out", "/proc/fsr-report-test"],
                              "--out = /proc/fsr-report-test: cannot be created")

    # ---- Sizes before allocation ----------------------------------------------------------

    def test_npy_shapes_that_overflow_are_refused(self):
        # Before: (2^32, 2^32) wrapped to no data; (500, 1050655, 684737634023226) wrapped to
        # 3000 values and was fitted as 500 x 6 (exit 0).
        huge = self.write("huge.npy", npy_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"))
        self.assert_bad_input(["fit-first-layer", "--samples", huge], "the product overflows")
        values = np.abs(np.random.default_rng(0).normal(size=3000)).astype("<f8").tobytes()
        wrap = self.write("wrap.npy", npy_bytes(
            "{'descr': '<f8', 'fortran_order': False, "
            "'shape': (500, 1050655, 684737634023226), }", values))
        self.assert_bad_input(["fit-first-layer", "--samples", wrap], "the product overflows")

    def test_training_set_beyond_memory_is_refused_before_allocating(self):
        # Before: std::bad_alloc after trying to allocate hundreds of GB (exit 1).
        if not has_train():
            self.skipTest("no fsr train in this build")
        tdir = self.make_target()
        c = tiny_learner()
        c["data"]["train_samples"] = 10**9
        cfg = self.write("learner.json", json.dumps(c))
        start = time.monotonic()
        err = self.assert_bad_input(["train", "--target", tdir, "--config", cfg, "--out",
                                     self.path("run")], "data.train_samples = 1000000000",
                                    "the fixed training set would take", writes_nothing=False)
        self.assertLess(time.monotonic() - start, 60, err)

    # ---- Numerics -------------------------------------------------------------------------

    def test_match_is_scale_free(self):
        # Before: columns scaled by 1e160 gave all cosines 0, 1e-170 was "norm = 0".
        t = np.random.default_rng(1).normal(size=(6, 4))
        e = np.ascontiguousarray(t[:, [2, 0, 3, 1]])
        for scale in (1e160, 1e-170):
            np.save(self.path("t.npy"), t * scale)
            np.save(self.path("e.npy"), e * scale)
            r = run("match", "--truth", self.path("t.npy"), "--estimate", self.path("e.npy"),
                    "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            doc = json.loads(r.stdout)
            self.assertEqual(doc["permutation"], [1, 3, 0, 2])
            np.testing.assert_allclose(doc["cosines"], 1.0, rtol=0, atol=1e-14)

    def test_alpha_beyond_range_is_blamed_on_alpha(self):
        # Before: "W_2[0] = -inf: must be finite".
        cfg = self.write("a.json", json.dumps(self.target_config(
            first_layer={"correlation": "independent", "alpha": 1e308})))
        self.assert_bad_input(["synth", "--config", cfg, "--out", self.path("t")],
                              "first_layer.alpha[0] = 1e+308: must be in [1e-06, 1000000]")

    # ---- A target appears whole or not at all ----------------------------------------------

    def test_synth_samples_are_written_before_the_target_appears(self):
        # Before: X_l.npy was written after the target directory was renamed into place, and a
        # SIGKILL left a 38 MB temporary that no later run removed.
        cfg = self.write("big.json", json.dumps(self.target_config()))
        out = self.path("t")
        p = subprocess.Popen([FSR, "synth", "--config", cfg, "--out", out, "--samples", "100000"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed_with_temporary = False
        deadline = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < deadline:
            tmps = [n for n in os.listdir(self.dir) if n.startswith("t.tmp-")]
            try:
                writing = tmps and any(n.lstrip(".").startswith("X_")
                                       for n in os.listdir(self.path(tmps[0])))
            except FileNotFoundError:  # renamed into place meanwhile
                writing = False
            if writing:
                p.send_signal(signal.SIGKILL)
                killed_with_temporary = True
                break
            time.sleep(0.005)
        p.wait()
        if killed_with_temporary:
            self.assertFalse(os.path.exists(out), "a target without all its samples appeared")
        r = run("synth", "--config", cfg, "--out", out, "--samples", "10")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(os.path.join(out, "X_1.npy")).shape[0], 10)
        self.assertEqual([n for n in os.listdir(self.dir) if ".tmp-" in n], [],
                         "the killed run's temporary was not removed")

    # ---- Checkpoints ----------------------------------------------------------------------

    def make_target(self):
        out = self.path("target")
        if not os.path.exists(out):
            r = run("synth", "--config", os.path.join(ROOT, "experiments/targets/quickstart.json"),
                    "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
        return out

    def trained_run(self):
        """A finished tiny run (shared by the checkpoint tests of one process)."""
        cache = getattr(Hostile, "_run", None)
        if cache is None:
            cache = tempfile.mkdtemp()
            Hostile._run = cache
            tdir = os.path.join(cache, "target")
            r = run("synth", "--config", os.path.join(ROOT, "experiments/targets/quickstart.json"),
                    "--out", tdir)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(cache, "learner.json"), "w") as f:
                json.dump(tiny_learner(), f)
            r = run("train", "--target", tdir, "--config", os.path.join(cache, "learner.json"),
                    "--out", os.path.join(cache, "run"))
            self.assertEqual(r.returncode, 0, r.stderr)
        return cache

    def copy_run(self, edit_state=None):
        cache = self.trained_run()
        run_dir = self.path("run")
        shutil.copytree(os.path.join(cache, "run"), run_dir)
        if edit_state:
            p = os.path.join(run_dir, "checkpoint", "state.json")
            with open(p) as f:
                state = json.load(f)
            edit_state(state)
            with open(p, "w") as f:
                json.dump(state, f)
        return (["train", "--target", os.path.join(cache, "target"), "--config",
                 os.path.join(cache, "learner.json"), "--out", run_dir, "--resume"], run_dir)

    def test_checkpoint_state_is_validated_field_by_field(self):
        if not has_train():
            self.skipTest("no fsr train in this build")
        cases = [
            # Before: segfault; a c10 backtrace (exit 1); "completed after 1000000000000/60";
            # "type must be number, but is number"; an uninitialised double in the message.
            (lambda s: s.update(stage=-1), "stage = -1: must be an integer in [0, 0]"),
            (lambda s: s.update(stage=7), "stage = 7: must be an integer in [0, 0]"),
            (lambda s: s.update(global_step=10**12),
             "global_step = 1000000000000: must be an integer in [0, 60]"),
            (lambda s: s.update(global_step="x"), 'global_step = "x": must be an integer'),
            (lambda s: s.pop("config"), "config = (missing): is required"),
        ]
        for edit, needle in cases:
            args, run_dir = self.copy_run(edit)
            self.assert_bad_input(args, needle, writes_nothing=False)
            shutil.rmtree(run_dir)

    def test_damaged_tensor_archive_is_detected(self):
        if not has_train():
            self.skipTest("no fsr train in this build")
        with open(os.path.join(self.trained_run(), "run", "checkpoint", "state.npz"), "rb") as f:
            good = f.read()
        flipped = bytearray(good)
        flipped[len(good) // 2] ^= 0x04
        # Before: a 20-line c10 backtrace for these; the bit flip resumed to another model.
        for content, needle in ((b"", "= 0 bytes"), (good[:1000], "= 1000 bytes"),
                                (b"garbage" * 100, "= 700 bytes"),
                                (bytes(flipped), "the checkpoint is damaged")):
            args, run_dir = self.copy_run()
            with open(os.path.join(run_dir, "checkpoint", "state.npz"), "wb") as f:
                f.write(content)
            self.assert_bad_input(args, "state.npz", needle, writes_nothing=False)
            shutil.rmtree(run_dir)
        # The checksum is zlib's CRC-32, checkable outside fsrlab.
        with open(os.path.join(self.trained_run(), "run", "checkpoint", "state.json")) as f:
            state = json.load(f)
        self.assertEqual(state["files"]["state.npz"]["crc32"], zlib.crc32(good))
        self.assertEqual(state["files"]["state.npz"]["bytes"], len(good))

    def test_torn_metrics_line_is_dropped_on_resume(self):
        if not has_train():
            self.skipTest("no fsr train in this build")
        args, run_dir = self.copy_run(lambda s: s.update(global_step=40))
        metrics = os.path.join(run_dir, "metrics.jsonl")
        with open(metrics) as f:
            reference = f.read()
        with open(metrics, "a") as f:
            f.write('{"step": 350, "los')  # a kill in the middle of a write
        # Resuming at 40 with the step-60 weights gives a different model: resume into a copy of
        # the run without its model, and check the metrics file only.
        shutil.rmtree(os.path.join(run_dir, "model"))
        r = run(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(metrics) as f:
            lines = f.read().splitlines()
        self.assertEqual([json.loads(x)["step"] for x in lines],
                         [json.loads(x)["step"] for x in reference.splitlines()])

    def test_suite_job_killed_before_a_checkpoint_is_rerun(self):
        # Before: a gda job of `fsr run` killed before its first checkpoint (or with
        # checkpoint_every = 0, as the map's suite runs) left run/metrics.jsonl; every re-run then
        # "failed": "--out = .../run: already exists and is not empty".
        if not has_train():
            self.skipTest("no fsr train in this build")
        learner = tiny_learner()
        learner["log"]["checkpoint_every"] = 0
        suite = {"suite": "killed", "targets": {"t": self.target_config()},
                 "jobs": [{"name": "g", "kind": "gda", "config": dict(learner, analyze=False)}],
                 "seeds": [1], "sizes": {"ci": {}, "paper": {}}}
        out = self.path("out")
        job = os.path.join(out, "jobs", "t.g.seed1")
        os.makedirs(os.path.join(job, "run"))
        with open(os.path.join(job, "run", "metrics.jsonl"), "w") as f:
            f.write('{"step": 0}\n{"step": 20, "lo')  # what a kill leaves
        r = run("run", self.write("s.json", json.dumps(suite)), "--out", out, "--json")
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        with open(os.path.join(job, "result.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["status"], "ok", doc.get("error"))
        self.assertEqual(doc["result"]["train"]["status"], "completed")
        with open(os.path.join(job, "run", "metrics.jsonl")) as f:
            steps = [json.loads(x)["step"] for x in f.read().splitlines()]
        self.assertEqual(steps[0], 0)
        self.assertEqual(steps, sorted(set(steps)))  # the stale records are gone


if __name__ == "__main__":
    FSR, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    try:
        unittest.main(argv=[sys.argv[0], "-v"])
    finally:
        if getattr(Hostile, "_run", None):
            shutil.rmtree(Hostile._run, ignore_errors=True)
