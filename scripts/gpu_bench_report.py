#!/usr/bin/env python3
"""The tables of scripts/gpu_bench.sh run, from its work directory.

  gpu_bench_report.py train WORK   the runs WORK/train_<learner>_<cpu|cuda>.json: recovery per
                                   level on both devices; exits 1 unless, per learner, both
                                   devices meet the same bar and the matched cosines agree
                                   within 0.02 (float32 on two devices differs by rounding,
                                   which training amplifies; a wrong engine is off by far more)
  gpu_bench_report.py step WORK    the step timings: WORK/sgemm.json, ours_<key>.jsonl
                                   (bench/cuda_step_bench.cpp), torch_<key>_<batch>_<eager|graph>.json
                                   (bench/pytorch_step.py): one markdown table
"""
import glob
import json
import os
import sys

TOL = 0.02


def train(work):
    ok = True
    print("| learner | device | status | seconds | level | mean cosine | min cosine | meets bar |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |")
    for name in ("quickstart", "level2"):
        runs = {}
        for dev in ("cpu", "cuda"):
            try:
                with open(os.path.join(work, "train_%s_%s.json" % (name, dev))) as f:
                    runs[dev] = json.load(f)
            except (OSError, ValueError):
                with open(os.path.join(work, "train_%s_%s.err" % (name, dev))) as f:
                    lines = f.read().strip().splitlines()
                print("| %s | %s | FAILED: %s | | | | | |" % (name, dev, lines[-1] if lines else "?"))
                ok = False
        for dev, r in runs.items():
            for lv in r["recovery"]["levels"]:
                c = lv["columns"]
                print("| %s | %s | %s | %.1f | %d | %.4f | %.4f | %s |" % (
                    name, r["device"], r["status"], r["seconds"], lv["level"], c["mean_cosine"],
                    c["min_cosine"], lv.get("meets_bar")))
        if len(runs) == 2:
            a, b = runs["cpu"]["recovery"], runs["cuda"]["recovery"]
            same = a.get("meets_bar") == b.get("meets_bar")
            for la, lb in zip(a["levels"], b["levels"]):
                same &= la.get("meets_bar") == lb.get("meets_bar")
                for k in ("mean_cosine", "min_cosine"):
                    same &= abs(la["columns"][k] - lb["columns"][k]) <= TOL
            print("  %s: CPU vs GPU recovery %s" % (name, "AGREE" if same else "DIFFER"))
            ok &= same
    return 0 if ok else 1


def load(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def step(work):
    sg = load(os.path.join(work, "sgemm.json"), {}).get("sgemm_flops_per_s")
    print("cuBLAS SGEMM 8192^3 (float32, no TF32): %s GFLOP/s" %
          ("n/a" if sg is None else "%.0f" % (sg / 1e9)))
    print()
    print("| config | batch | ours (CUDA) steps/s | PyTorch eager | PyTorch + CUDA graph "
          "| ours / eager | ours GFLOP/s | of SGEMM |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    fmt = lambda v: "n/a" if v is None else "%.1f" % v
    for key, title in (("quickstart", "quick-start"), ("four_level_32x32", "4-level 32x32")):
        ours = {}
        try:
            with open(os.path.join(work, "ours_%s.jsonl" % key)) as f:
                for line in f:
                    r = json.loads(line)
                    ours[r["batch"]] = r
        except (OSError, ValueError):
            pass
        files = glob.glob(os.path.join(work, "torch_%s_*_eager.json" % key))
        for path in sorted(files, key=lambda p: int(p.rsplit("_", 2)[-2])):
            b = int(path.rsplit("_", 2)[-2])
            e = load(path, {})
            g = load(path.replace("_eager.json", "_graph.json"), {})
            o = ours.get(b, {})
            ratio = ("%.2fx" % (o["steps_per_s"] / e["steps_per_s"])
                     if o.get("steps_per_s") and e.get("steps_per_s") else "n/a")
            gf = o.get("flops_per_s")
            frac = "%.0f %%" % (100 * gf / sg) if gf and sg else "n/a"
            print("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                title, b, fmt(o.get("steps_per_s")), fmt(e.get("steps_per_s")),
                fmt(g.get("steps_per_s")), ratio, "n/a" if gf is None else "%.0f" % (gf / 1e9),
                frac))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("train", "step"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(train(sys.argv[2]) if sys.argv[1] == "train" else step(sys.argv[2]))
