#!/usr/bin/env bash
# The sanitizer half of the test command (scripts/test.sh calls it after the main suite): the
# LibTorch-free libraries, their unit tests and the fuzz targets, built with clang-14 under
# AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ (CMakePresets.json, preset
# "asan"), then ctest there — the unit tests and the command-line tests with the sanitized fsr,
# and each fuzz target for FSR_FUZZ_SECONDS (20). Left out by default: the statistical tests that
# take over a minute each under ASan and the figure and PyTorch comparisons, which exercise Python
# more than this code ($slow below; FSR_SANITIZE_ALL=1 runs them too). Extra arguments are passed
# to ctest (-R npy). docs/reliability.md.
#
# Environment: FSR_ASAN_BUILD_DIR (default build-asan/), FSR_JOBS (parallelism, default nproc).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FSR_ASAN_BUILD_DIR:-$root/build-asan}
jobs=${FSR_JOBS:-$(nproc)}

if [ ! -f "$build/build.ninja" ]; then
  launcher=()
  if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  cmake --preset asan -S "$root" -B "$build" "${launcher[@]}"
fi
cmake --build "$build" -j "$jobs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
slow='^(Analyze\.|SampleComplexityFirstLayer\.CiSuite|BoundFit\.BootstrapCoverage|Determinism\.BatchSizeAndThreads|fsr_report_test$|pytorch_step_equivalence$)'
exclude=()
if [ "${FSR_SANITIZE_ALL:-0}" = 0 ]; then exclude=(-E "$slow"); fi
ctest --test-dir "$build" --output-on-failure -j "$jobs" "${exclude[@]}" "$@"
