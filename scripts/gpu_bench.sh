#!/usr/bin/env bash
# The GPU run of the CUDA engine (gda/cuda/, docs/gpu.md): its oracle tests, training on both
# devices, and the step's timing against PyTorch, for a machine with an NVIDIA GPU, nvcc and
# PyTorch 2.x (pip or conda) and no internet. Two sub-commands:
#
#   bash scripts/gpu_bench.sh pack DEPS_DIR
#       on the development machine (Debian 12): copies what the GPU machine may lack into DEPS_DIR
#       (a prefix: DEPS_DIR/include, DEPS_DIR/lib, DEPS_DIR/share/...): the header-only
#       dependencies - Eigen, nlohmann_json, CLI11 (with their CMake package files), the Boost
#       headers the tree includes - Debian's stb (headers and libstb.so) and GoogleTest's sources
#       (the oracle tests are gtest programs). Carry it with the tree (e.g. as shared/deps).
#   bash scripts/gpu_bench.sh run [DEPS_DIR]
#       on the GPU machine. DEPS_DIR defaults to $FSR_DEPS_PREFIX, else <repo>/shared/deps;
#       without one the system's packages are used. Then:
#        1. builds GoogleTest from DEPS_DIR/src/googletest (when carried) and configures
#           build-gpu/ against PyTorch's bundled LibTorch (torch.utils.cmake_prefix_path, with its
#           C++ ABI flag), -DFSR_CUDA=ON, tests on, Google Benchmark off;
#        2. builds fsr, cuda_engine_test, fast_step_dump and cuda_step_bench;
#        3. runs the oracle tests on the GPU (cuda_engine_test --backend=cuda: every option, one
#           step and 50 steps against the CPU engine, float64 and float32);
#        4. trains the quick-start learner and the level-2 learner (experiments/learners/) with
#           --device cpu and --device cuda side by side and compares their recoveries
#           (scripts/gpu_bench_report.py train);
#        5. times the step of bench/step_model.h - ours on CUDA (bench/cuda_step_bench.cpp),
#           PyTorch eager and PyTorch in a CUDA graph (bench/pytorch_step.py, checked first
#           against our CPU step) - at quick-start size and on the 4-level 32x32 target, batch
#           sweeps, with cuBLAS SGEMM as the reference; prints the table for docs/gpu.md.
#       Exits 1 when the oracle tests, the step check or the training comparison fail. Without
#       an NVIDIA GPU (no nvidia-smi, or it lists none) or without nvcc it says so, prints
#       "SKIPPED" and exits 0 without building anything.
#
# FSR_BENCH_SECONDS (default 1) sets the time per timing segment (best of 3); FSR_GPU_BUILD the
# build directory (default build-gpu/, reused when it exists).
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
  # stb (image decoding, core/image_io.cpp): Debian's headers and shared library.
  cp -r /usr/include/stb "$dest/include/"
  mkdir -p "$dest/lib" && cp -a /usr/lib/x86_64-linux-gnu/libstb.so* "$dest/lib/"
  # GoogleTest's sources (built there by run: the oracle tests are gtest programs).
  mkdir -p "$dest/src" && cp -r /usr/src/googletest "$dest/src/"
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
  if [[ -z $deps && -d $ROOT/shared/deps ]]; then deps=$ROOT/shared/deps; fi
  if ! command -v nvidia-smi > /dev/null || ! nvidia-smi -L > /dev/null 2>&1; then
    echo "gpu_bench.sh: SKIPPED - no NVIDIA GPU here (nvidia-smi missing or it lists no device)."
    exit 0
  fi
  local nvcc=""
  if command -v nvcc > /dev/null; then
    nvcc=$(command -v nvcc)
  elif [[ -x /usr/local/cuda/bin/nvcc ]]; then
    nvcc=/usr/local/cuda/bin/nvcc
  fi
  if [[ -z $nvcc ]]; then
    echo "gpu_bench.sh: SKIPPED - a GPU but no nvcc (the CUDA toolkit is needed to build)."
    exit 0
  fi
  "$PY" -c 'import torch' 2> /dev/null || die "python3 cannot import torch (PyTorch 2.x with CUDA needed)"
  local secs=${FSR_BENCH_SECONDS:-1}
  local build=${FSR_GPU_BUILD:-$ROOT/build-gpu}
  local torch_prefix abi gen=() prefix jobs t0 status=0
  jobs=$(nproc)
  t0=$SECONDS
  torch_prefix=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  abi=$("$PY" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
  command -v ninja > /dev/null && gen=(-G Ninja)
  prefix=$torch_prefix
  if [[ -n $deps ]]; then
    deps=$(cd "$deps" && pwd)
    relocate "$deps"
    prefix="$prefix;$deps"
    export LD_LIBRARY_PATH="$deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  if [[ -n $deps && -d $deps/src/googletest ]]; then
    if [[ ! -f $build-gtest/prefix/include/gtest/gtest.h ]]; then
      echo "== GoogleTest from $deps/src/googletest"
      cmake -S "$deps/src/googletest" -B "$build-gtest" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_GMOCK=OFF -DCMAKE_INSTALL_PREFIX="$build-gtest/prefix" \
        -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi" > "$build-gtest.log" 2>&1 ||
        { tail -20 "$build-gtest.log"; die "GoogleTest configure failed"; }
      cmake --build "$build-gtest" -j "$jobs" --target install >> "$build-gtest.log" 2>&1 ||
        { tail -20 "$build-gtest.log"; die "GoogleTest build failed"; }
    fi
    prefix="$prefix;$build-gtest/prefix"
  fi
  echo "== configure ($build): LibTorch $torch_prefix, CXX11 ABI $abi, nvcc $nvcc, deps ${deps:-system}"
  cmake -S "$ROOT" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CUDA_COMPILER="$nvcc" -DFSR_CUDA=ON \
    -DFSR_WITH_TORCH=ON -DFSR_BUILD_TESTS=ON -DFSR_BUILD_BENCH=OFF \
    ${deps:+-DBoost_INCLUDE_DIR="$deps/include"} \
    -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi" > "$build.configure.log" 2>&1 ||
    { tail -30 "$build.configure.log"; die "configure failed (log: $build.configure.log)"; }
  echo "== build (-j $jobs)"
  cmake --build "$build" --target fsr cuda_engine_test fast_step_dump cuda_step_bench -j "$jobs" \
    > "$build.build.log" 2>&1 ||
    { tail -40 "$build.build.log"; die "build failed (log: $build.build.log)"; }
  echo "   configured and built in $((SECONDS - t0)) s"

  local work fsr=$build/apps/fsr
  work=$(mktemp -d)
  echo "== oracle tests on the GPU (cuda_engine_test --backend=cuda)"
  t0=$SECONDS
  if "$build/gda/cuda/cuda_engine_test" --backend=cuda > "$work/oracle.log" 2>&1; then
    echo "   PASS: $(grep -E '^\[  PASSED  \]' "$work/oracle.log") in $((SECONDS - t0)) s"
  else
    status=1
    grep -E 'Failure|Expected|FAILED|SKIPPED|error' "$work/oracle.log" | head -40
    echo "   FAIL (full log kept: $work/oracle.log)"
  fi

  echo "== fsr train, --device cpu and --device cuda side by side"
  t0=$SECONDS
  "$fsr" synth --config "$ROOT/experiments/targets/quickstart.json" --out "$work/t_quickstart" > /dev/null
  "$fsr" synth --config "$ROOT/experiments/learners/target_level2.json" --out "$work/t_level2" > /dev/null
  local name dev pids=()
  for name in quickstart level2; do
    for dev in cpu cuda; do
      "$fsr" train --target "$work/t_$name" --config "$ROOT/experiments/learners/$name.json" \
        --out "$work/run_${name}_$dev" --device $dev --json > "$work/train_${name}_$dev.json" \
        2> "$work/train_${name}_$dev.err" &
      pids+=($!)
    done
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  "$PY" "$ROOT/scripts/gpu_bench_report.py" train "$work" || status=1
  echo "   trained in $((SECONDS - t0)) s"

  echo "== the step: ours on CUDA vs PyTorch eager and CUDA graph ($secs s segments, best of 3)"
  t0=$SECONDS
  "$build/bench/cuda_step_bench" --sgemm 8192 --seconds "$secs" > "$work/sgemm.json" ||
    echo '{"sgemm_flops_per_s": null}' > "$work/sgemm.json"
  local key batches b first mode
  for c in "quickstart 256,1024,4096,16384" "four_level_32x32 16,64,256"; do
    set -- $c
    key=$1 batches=$2 first=1
    "$build/bench/cuda_step_bench" --target "$ROOT/experiments/targets/$key.json" \
      --batch "$batches" --device cuda --seconds "$secs" > "$work/ours_$key.jsonl" || true
    for b in ${batches//,/ }; do
      "$build/bench/fast_step_dump" --target "$ROOT/experiments/targets/$key.json" --batch "$b" \
        --out "$work/step_${key}_$b" > /dev/null
      if ((first)); then
        "$PY" "$ROOT/bench/pytorch_step.py" check "$work/step_${key}_$b" || status=1
        first=0
      fi
      for mode in eager graph; do
        local extra=()
        [[ $mode = graph ]] && extra=(--cuda-graph)
        "$PY" "$ROOT/bench/pytorch_step.py" bench "$work/step_${key}_$b" --device cuda \
          --seconds "$secs" "${extra[@]}" > "$work/torch_${key}_${b}_$mode.json" 2> /dev/null ||
          echo '{"steps_per_s": null}' > "$work/torch_${key}_${b}_$mode.json"
      done
    done
  done
  echo "   timed in $((SECONDS - t0)) s"
  echo "== for docs/gpu.md"
  echo "card: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
  echo "torch: $("$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)'); nvcc: $("$nvcc" --version | tail -1)"
  echo "command: bash scripts/gpu_bench.sh run${given:+ $given}   ($(date -u +%F))"
  "$PY" "$ROOT/scripts/gpu_bench_report.py" step "$work"
  if ((status)); then
    echo "gpu_bench.sh: FAILED (see above; work dir kept: $work)"
  else
    rm -rf "$work"
    echo "gpu_bench.sh: done"
  fi
  exit $status
}

case ${1:-} in
  pack) shift; pack "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: gpu_bench.sh pack DEPS_DIR | run [DEPS_DIR]" >&2; exit 2 ;;
esac
