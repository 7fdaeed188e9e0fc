#!/usr/bin/env bash
# Where pure GDA's first-layer bias (alpha, beta) comes from: the diagnostics of docs/learner.md
# ("Where the alpha/beta bias comes from"), each one gda_sweep run on seed 1 of the alpha-spread
# family (experiments/learners/target_level1_alpha1.json with alpha in [0.5, 2] per unit, 10 %
# active), learner experiments/learners/level1_gda.json. The last line of each run is gda_sweep's
# summary; --verbose records go to OUT/NAME.log.
#
# Usage: research/alpha_beta_diagnostics.sh BUILD_DIR OUT_DIR [NAME ...]
#   exact_columns_learned_d  columns at the target's, codes at the sparse start, the level1_gda D
#   exact_columns_refine     the same columns, frozen; a refine stage whose D decodes along them
#                            (tied rows, fixed thresholds 0..1.5), closed-form read-outs, lr_g 3e-3
#   exact_columns_refine_fast         ... lr_g 2e-2, 3000 steps
#   exact_columns_refine_fast_long    ... lr_g 2e-2, 12000 steps
#   learned_columns_refine   pure GDA (6000 steps), then the fast refine with its own columns frozen
#   learned_columns_tied_free        ... the same refine (4000 steps) with the columns free, lr_g 5e-3
#   learned_columns_tied_free_fast   ... lr_g 2e-2
#   learned_columns_linear_moments   the shipped learner (v2, 2500 steps), then a refine whose D
#                            matches mean and covariance along G's columns (frozen), lr_g 2e-2
#   learned_columns_linear_moments_free   ... the columns free, lr_g 5e-3
#   learned_columns_polish   pure GDA, then 8000 steps of the warm-start recipe's D and step sizes
#                            (experiments/learners/level1.json: closed-form read-outs, a learned
#                            decoder, batch 2048), columns free
#   decoding_columns_refine  experiments/learners/level1_gda_decoding.json for 5000 steps (its
#                            columns are the most accurate pure GDA reaches), then the fast refine,
#                            12000 steps, with its own columns frozen
# One core, 20 s to 3 min each on an idle machine (the polish: about 5 min).
set -euo pipefail
build=${1:?usage: alpha_beta_diagnostics.sh BUILD_DIR OUT_DIR [NAME ...]}
out=${2:?usage: alpha_beta_diagnostics.sh BUILD_DIR OUT_DIR [NAME ...]}
shift 2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$out"
T=$root/experiments/learners/target_level1_alpha1.json
L=$root/experiments/learners/level1_gda.json
TP='{"first_layer": {"alpha": [0.5, 2.0]}}'
# The pure-GDA runs below were measured with level1_gda.json's first version (6000 steps, prune at
# 40 % with floor 0.2); this patch keeps them reproducible after its schedule changed.
V1='{"schedule": {"steps": 6000}, "units": {"prune_at": 0.4, "cluster_floor": 0.2}}'
W1='{"generator": {"width": 1}, "units": {"prune_at": 0}, "schedule": {"steps": 1}}'
D='"discriminator": {"width": 5, "readout": "optimal", "quadratic": "diag", "cubic": false, "threshold_init": 0.0, "learn_threshold": false}'
refine() {  # steps lr_g [freeze_columns: true (default) | false]
  echo "{\"steps\": $1, \"tie_decoder\": true, \"tie_taus\": [0, 0.25, 0.5, 1.0, 1.5], \"freeze_columns\": ${3:-true}, \"patch\": {$D, \"sgda\": {\"d_steps\": 1, \"batch\": 2048, \"lr_g\": $2, \"lr_d\": 1e-9, \"beta2\": 0.99, \"lr_min_factor\": 0.01}, \"units\": {\"prune_at\": 0}, \"log\": {\"every\": 500}}}"
}
# The linear-moment refine: one decoded unit per generator column at threshold -3 (so ReLU(v.x + 3)
# is linear on these data), closed-form linear + full-quadratic read-outs: G matches the mean and
# covariance of the data along its own columns. After the shipped learner (v2).
linrefine() {  # steps lr_g freeze_columns
  echo "{\"steps\": $1, \"tie_decoder\": true, \"tie_taus\": [-3.0], \"freeze_columns\": $3, \"patch\": {\"discriminator\": {\"width\": 1, \"readout\": \"optimal\", \"quadratic\": \"full\", \"cubic\": false, \"threshold_init\": 0.0, \"learn_threshold\": false}, \"sgda\": {\"d_steps\": 1, \"batch\": 2048, \"lr_g\": $2, \"lr_d\": 1e-9, \"beta2\": 0.99, \"lr_min_factor\": 0.01}, \"units\": {\"prune_at\": 0}, \"log\": {\"every\": 500}}}"
}
run() {
  local name=$1
  shift
  echo "== $name"
  "$build/research/gda_sweep" --target-config "$T" --learner "${LEARNER:-$L}" --seeds 1 \
    --target-patch "$TP" --verbose "$@" > "$out/$name.log" 2>&1
  grep '^seed' "$out/$name.log"
}
all=(exact_columns_learned_d exact_columns_refine exact_columns_refine_fast
     exact_columns_refine_fast_long learned_columns_refine learned_columns_polish
     learned_columns_tied_free learned_columns_tied_free_fast
     learned_columns_linear_moments learned_columns_linear_moments_free decoding_columns_refine)
(($#)) || set -- "${all[@]}"
for name in "$@"; do
  case $name in
    exact_columns_learned_d)
      run "$name" --oracle-columns \
        --patch '{"generator": {"width": 1}, "units": {"prune_at": 0}, "schedule": {"steps": 4000}}' ;;
    exact_columns_refine) run "$name" --oracle-columns --patch "$W1" --refine "$(refine 3000 3e-3)" ;;
    exact_columns_refine_fast) run "$name" --oracle-columns --patch "$W1" --refine "$(refine 3000 2e-2)" ;;
    exact_columns_refine_fast_long)
      run "$name" --oracle-columns --patch "$W1" --refine "$(refine 12000 2e-2)" ;;
    learned_columns_refine) run "$name" --patch "$V1" --refine "$(refine 4000 2e-2)" ;;
    learned_columns_tied_free) run "$name" --patch "$V1" --refine "$(refine 4000 5e-3 false)" ;;
    learned_columns_tied_free_fast) run "$name" --patch "$V1" --refine "$(refine 4000 2e-2 false)" ;;
    learned_columns_linear_moments) run "$name" --refine "$(linrefine 4000 2e-2 true)" ;;
    learned_columns_linear_moments_free) run "$name" --refine "$(linrefine 4000 5e-3 false)" ;;
    learned_columns_polish)
      run "$name" --patch "$V1" --refine '{"steps": 8000, "patch": {"discriminator": {"width": 2, "readout": "optimal", "quadratic": "diag", "cubic": true, "threshold_init": 0.0}, "sgda": {"d_steps": 1, "batch": 2048, "lr_g": 3e-3, "lr_d": 3e-3, "beta2": 0.99, "lr_min_factor": 0.01}, "units": {"prune_at": 0}, "log": {"every": 1000}}}' ;;
    decoding_columns_refine)
      LEARNER=$root/experiments/learners/level1_gda_decoding.json run "$name" \
        --patch '{"schedule": {"steps": 5000}}' --refine "$(refine 12000 2e-2)" ;;
    *) echo "alpha_beta_diagnostics.sh: unknown diagnostic '$name' (one of: ${all[*]})" >&2; exit 2 ;;
  esac
done
