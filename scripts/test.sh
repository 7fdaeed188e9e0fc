#!/usr/bin/env bash
# README's test command: set up (install, configure, build; with the packages only tests use),
# run the whole test suite in build/, then the sanitizer half (scripts/sanitize.sh): the
# LibTorch-free unit tests under ASan + UBSan and each fuzz target for a bounded time, in
# build-asan/. Extra arguments go to both ctest runs (-R npy). FSR_SANITIZER_TESTS=0 skips the
# sanitizer half.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh" --with-test-packages
build=${FSR_BUILD_DIR:-$root/build}
status=0
ctest --test-dir "$build" --output-on-failure -j "${FSR_JOBS:-$(nproc)}" "$@" || status=$?
if [ "${FSR_SANITIZER_TESTS:-1}" != 0 ]; then
  bash "$root/scripts/sanitize.sh" "$@" || status=$?
fi
exit $status
