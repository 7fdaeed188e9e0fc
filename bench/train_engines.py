#!/usr/bin/env python3
"""fsr train's step rate with the fast engine against the torch engine, side by side.

Usage: /usr/bin/python3 bench/train_engines.py build/apps/fsr [--steps 200,600]
                                                 [--only level1.json] [--cpu] [--patch JSON]
                                                 [--only threads --repeat 3 --within]

For each learner config (experiments/learners/level1.json and level2.json, at their batch size)
and each engine, the run is timed at two lengths of the last stage (S1 and S2 steps, every other
stage 10 steps) and the rate is (S2 - S1) / (t2 - t1): warm starts, target sampling for the
evaluation and the final scoring cost the same in both runs and drop out. Metrics are written only
at the end of a stage and no checkpoints are taken, so what is timed is the SGDA step and its data
(real batches drawn from the target, latents). Also: the fast engine on level 2 at batch 2048 with
threads 1 and 2. Prints one table and the ratios; every run is one process, run one after another
on an otherwise idle machine (unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in this command only, if
the machine sets them: they slow current OpenBLAS kernels for the torch engine).

--only level1.json (or level2.json): that config at its own batch, fast and torch, nothing else.
--only threads: the fast engine on level 2 at batch 2048, threads 1 and 2, nothing else.
--within: one run per case instead of two: the last stage runs S2 steps with a metrics record
every S1 steps, and the rate is the steps between the stage's first and last records over the
difference of their `seconds` (each stamped before its record's evaluation, so one evaluation of
eval_samples 256 per S1 steps is inside the time). The warm start, whose length varies by more
than a short timed stretch at level 2, is then outside the time altogether.
--repeat N: every case N times, the cases in turn (1, 2, 1, 2, ...), so that a drift of the
machine's speed lands on both sides; each ratio is printed per repetition and as the median.
--cpu: t is the run's CPU time (user + system) instead of its wall time, which other jobs on a
shared machine inflate; for one-thread runs, where the two agree on an idle machine.
--patch '{"data": {"normals": "fast"}}': a JSON object merged key by key into every config
(both engines, every case) before the runs, e.g. to time a data option on both engines alike.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def merge(base, patch):
    """base with patch's keys set, recursively into objects (a copy)."""
    out = dict(base)
    for k, v in patch.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def train_seconds(fsr, target, config, steps_last, tmp, tag, cpu=False, every=100000):
    c = json.loads(json.dumps(config))
    stages = 2 if c["_levels"] == 2 else 1
    c.pop("_levels")
    c["schedule"]["steps"] = [10] * (stages - 1) + [steps_last]
    c["log"] = {"every": every, "checkpoint_every": 0, "eval_samples": 256}
    path = os.path.join(tmp, f"{tag}.json")
    with open(path, "w") as f:
        json.dump(c, f)
    out = os.path.join(tmp, f"run_{tag}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([fsr, "train", "--target", target, "--config", path, "--out", out, "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"train failed ({tag}): {r.stderr.strip()}")
    if cpu:  # the process's user + system CPU time: what other jobs on the machine do not inflate
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if every < 100000:  # --within: the steps and seconds between the last stage's records
        with open(os.path.join(out, "metrics.jsonl")) as f:
            recs = [json.loads(line) for line in f if line.strip()]
        last = [r for r in recs if r["stage"] == recs[-1]["stage"]]
        return (last[-1]["step"] - last[0]["step"]), (last[-1]["seconds"] - last[0]["seconds"])
    return json.loads(r.stdout)["seconds"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fsr")
    ap.add_argument("--steps", default="200,600", help="S1,S2: lengths of the timed stage")
    ap.add_argument("--cpu", action="store_true",
                    help="time by the runs' CPU time (user + system), not wall time: on a shared "
                         "machine; one-thread configs only")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--within", action="store_true")
    ap.add_argument("--only", choices=["level1.json", "level2.json", "threads"],
                    help="only this config at its own batch, fast and torch")
    ap.add_argument("--patch", default="{}",
                    help="JSON object merged into every config (both engines), e.g. "
                         "'{\"data\": {\"normals\": \"fast\"}}'")
    a = ap.parse_args()
    if a.cpu and a.within:
        sys.exit("--cpu and --within exclude each other (a run's records carry wall time only)")
    patch = json.loads(a.patch)
    if not isinstance(patch, dict):
        sys.exit("--patch must be a JSON object")
    s1, s2 = (int(x) for x in a.steps.split(","))
    rows = []
    with tempfile.TemporaryDirectory(prefix="fsr_train_engines_") as tmp:
        targets = {}
        for name in ("target_level1_alpha1", "target_level2"):
            out = os.path.join(tmp, name)
            subprocess.run([a.fsr, "synth", "--config",
                            os.path.join(ROOT, "experiments/learners", name + ".json"), "--out", out],
                           check=True, capture_output=True)
            targets[name] = out
        cases = [("level1.json", "target_level1_alpha1", 1, None, 1),
                 ("level2.json", "target_level2", 2, None, 1),
                 ("level2.json", "target_level2", 2, 2048, 1),
                 ("level2.json", "target_level2", 2, 2048, 2)]
        if a.only == "threads":
            cases = [c for c in cases if c[3] == 2048]
        elif a.only:
            cases = [c for c in cases if c[0] == a.only and c[3] is None]
        runs = [(rep, c) for rep in range(a.repeat) for c in cases]
        for rep, (learner, target, levels, batch, threads) in runs:
            with open(os.path.join(ROOT, "experiments/learners", learner)) as f:
                base = merge(json.load(f), patch)
            base["_levels"] = levels
            base["threads"] = threads
            if batch:
                base["sgda"]["batch"] = batch
            engines = ("fast", "torch") if threads == 1 and not batch else ("fast",)
            for engine in engines:
                c = dict(base, engine=engine)
                tag = f"{learner[:-5]}_{engine}_{batch or 'b'}_{threads}_r{rep}"
                if a.within:
                    steps, secs = train_seconds(a.fsr, targets[target], c, s2, tmp, tag, every=s1)
                    rate = steps / max(secs, 1e-9)
                else:
                    t1 = train_seconds(a.fsr, targets[target], c, s1, tmp, tag + "_1", a.cpu)
                    t2 = train_seconds(a.fsr, targets[target], c, s2, tmp, tag + "_2", a.cpu)
                    rate = (s2 - s1) / max(t2 - t1, 1e-9)
                rows.append((learner, engine, base["sgda"]["batch"], threads, rate))
                print(f"{learner:12s} {engine:6s} batch {base['sgda']['batch']:5d} threads {threads}: "
                      f"{rate:8.1f} steps/s", flush=True)
    rate = {}  # (learner, engine, batch, threads) -> the rates of the repetitions, in order
    for r in rows:
        rate.setdefault((r[0], r[1], r[2], r[3]), []).append(r[4])

    def show(what, num, den, fmt):
        ratios = [n / d for n, d in zip(num, den)]
        each = ", ".join(fmt.format(x) for x in ratios)
        median = sorted(ratios)[len(ratios) // 2] if len(ratios) % 2 else \
            sum(sorted(ratios)[len(ratios) // 2 - 1:len(ratios) // 2 + 1]) / 2
        print(f"  {what} = " + (each if len(ratios) == 1 else
                                f"{each}; median {fmt.format(median)}"))

    print("\nratios:")
    for learner, engine, batch, threads in rate:
        if engine == "torch":
            show(f"{learner} batch {batch}: fast / torch", rate[(learner, "fast", batch, 1)],
                 rate[(learner, "torch", batch, 1)], "{:.1f}x")
    if ("level2.json", "fast", 2048, 2) in rate:
        show("level2.json batch 2048, fast: threads 2 / threads 1",
             rate[("level2.json", "fast", 2048, 2)], rate[("level2.json", "fast", 2048, 1)],
             "{:.2f}x")


if __name__ == "__main__":
    main()
