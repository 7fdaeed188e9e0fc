#!/usr/bin/env bash
# The GPU check and timing of the step benchmark, for a machine with an NVIDIA GPU and PyTorch 2.x (pip or
# conda) and no internet. Two sub-commands:
#
#   bash scripts/gpu_bench.sh pack DEPS_DIR
#       on the development machine (Debian 12): copies the header-only dependencies that the GPU
#       machine may lack — Eigen, nlohmann_json, CLI11 (with their CMake package files) and the
#       Boost headers the tree includes — into DEPS_DIR (a prefix: DEPS_DIR/include, DEPS_DIR/share/...). Carry it
#       with the tree (e.g. as shared/deps).
#   bash scripts/gpu_bench.sh run [DEPS_DIR]
#       on the GPU machine. DEPS_DIR defaults to $FSR_DEPS_PREFIX, else <repo>/shared/deps, else
#       <repo>/shared/deps; without one the system's packages are used. Then:
#        1. configures build-gpu/ against PyTorch's bundled LibTorch
#           (python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'), with its C++ ABI
#           flag, -DFSR_CUDA=ON when nvcc is found (AUTO otherwise), tests and Google Benchmark off;
#        2. builds fsr and fast_step_dump;
#        3. trains a small config (the quick-start learner, 300 steps) with --device cpu and
#           --device cuda and compares them: final D and G losses within 1e-6 relative and
#           level-1 mean/min matched cosine within 1e-6 (the learner runs in float64, where CPU and
#           GPU differ by summation order only; 300 steps do not amplify that beyond 1e-9 in the
#           runs we know of, 1e-6 leaves room);
#        4. times the PyTorch eager step (bench/pytorch_step.py) on the GPU, plain and with a CUDA
#           graph, at both sizes (quick-start B=256, 4-level 32x32 B=64), after checking it
#           computes the same step as ours on the CPU.
#       Prints a block to paste into docs/performance.md (card, driver, torch, figures).
#       Without an NVIDIA GPU (no nvidia-smi, or torch.cuda.is_available() false) it says so and
#       exits 77 (the conventional "skipped") without building anything.
#
# FSR_BENCH_SECONDS (default 5) sets the time per timing; FSR_GPU_BUILD the build directory.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}

die() { echo "gpu_bench.sh: $*" >&2; exit 2; }

pack() {
  local dest=${1:?usage: gpu_bench.sh pack DEPS_DIR}
  mkdir -p "$dest/include" "$dest/share/cmake"
  cp -r /usr/include/eigen3 "$dest/include/"
  mkdir -p "$dest/share/eigen3" && cp -r /usr/share/eigen3/cmake "$dest/share/eigen3/"
  cp -r /usr/include/nlohmann "$dest/include/"
  cp -r /usr/share/cmake/nlohmann_json "$dest/share/cmake/"
  cp -r /usr/include/CLI "$dest/include/"
  cp -r /usr/share/cmake/CLI11 "$dest/share/cmake/"
  # Only the Boost headers the tree includes (the preprocessor's dependency list of every source
  # that includes Boost): ~4 MB instead of 173 MB, so the bundle fits the device tool's carry.
  local src
  src=$(cd "$ROOT" && grep -rl '#include <boost' --include='*.cpp' --include='*.h' \
          core theory synth gda experiments apps bench)
  (cd "$ROOT" && for f in $src; do g++ -std=c++20 -I. -I/usr/include/eigen3 -M "$f"; done) |
    tr ' \\' '\n\n' | grep '^/usr/include/boost/' | sort -u |
    while read -r h; do
      mkdir -p "$dest/include/$(dirname "${h#/usr/include/}")"
      cp "$h" "$dest/include/${h#/usr/include/}"
    done
  # The package files point at /usr/include; rewrite them to the carried prefix at run time.
  echo "packed into $dest ($(du -sh "$dest" | cut -f1)); on the GPU machine: gpu_bench.sh run $dest"
}

# Rewrites the absolute /usr/include paths in the carried CMake package files to DEPS/include.
relocate() {
  local deps=$1
  grep -rl '/usr/include' "$deps/share" 2>/dev/null | while read -r f; do
    sed -i "s#/usr/include#$deps/include#g" "$f"
  done
}

run() {
  local given=${1:-}
  local deps=${given:-${FSR_DEPS_PREFIX:-}}
  if [[ -z $deps ]]; then
    for d in "$ROOT/shared/deps"; do [[ -d $d ]] && deps=$d && break; done
  fi
  if ! command -v nvidia-smi > /dev/null || ! nvidia-smi -L > /dev/null 2>&1; then
    echo "gpu_bench.sh: SKIPPED — no NVIDIA GPU here (nvidia-smi missing or it lists no device)."
    exit 77
  fi
  "$PY" -c 'import torch' 2> /dev/null || die "python3 cannot import torch (PyTorch 2.x with CUDA needed)"
  if [[ $("$PY" -c 'import torch; print(int(torch.cuda.is_available()))') != 1 ]]; then
    echo "gpu_bench.sh: SKIPPED — torch.cuda.is_available() is False (CPU-only torch or driver mismatch)."
    exit 77
  fi
  local secs=${FSR_BENCH_SECONDS:-5}
  local build=${FSR_GPU_BUILD:-$ROOT/build-gpu}
  local torch_prefix abi gen=() cuda=AUTO prefix
  torch_prefix=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  abi=$("$PY" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
  command -v ninja > /dev/null && gen=(-G Ninja)
  if command -v nvcc > /dev/null || [[ -x /usr/local/cuda/bin/nvcc ]]; then cuda=ON; fi
  prefix=$torch_prefix
  if [[ -n $deps ]]; then
    deps=$(cd "$deps" && pwd)
    relocate "$deps"
    prefix="$torch_prefix;$deps"
  fi
  echo "== configure ($build): LibTorch $torch_prefix, CXX11 ABI $abi, FSR_CUDA=$cuda, deps ${deps:-system}"
  cmake -S "$ROOT" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" -DFSR_CUDA=$cuda -DFSR_WITH_TORCH=ON \
    -DFSR_BUILD_TESTS=OFF -DFSR_BUILD_BENCH=OFF \
    ${deps:+-DBoost_INCLUDE_DIR="$deps/include"} \
    -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi"
  cmake --build "$build" --target fsr fast_step_dump -j "$(nproc)"

  local work fsr=$build/apps/fsr
  work=$(mktemp -d)
  echo "== fsr train: --device cpu vs --device cuda (work dir $work)"
  "$fsr" synth --config "$ROOT/experiments/targets/quickstart.json" --out "$work/target" > /dev/null
  "$PY" - "$ROOT/experiments/learners/quickstart.json" "$work/learner.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["schedule"]["steps"] = 300
c.setdefault("log", {}).update({"every": 100, "checkpoint_every": 300})
json.dump(c, open(sys.argv[2], "w"), indent=1)
EOF
  for dev in cpu cuda; do
    "$fsr" train --target "$work/target" --config "$work/learner.json" --out "$work/run_$dev" \
      --device $dev --json > "$work/train_$dev.json"
  done
  "$PY" - "$work/train_cpu.json" "$work/train_cuda.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ok = True
def cmp(name, x, y, tol, rel):
    global ok
    err = abs(x - y) / (abs(y) if rel and y else 1)
    good = err <= tol
    ok &= good
    print("  %-28s cpu %+.10e cuda %+.10e %s err %.1e %s" % (name, x, y, "rel" if rel else "abs",
                                                            err, "ok" if good else "FAIL"))
for k in ("loss_d", "loss_g"):
    cmp(k, a["last_metrics"][k], b["last_metrics"][k], 1e-6, True)
la, lb = a["recovery"]["levels"][0]["columns"], b["recovery"]["levels"][0]["columns"]
for k in ("mean_cosine", "min_cosine"):
    cmp("level1 " + k, la[k], lb[k], 1e-6, False)
print("  train seconds: cpu %.1f, cuda %.1f" % (a["seconds"], b["seconds"]))
print("  CPU vs GPU: " + ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
EOF

  echo "== PyTorch eager step on the GPU ($secs s per figure)"
  for c in "quickstart 256" "four_level_32x32 64"; do
    set -- $c
    "$build/bench/fast_step_dump" --target "$ROOT/experiments/targets/$1.json" --batch "$2" \
      --out "$work/step_$1" > /dev/null
    "$PY" "$ROOT/bench/pytorch_step.py" check "$work/step_$1"
    for mode in eager graph; do
      local extra=()
      [[ $mode = graph ]] && extra=(--cuda-graph)
      "$PY" "$ROOT/bench/pytorch_step.py" bench "$work/step_$1" --device cuda --seconds "$secs" \
        "${extra[@]}" > "$work/gpu_$1_$mode.json" || echo '{"steps_per_s": null}' > "$work/gpu_$1_$mode.json"
    done
  done
  echo "== for docs/performance.md"
  echo "card: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
  echo "torch: $("$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
  echo "command: bash scripts/gpu_bench.sh run${given:+ $given}   ($(date -u +%F))"
  "$PY" - "$work" <<'EOF'
import json, os, sys
w = sys.argv[1]
print("| config | PyTorch eager steps/s | PyTorch + CUDA graph steps/s | eager GFLOP/s |")
print("| --- | ---: | ---: | ---: |")
for key, title in (("quickstart", "quick-start, B=256"), ("four_level_32x32", "4-level 32x32, B=64")):
    e = json.load(open(os.path.join(w, "gpu_%s_eager.json" % key)))
    g = json.load(open(os.path.join(w, "gpu_%s_graph.json" % key)))
    f = lambda r, k: "n/a" if r.get(k) is None else "%.1f" % (r[k] / (1e9 if "flops" in k else 1))
    print("| %s | %s | %s | %s |" % (title, f(e, "steps_per_s"), f(g, "steps_per_s"),
                                     f(e, "flops_per_s")))
EOF
  rm -rf "$work"
}

case ${1:-} in
  pack) shift; pack "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: gpu_bench.sh pack DEPS_DIR | run [DEPS_DIR]" >&2; exit 2 ;;
esac
