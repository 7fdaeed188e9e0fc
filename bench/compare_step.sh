#!/usr/bin/env bash
# One SGDA step of the theory model, ours (gda/fast, step_bench) against PyTorch eager
# (bench/pytorch_step.py), on the same inputs, at the two sizes of the step benchmark (docs/performance.md) and thread counts 1
# and 2. First checks that both compute the same step (bench/check_step.sh: float64 1e-9,
# float32 1e-4 relative),
# then prints the table of docs/performance.md. Every figure is the best of 3 timed segments
# (FSR_BENCH_SECONDS each, default 5; wall clock).
#
#   bash bench/compare_step.sh [BUILD_DIR]      # default build-perf; needs step_bench and
#                                               # fast_step_dump built there
#   FSR_BENCH_SECONDS=10 bash bench/compare_step.sh build-perf-native
#
# Ours runs on one thread (Eigen without OpenMP; sweeps use processes: fsr run --jobs), so its
# "threads 2" row repeats the one-thread figure and the ratio compares it with PyTorch on 2.
# Without python3-torch it checks nothing, prints our figures only and says so.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-perf}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
SECS=${FSR_BENCH_SECONDS:-5}
PY=/usr/bin/python3
for exe in bench/step_bench bench/fast_step_dump; do
  if [[ ! -x $BUILD/$exe ]]; then
    echo "compare_step.sh: $BUILD/$exe missing: cmake --build $BUILD --target step_bench fast_step_dump" >&2
    exit 2
  fi
done
HAVE_TORCH=1
$PY -c 'import torch' 2>/dev/null || HAVE_TORCH=0
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "machine: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc), $(date -u +%FT%TZ)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
CONFIGS=("quickstart 256" "four_level_32x32 64")
if [[ $HAVE_TORCH = 1 ]]; then
  bash "$ROOT/bench/check_step.sh" "$BUILD/bench/fast_step_dump" "$WORK"
fi
[[ $HAVE_TORCH = 1 ]] || echo "python3-torch not installed: no equivalence check, no PyTorch timings"

"$BUILD/bench/step_bench" --benchmark_min_time="$SECS" --benchmark_repetitions=3 \
  --benchmark_format=json \
  --benchmark_out="$WORK/ours.json" --benchmark_out_format=json > /dev/null 2>&1
if [[ $HAVE_TORCH = 1 ]]; then
  for c in "${CONFIGS[@]}"; do
    set -- $c
    for t in 1 2; do
      $PY "$ROOT/bench/pytorch_step.py" bench "$WORK/$1_float32" --threads $t --seconds "$SECS" \
        > "$WORK/torch_$1_$t.json"
    done
  done
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

$PY - "$WORK" "$HAVE_TORCH" <<'EOF'
import json, os, sys
work, have_torch = sys.argv[1], sys.argv[2] == "1"
# Best of the 3 repetitions (like pytorch_step.py's best segment): least disturbed by other work.
ours = [b for b in json.load(open(os.path.join(work, "ours.json")))["benchmarks"]
        if b.get("run_type") == "iteration"]
step, gemm = {}, {}
for b in ours:
    if b["name"].startswith("BM_Step") and b["steps/s"] > step.get(b["label"], {"steps/s": 0})["steps/s"]:
        step[b["label"]] = b
    if b["name"].startswith("BM_Sgemm") and not b.get("error_occurred"):
        k = b["name"].split("/real_time")[0]
        gemm[k] = max(gemm.get(k, 0), b["FLOP/s"])
for lib, prefix in (("Eigen", "BM_Sgemm/"), ("OpenBLAS", "BM_SgemmOpenBlas/")):
    got = {k: v for k, v in gemm.items() if k.startswith(prefix)}
    print("single-core SGEMM (%s, same binary): " % lib + (", ".join(
        "%s %.1f GFLOP/s" % (k.replace(prefix, "").replace("/", "x"), v / 1e9)
        for k, v in got.items()) or "not available"))
# The reference: the best single-core SGEMM rate measured here, any library, any shape.
best = max(gemm, key=gemm.get)
peak = gemm[best]
print("reference: %s, %.1f GFLOP/s" % (best.replace("BM_", "").replace("/", " ", 1)
                                         .replace("/", "x"), peak / 1e9))
rows = [("quickstart", "quickstart_b256", "quick-start, B=256"),
        ("four_level_32x32", "four_level_32x32_b64", "4-level 32x32, B=64")]
print("| config | threads | ours steps/s | PyTorch steps/s | ratio | ours GFLOP/s | PyTorch GFLOP/s | ours / best SGEMM |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for key, label, title in rows:
    b = step[label]
    for t in (1, 2):
        tp, tf = float("nan"), float("nan")
        if have_torch:
            r = json.load(open(os.path.join(work, "torch_%s_%d.json" % (key, t))))
            tp, tf = r["steps_per_s"], r["flops_per_s"]
        print("| %s | %d | %.1f | %.2f | %.1fx | %.2f | %.2f | %.0f%% |" % (
            title, t, b["steps/s"], tp, b["steps/s"] / tp, b["FLOP/s"] / 1e9, tf / 1e9,
            100 * b["FLOP/s"] / peak))
EOF
