#!/usr/bin/env python3
"""Where a step of `fsr train` goes: a perf profile of the steady state, by cost bucket.

Usage: /usr/bin/python3 bench/profile_train.py build/apps/fsr [--config experiments/learners/level1.json]
                                                [--steps 100,500] [--engine fast]
                                                [--batch 2048] [--threads 2 --by-thread]

Runs `fsr train` under `perf record` (Linux perf, Debian package linux-perf) twice, with S1 and
S2 generator steps of the config's (last) stage on the config's target family
(experiments/learners/target_level1_alpha1.json for level-1 configs, target_level2.json for
level 2), metrics only at the end, no checkpoints. The samples of each bucket in the shorter run
are subtracted from the longer one's, so start-up (loading LibTorch), warm starts and the final
scoring drop out and what is left is S2 - S1 steps: the SGDA step and its data. Buckets, by the
sampled function: the fast engine (fsr::fast::*), real-batch sampling from the target (fsr's
samplers, its random numbers, sin/cos/log of Box-Muller, Eigen's float64 products), memory
(malloc/free, memset/memmove, and kernel time: page faults of fresh allocations), LibTorch, other.
--batch / --threads set sgda.batch / threads; --by-thread splits every bucket by thread (perf record
-s; threads ranked by id: "main" is the process's first, "t1", "t2", ... its other threads in the
order they started — the engine's pool worker among them, beside LibTorch's own), and the time a
pool worker waits for work (spinning in fsr::ThreadPool, sched_yield) is its own bucket.
Needs perf_event access (root, or kernel.perf_event_paranoid <= 2).
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bucket(dso, kind, sym):
    if re.search(r"ThreadPool::|sched_yield", sym):
        return "waiting for work (thread pool)"
    if "fsr::fast" in sym:
        return "fast engine (step, generate)"
    if "libtorch" in dso or "libc10" in dso or re.search(r"c10::|at::|torch::", sym):
        return "LibTorch"
    if re.search(r"sincos|Rng::|ieee754_log|ieee754_exp|Sampler|Eigen::|fsr::sample|image_patches|"
                 r"patches", sym):
        return "real-batch sampling (target, float64)"
    if kind == "k" or re.search(r"malloc|free|memset|memmove|memcpy|calloc|realloc", sym):
        return "memory (allocation, page faults, copies)"
    return "other"


def profile(fsr, target, config, steps, tmp, tag, by_thread=False):
    c = json.loads(json.dumps(config))
    levels = len(c["schedule"]["steps"]) if isinstance(c["schedule"]["steps"], list) else 1
    c["schedule"]["steps"] = [10] * (levels - 1) + [steps]
    c["log"] = {"every": 100000, "checkpoint_every": 0, "eval_samples": 256}
    path = os.path.join(tmp, f"{tag}.json")
    with open(path, "w") as f:
        json.dump(c, f)
    data = os.path.join(tmp, f"{tag}.perf")
    record = ["perf", "record", "-q"] + (["-s"] if by_thread else []) + ["-o", data]
    r = subprocess.run(record + [fsr, "train", "--target", target, "--config", path,
                                 "--out", os.path.join(tmp, f"run_{tag}"), "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"perf record / fsr train failed ({tag}): {r.stderr.strip()[-500:]}")
    seconds = json.loads(r.stdout)["seconds"]
    rep = subprocess.run(["perf", "report", "-i", data, "-n", "--no-children", "-g", "none",
                          "--sort", "pid,dso,symbol" if by_thread else "dso,symbol"],
                         capture_output=True, text=True).stdout
    rows = []
    for line in rep.splitlines():
        m = re.match(r"\s+[\d.]+%\s+(\d+)\s+(?:(\d+):\S+\s+)?(\S+)\s+\[(.)\]\s+(.*)",
                     line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2) or 0), m.group(3), m.group(4), m.group(5)))
    pids = sorted({r[1] for r in rows})
    rank = {pid: "main" if i == 0 else f"t{i}" for i, pid in enumerate(pids)}
    counts = collections.Counter()
    for n, pid, dso, kind, sym in rows:
        b = bucket(dso, kind, sym)
        counts[f"{rank[pid]}: {b}" if by_thread else b] += n
    return seconds, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fsr")
    ap.add_argument("--config", default=os.path.join(ROOT, "experiments/learners/level1.json"))
    ap.add_argument("--steps", default="100,500")
    ap.add_argument("--engine", default="fast", choices=["fast", "torch"])
    ap.add_argument("--batch", type=int)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--by-thread", action="store_true")
    a = ap.parse_args()
    s1, s2 = (int(x) for x in a.steps.split(","))
    if not 0 < s1 < s2:
        sys.exit(f"--steps {a.steps}: must be S1,S2 with 0 < S1 < S2")
    config = json.load(open(a.config))
    config["engine"] = a.engine
    if a.batch:
        config["sgda"]["batch"] = a.batch
    if a.threads:
        config["threads"] = a.threads
    two = isinstance(config["schedule"]["steps"], list) and len(config["schedule"]["steps"]) == 2
    tconf = os.path.join(ROOT, "experiments/learners",
                         "target_level2.json" if two else "target_level1_alpha1.json")
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "target")
        subprocess.run([a.fsr, "synth", "--config", tconf, "--out", target], check=True,
                       capture_output=True)
        t1, c1 = profile(a.fsr, target, config, s1, tmp, "short", a.by_thread)
        t2, c2 = profile(a.fsr, target, config, s2, tmp, "long", a.by_thread)
    diff = {k: c2[k] - c1[k] for k in set(c1) | set(c2)}
    total = sum(max(v, 0) for v in diff.values())
    print(f"{os.path.relpath(a.config, ROOT)}, engine {a.engine}, batch {config['sgda']['batch']}: "
          f"{s2 - s1} steps in {t2 - t1:.2f} s ({(s2 - s1) / (t2 - t1):.0f} steps/s), "
          f"{total} perf samples")
    for k, v in sorted(diff.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * max(v, 0) / max(total, 1):5.1f} %  {k}")


if __name__ == "__main__":
    main()
