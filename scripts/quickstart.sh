#!/usr/bin/env bash
# README's main job: set up (install, configure, build), then run the quick-start and print a
# one-screen summary. Output: JSON documents and figures under out/quickstart/ (or $FSR_OUT).
#
# The quick-start (experiments/quickstart.json): a small 2-level planted target, the GDA learner
# trained on its level 1, the analysis of the learned model, the first-layer estimators fed with
# the target's true hidden codes (the learner-free baseline), and every figure `fsr report` can
# draw from those documents. About 1-2 minutes on 2 cores once built.
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
save "$out/moments.json" "$fsr" moments --alpha 1 --beta 1.2815515655446004 --order 4 --json
# Train and analyse (a re-run skips the finished job; an interrupted one resumes).
"$fsr" run "$root/experiments/quickstart.json" --out "$out/suite"
job="$out/suite/jobs/quickstart.gda_level1.seed1"
# The same target with alpha spread over [0.5, 2], with 20000 samples of its hidden codes, for the
# learner-free baseline (per-unit alpha/beta estimates; a spread alpha makes the scatter readable).
save "$out/target_alpha_spread.json" "$fsr" synth \
  --config "$root/experiments/targets/quickstart_alpha_spread.json" \
  --out "$out/target_alpha_spread" --samples 20000 --hidden --json
save "$out/first_layer_fit.json" "$fsr" fit-first-layer \
  --samples "$out/target_alpha_spread/S_1.npy" --json
save "$out/match.json" "$fsr" match --truth "$job/target/M_1.npy" \
  --estimate "$job/run/model/M_1.npy" --json
"$fsr" report "$out" --out "$out/report" >"$out/report.log" 2>&1
"$py" "$root/reports/quickstart_report.py" "$out"
