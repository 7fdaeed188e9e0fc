"""One `fsr run SUITE --size ci` per test module: the fixture the suite tests share.

A test module makes one CiSuiteRun, calls start() in setUpModule and cleanup() in
tearDownModule. start() runs the suite's ci size into a fresh temporary directory and returns
(out, (returncode, stderr tail)); the rows are then under out/SUITE. With the environment
variable `reuse_env` set to a finished ci output, nothing runs and that output is checked (for
work on the checks themselves), and cleanup() leaves it in place.
"""
import os
import shutil
import subprocess
import tempfile


class CiSuiteRun:
    def __init__(self, suite, reuse_env, prefix, run_args, timeout):
        self.suite = suite          # experiments/suites/SUITE.json
        self.reuse_env = reuse_env  # e.g. FSR_PHASE_REUSE
        self.prefix = prefix        # of the temporary directory
        self.run_args = list(run_args)  # e.g. ["--jobs", "2"]
        self.timeout = timeout      # seconds for the whole fsr run
        self.out = None

    def start(self, fsr, suites):
        reuse = os.environ.get(self.reuse_env)
        if reuse:
            self.out = os.path.abspath(reuse)
            return self.out, (0, "")
        self.out = tempfile.mkdtemp(prefix=self.prefix)
        r = subprocess.run([fsr, "run", os.path.join(suites, self.suite + ".json"), "--out",
                            os.path.join(self.out, self.suite), "--size", "ci"] + self.run_args +
                           ["--json"], capture_output=True, text=True, timeout=self.timeout)
        return self.out, (r.returncode, r.stderr[-3000:])

    def cleanup(self):
        if self.out and not os.environ.get(self.reuse_env):
            shutil.rmtree(self.out, ignore_errors=True)
