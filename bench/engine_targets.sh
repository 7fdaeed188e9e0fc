#!/usr/bin/env bash
# The fast engine against its speed targets, in one command: fsr train per engine
# (bench/train_engines.py --within: level1.json and level2.json at their batch, fast and torch;
# level2.json at batch 2048 on 1 and 2 threads), then the SGDA step against PyTorch eager and the
# best single-core SGEMM (bench/compare_step.sh), then one table of target, measured value and
# verdict. Run it on an otherwise idle machine; it unsets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
# for itself alone (they slow current OpenBLAS kernels, the SGEMM reference and the torch
# engine's). About 15 minutes on dev-2c.
#
#   bash bench/engine_targets.sh [BUILD_DIR]     # default build; needs apps/fsr, bench/step_bench
#                                                # and bench/fast_step_dump built there
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "== fsr train per engine (bench/train_engines.py --steps 500,2500 --within)"
/usr/bin/python3 "$ROOT/bench/train_engines.py" "$BUILD/apps/fsr" --steps 500,2500 --within \
  | tee "$WORK/train.txt"
echo
echo "== one SGDA step (bench/compare_step.sh)"
bash "$ROOT/bench/compare_step.sh" "$BUILD" | tee "$WORK/step.txt"
echo
/usr/bin/python3 - "$WORK" <<'EOF'
import os, re, sys
work = sys.argv[1]
train = open(os.path.join(work, "train.txt")).read()
step = open(os.path.join(work, "step.txt")).read()


def ratio(pattern, text):
    m = re.search(pattern, text)
    return float(m.group(1)) if m else float("nan")


rows = [
    ("fsr train, level1.json: fast / torch", 10.0,
     ratio(r"level1.json batch \d+: fast / torch = ([\d.]+)x", train), "x"),
    ("fsr train, level2.json: fast / torch", 10.0,
     ratio(r"level2.json batch 512: fast / torch = ([\d.]+)x", train), "x"),
    ("fsr train, level2.json batch 2048: threads 2 / threads 1", 1.7,
     ratio(r"threads 2 / threads 1 = ([\d.]+)x", train), "x"),
    ("step, quick-start B=256, 1 thread: ours / PyTorch eager", 10.0,
     ratio(r"\| quick-start, B=256 \| 1 \| [\d.]+ \| [\d.na]+ \| ([\d.na]+)x", step), "x"),
    ("step, 4-level 32x32 B=64: ours / best single-core SGEMM", 50.0,
     ratio(r"\| 4-level 32x32, B=64 \| 1 \|.*\| (\d+)% \|", step), "%"),
]
print("| target | wanted | measured | |")
print("| --- | ---: | ---: | --- |")
for name, want, got, unit in rows:
    verdict = "n/a" if got != got else ("met" if got >= want else "missed")
    fmt = "%.2f" if unit == "x" else "%.0f"
    print(f"| {name} | >= {want:g}{unit} | {fmt % got}{unit} | {verdict} |")
EOF
