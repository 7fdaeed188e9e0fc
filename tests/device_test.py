#!/usr/bin/env python3
"""`fsr train --device`: where the fast engine runs, and what a user sees when it cannot.

On a machine without a usable GPU (or a build without CUDA): `--device cuda` exits 2 with one line
naming --device and why, and writes nothing; `--device auto` trains on the CPU. Where a GPU is
present: `--device cuda` trains on it (device "cuda:0") and `auto` picks it. Either way an unknown
device exits 2 and `--device cpu` trains on the CPU. The tiny learner of the run-directory tests
(experiments/learners/tiny_level1.json), shortened to 20 steps.

Usage: device_test.py PATH/TO/fsr REPO_ROOT   (run by ctest)
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

FSR = None
ROOT = None


def run(*args):
    return subprocess.run([FSR, *args], capture_output=True, text=True, timeout=300)


class DeviceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.target = os.path.join(cls.dir, "target")
        r = run("synth", "--config", os.path.join(ROOT, "experiments/targets/quickstart.json"),
                "--out", cls.target)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(ROOT, "experiments/learners/tiny_level1.json")) as f:
            config = json.load(f)
        config["schedule"]["steps"] = 20
        config["log"].update({"every": 10, "checkpoint_every": 20})
        cls.config = os.path.join(cls.dir, "learner.json")
        with open(cls.config, "w") as f:
            json.dump(config, f)
        # Does this build and machine run CUDA? Asked of fsr itself, as a user would.
        cls.cuda_out = os.path.join(cls.dir, "run_cuda")
        cls.cuda = run("train", "--target", cls.target, "--config", cls.config, "--out",
                       cls.cuda_out, "--device", "cuda", "--json")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def train(self, device, name):
        out = os.path.join(self.dir, name)
        r = run("train", "--target", self.target, "--config", self.config, "--out", out,
                "--device", device, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_cuda_trains_on_the_gpu_or_is_refused_with_the_reason(self):
        r = self.cuda
        if r.returncode == 0:
            self.assertTrue(json.loads(r.stdout)["device"].startswith("cuda"), r.stdout)
            return
        self.assertEqual(r.returncode, 2, "stdout=%r stderr=%r" % (r.stdout, r.stderr))
        self.assertEqual(r.stdout, "")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("--device", lines[0])
        self.assertIn("cuda", lines[0])
        self.assertTrue("no CUDA device" in lines[0] or "has no CUDA" in lines[0], lines[0])
        self.assertIn("use --device cpu or auto", lines[0])
        self.assertFalse(os.path.exists(self.cuda_out), "a refused run must write nothing")

    def test_auto_is_the_gpu_where_one_is_usable_else_the_cpu(self):
        doc = self.train("auto", "run_auto")
        want = "cuda:0" if self.cuda.returncode == 0 else "cpu"
        self.assertEqual(doc["device"], want)
        self.assertEqual(doc["status"], "completed")

    def test_cpu_and_an_unknown_device(self):
        self.assertEqual(self.train("cpu", "run_cpu")["device"], "cpu")
        r = run("train", "--target", self.target, "--config", self.config, "--out",
                os.path.join(self.dir, "run_tpu"), "--device", "tpu")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("must be auto, cpu or cuda", r.stderr)


if __name__ == "__main__":
    FSR = sys.argv.pop(1)
    ROOT = sys.argv.pop(1)
    unittest.main(verbosity=2)
