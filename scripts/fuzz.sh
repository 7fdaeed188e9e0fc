#!/usr/bin/env bash
# Runs libFuzzer targets (docs/reliability.md).
#
#   scripts/fuzz.sh --seconds N --work DIR [--dict D] TARGET SEED...
#                                                           one target for N seconds (the ctest of
#                                                           each *_fuzz target calls this)
#   scripts/fuzz.sh --hours H [--jobs J]                    every fuzz target of build-asan/ for H
#                                                           hours, J at a time (default: nproc)
#
# One target: its corpus grows in DIR/corpus (kept between runs), the seeds are copied to
# DIR/seeds, a failing input is saved as DIR/crash-* (or leak-, timeout-, oom-) and the run exits
# non-zero. Limits that make a finding of unbounded work: 10 s per input, 2 GB of RSS and of any
# single allocation, and FSR_MEMORY_LIMIT = 1 GB for the readers' own memory checks.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

seconds="" hours="" work="" dict="" jobs=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --hours) hours=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --dict) dict=-dict=$(realpath "$2"); shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) break ;;
  esac
done

if [ -n "$hours" ]; then
  # Every target for H hours: the ctests of the sanitizer tree, with their time raised.
  build=${FSR_ASAN_BUILD_DIR:-$root/build-asan}
  [ -f "$build/build.ninja" ] || bash "$root/scripts/sanitize.sh" -L fuzz -N > /dev/null
  secs=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')
  cmake -DFSR_FUZZ_SECONDS="$secs" "$build" > /dev/null
  cmake --build "$build"
  status=0
  ctest --test-dir "$build" -L fuzz -j "$jobs" --output-on-failure || status=$?
  cmake -DFSR_FUZZ_SECONDS=20 "$build" > /dev/null  # back to the CI setting
  exit $status
fi

[ -n "$seconds" ] && [ -n "$work" ] && [ $# -ge 2 ] || {
  echo "usage: scripts/fuzz.sh --seconds N --work DIR TARGET SEED... | --hours H [--jobs J]" >&2
  exit 2
}
target=$(realpath "$1")
shift
mkdir -p "$work/corpus" "$work/seeds"
for seed in "$@"; do
  # Flattened names: seeds from different folders may share a file name.
  cp "$seed" "$work/seeds/$(echo "${seed#"$root"/}" | tr '/' '_')"
done
export FSR_MEMORY_LIMIT=${FSR_MEMORY_LIMIT:-1073741824}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$work"
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/" ${dict:+"$dict"} corpus seeds
