#!/usr/bin/env bash
# README's test command: set up (install, configure, build; with the packages only tests use),
# then run the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh" --with-test-packages
build=${FSR_BUILD_DIR:-$root/build}
ctest --test-dir "$build" --output-on-failure -j "${FSR_JOBS:-$(nproc)}" "$@"
