#!/usr/bin/env python3
"""`fsr train` survives SIGKILL at any moment: killed again and again at random times — while
it starts, before its first checkpoint, while it writes one, while it writes its model — and
resumed with --resume each time, the run ends bit-identical to one that was never interrupted:
the same model arrays, decoders, metrics records (wall-clock fields aside) and recovery.

Usage: kill_resume_test.py PATH/TO/fsr REPO_ROOT [KILLS] [SEED]   (run by ctest; needs a build
with LibTorch: exits 77, skipped, without `fsr train`)
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FSR = ROOT = None

WALL_CLOCK = {"seconds", "wall_time_s", "written_at", "manifest"}


def without_wall_clock(value):
    if isinstance(value, dict):
        return {k: without_wall_clock(v) for k, v in value.items() if k not in WALL_CLOCK}
    if isinstance(value, list):
        return [without_wall_clock(v) for v in value]
    return value


def outcome(run_dir):
    """Everything a finished run leaves that must not depend on interruptions."""
    files = {}
    for sub in ("model", "."):
        d = os.path.join(run_dir, sub)
        for name in sorted(os.listdir(d)):
            if name.endswith(".npy"):
                with open(os.path.join(d, name), "rb") as f:
                    files[os.path.join(sub, name)] = f.read()
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        metrics = [without_wall_clock(json.loads(line)) for line in f]
    with open(os.path.join(run_dir, "result.json")) as f:
        result = json.load(f)
    return files, metrics, without_wall_clock(
        {k: result[k] for k in ("status", "steps", "total_steps", "recovery", "channels")})


def main():
    global FSR, ROOT
    FSR, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    kills = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 20240601
    help_text = subprocess.run([FSR, "--help"], capture_output=True, text=True).stdout
    if not re.search(r"^\s+train\s", help_text, re.M):
        print("skipped: this fsr has no train command (built without LibTorch)")
        return 77
    tmp = tempfile.mkdtemp(prefix="fsr-kill-resume-")
    try:
        target = os.path.join(tmp, "target")
        subprocess.run([FSR, "synth", "--config",
                        os.path.join(ROOT, "experiments/targets/quickstart.json"), "--out", target],
                       check=True, capture_output=True)
        # The tests' tiny learner, longer: 300 steps, checkpoints every 40, metrics every 20.
        with open(os.path.join(ROOT, "experiments/learners/tiny_level1.json")) as f:
            config = json.load(f)
        config["seed"] = 5
        config["data"]["train_samples"] = 384  # several epochs: the permutation must resume too
        config["schedule"]["steps"] = 300
        config["log"].update(every=20, checkpoint_every=40)
        learner = os.path.join(tmp, "learner.json")
        with open(learner, "w") as f:
            json.dump(config, f)

        def train(out, resume):
            cmd = [FSR, "train", "--target", target, "--config", learner, "--out", out, "--json"]
            return subprocess.Popen(cmd + (["--resume"] if resume else []),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        start = time.monotonic()
        p = train(os.path.join(tmp, "reference"), False)
        _, err = p.communicate()
        if p.returncode != 0:
            print(err.decode(), file=sys.stderr)
            return 1
        wall = time.monotonic() - start
        reference = outcome(os.path.join(tmp, "reference"))
        print(f"reference run: {wall:.1f} s, {len(reference[1])} metrics records")

        # Kill times uniform over the whole run (start-up and the final writes included); a run
        # resumed after a kill has less left to do, so later kills reach the late phases too.
        # Every run that finishes is compared with the reference, and a fresh one started.
        rng = random.Random(seed)
        names = ("model and decoder arrays", "metrics records", "result")
        killed = attempts = finished = 0
        runs = 0
        out, fresh = None, True
        while True:
            if fresh:
                runs += 1
                out = os.path.join(tmp, f"killed{runs}")
            attempts += 1
            p = train(out, resume=not fresh)
            fresh = False
            if killed < kills:
                delay = rng.uniform(0.0, wall * 1.05)
                try:
                    p.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    p.send_signal(signal.SIGKILL)
                    p.wait()
                    killed += 1
                    left = sorted(os.listdir(out)) if os.path.isdir(out) else []
                    print(f"kill {killed} at {delay:.2f} s: the run directory held {left}")
                    continue
            _, err = p.communicate()
            if p.returncode != 0:
                print(f"attempt {attempts} failed (exit {p.returncode}): {err.decode()[-2000:]}",
                      file=sys.stderr)
                return 1
            got = outcome(out)
            for name, a, b in zip(names, reference, got):
                if a != b:
                    print(f"FAIL: {out}: {name} differ from the uninterrupted run",
                          file=sys.stderr)
                    if isinstance(a, list):
                        for i, (x, y) in enumerate(zip(a, b)):
                            if x != y:
                                print(f"  first difference at record {i}: {x} vs {y}",
                                      file=sys.stderr)
                                break
                        print(f"  {len(a)} vs {len(b)} records", file=sys.stderr)
                    return 1
            leftovers = [n for n in os.listdir(out) if ".tmp" in n or n.endswith((".new", ".old"))]
            if leftovers:
                print(f"FAIL: {out}: temporaries left after the run finished: {leftovers}",
                      file=sys.stderr)
                return 1
            finished += 1
            print(f"run {runs} finished bit-identical ({len(got[0])} arrays, {len(got[1])} "
                  f"metrics records compared)")
            if killed >= kills:
                break
            fresh = True
        print(f"bit-identical after {killed} SIGKILLs: {finished} interrupted runs, "
              f"{attempts} attempts")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
