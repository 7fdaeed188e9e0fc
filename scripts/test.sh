#!/usr/bin/env bash
# README's test command: set up (install, configure, build), then run the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
build=${FSR_BUILD_DIR:-$root/build}
ctest --test-dir "$build" --output-on-failure -j "${FSR_JOBS:-$(nproc)}" "$@"
