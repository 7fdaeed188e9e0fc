#!/usr/bin/env bash
# Brings a Debian 12 machine to a built fsrlab tree: installs the Debian packages that are
# missing (only those), configures once, then builds incrementally. Called by quickstart.sh and
# test.sh; safe to run again.
#
# Usage: setup.sh [--with-test-packages]   (test.sh passes it: also the packages only tests use)
#
# Environment: FSR_BUILD_DIR (default: build/ in the repository), FSR_CMAKE_ARGS (extra -D flags
# for the first configure), FSR_JOBS (build parallelism, default: all cores).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FSR_BUILD_DIR:-$root/build}
jobs=${FSR_JOBS:-$(nproc)}

packages=(
  cmake ninja-build g++ git pkg-config
  libtorch-dev libopenblas0-pthread  # without OpenBLAS, Debian's LibTorch uses reference BLAS
  libeigen3-dev libboost-math-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libbenchmark-dev
  libstb-dev  # image decoding for the real-image pyramids (core/image_io.h)
  python3 python3-numpy python3-matplotlib  # figures, and the numpy interoperability test
  clang-14 libclang-rt-14-dev  # the sanitizer build and libFuzzer (its runtime) of scripts/test.sh
  python3-dev pybind11-dev                  # the fsrlab Python module (docs/python.md)
  python3-skimage  # ships the sample photographs the real-image suite reads (no downloads)
)
# Only the tests need these: a private one-node Slurm cluster for scripts/slurm/ (docs/cluster.md).
test_packages=(munge slurmctld slurmd slurm-client)
if [[ ${1:-} == --with-test-packages ]]; then
  packages+=("${test_packages[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "fsrlab setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -f "$build/build.ninja" ]; then
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${FSR_CMAKE_ARGS:-}
fi
cmake --build "$build" -j "$jobs"

# `import fsrlab` for Debian's python3 without PYTHONPATH: a .pth file in its site directory names
# the build's python/ folder (docs/python.md). System-wide as root, else the user's site.
if [ -d "$build/python/fsrlab" ]; then
  pydir=$(cd "$build/python" && pwd)
  if [ "$(id -u)" -eq 0 ]; then
    site=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')
  else
    site=$(/usr/bin/python3 -m site --user-site)
  fi
  mkdir -p "$site"
  if [ "$(cat "$site/fsrlab.pth" 2>/dev/null)" != "$pydir" ]; then
    printf '%s\n' "$pydir" >"$site/fsrlab.pth.tmp"
    mv "$site/fsrlab.pth.tmp" "$site/fsrlab.pth"
    echo "fsrlab setup: /usr/bin/python3 imports fsrlab from $pydir ($site/fsrlab.pth)"
  fi
fi
