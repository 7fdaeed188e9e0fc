#!/usr/bin/env bash
# README's main job: set up (install, configure, build), then run the quick-start and print a
# one-screen summary. Output: JSON documents and figures under out/quickstart/ (or $FSR_OUT).
#
# For now the quick-start demonstrates the theory/ and synth/ layers on a small planted target:
# closed-form moments, the first-layer estimators fed with the target's true hidden codes, and
# column matching. Later issues replace it by the learner's quick-start experiment.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
build=${FSR_BUILD_DIR:-$root/build}
out=${FSR_OUT:-$root/out/quickstart}
fsr="$build/apps/fsr"
py=/usr/bin/python3  # Debian's python, where python3-numpy and python3-matplotlib live
mkdir -p "$out"

# Each document goes to a temporary file first and is renamed when complete.
save() {
  local dest=$1
  shift
  "$@" >"$dest.tmp"
  mv "$dest.tmp" "$dest"
}

echo "== fsrlab quick-start -> $out"
save "$out/moments.json" "$fsr" moments --alpha 2 --beta 1 --order 4 --json
save "$out/target.json" "$fsr" synth --config "$root/experiments/targets/quickstart.json" \
  --out "$out/target" --samples 20000 --hidden --json
save "$out/first_layer_fit.json" "$fsr" fit-first-layer --samples "$out/target/S_1.npy" --json
# A stand-in for a learned dictionary until the learner lands: the true M_1 with its columns
# permuted, perturbed and padded with two random columns, to show what `fsr match` scores.
"$py" "$root/reports/perturb_dictionary.py" "$out/target/M_1.npy" "$out/M_1_estimate.npy"
save "$out/match.json" "$fsr" match --truth "$out/target/M_1.npy" \
  --estimate "$out/M_1_estimate.npy" --json
"$py" "$root/reports/quickstart_report.py" "$out"
