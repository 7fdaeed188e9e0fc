#!/usr/bin/env bash
# Equivalence of our SGDA step (gda/fast) and PyTorch eager's (bench/pytorch_step.py): from the
# same initial weights, real batch and latents, one step at both sizes of the step benchmark (docs/performance.md) (quick-start
# B=256, 4-level 32x32 B=64), in float64 (tolerance 1e-9) and float32 (1e-4 relative), comparing
# the D loss, the G loss and every updated parameter. Run by ctest (pytorch_step_equivalence)
# and by bench/compare_step.sh.
#
#   bash bench/check_step.sh BUILD/bench/fast_step_dump [WORK_DIR]
#
# Exit 77 ("skipped" for ctest) when python3-torch is not installed: CI does not install torch
# for this; apt-get install python3-torch to run it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUMP=${1:?usage: check_step.sh FAST_STEP_DUMP [WORK_DIR]}
PY=/usr/bin/python3
if ! $PY -c 'import torch' 2> /dev/null; then
  echo "check_step.sh: SKIPPED — python3-torch is not installed (apt-get install python3-torch)"
  exit 77
fi
if [[ -n ${2:-} ]]; then
  WORK=$2
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
dirs=()
for c in "quickstart 256" "four_level_32x32 64"; do
  set -- $c
  for prec in float64 float32; do
    flag=()
    [[ $prec = float64 ]] && flag=(--double)
    "$DUMP" --target "$ROOT/experiments/targets/$1.json" --batch "$2" --out "$WORK/$1_$prec" \
      "${flag[@]}" > /dev/null
    dirs+=("$WORK/$1_$prec")
  done
done
$PY "$ROOT/bench/pytorch_step.py" check "${dirs[@]}"
