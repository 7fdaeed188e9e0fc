#!/usr/bin/env bash
# Map of level-1 recovery against the learner's levers and the target's settings (docs/learner.md).
# Each row: a JSON merge patch on experiments/learners/level1.json (learner) and on
# experiments/learners/target_level1_alpha1.json (target), 3 seeds, the fast budget
# (batch 512, 1500 steps). Usage: research/recovery_map.sh BUILD_DIR > map.txt   (~10-15 min, 1 core)
set -u
B=${1:-build}
SWEEP="$B/research/gda_sweep --seeds ${SEEDS:-1,2,3}"
FAST='"sgda": {"batch": 512, "lr_g": 2e-3, "lr_min_factor": 0.001}, "schedule": {"steps": 1500}'
row() {  # name, learner patch (inner, without braces), target patch
  echo "== $1 | learner {$2} | target $3"
  $SWEEP --target-config experiments/learners/target_level1_alpha1.json \
    --learner experiments/learners/level1.json --patch "{$FAST${2:+, $2}}" --target-patch "$3" | tail -n +1
}
row "recipe (fast budget)" "" '{}'
row "random columns (pure GDA)" '"generator": {"columns_init": "random"}' '{}'
row "random columns, 4x wide, prune at 0.7" '"generator": {"columns_init": "random", "width": 4}, "units": {"prune_at": 0.7}' '{}'
row "random columns, 4x wide, reinit + prune" '"generator": {"columns_init": "random", "width": 4}, "units": {"reinit_every": 100, "reinit_until": 0.5, "prune_at": 0.7}' '{}'
row "learned read-outs (SGDA on D weights)" '"discriminator": {"readout": "learned"}, "sgda": {"batch": 512, "d_steps": 3, "lr_d": 1e-2, "lr_g": 2e-3, "lr_min_factor": 0.001}, "loss": {"penalty_weight": 1e-2}' '{}'
row "absolute thresholds" '"generator": {"threshold": "absolute"}' '{}'
row "no cubic read-out" '"discriminator": {"cubic": false}' '{}'
row "full quadratic read-out" '"discriminator": {"quadratic": "full"}' '{}'
row "learned correlations (rho free)" '"generator": {"correlation": "learned"}' '{}'
row "25% active" '' '{"active": [0.25]}'
row "alpha in [0.5, 2]" '' '{"first_layer": {"alpha": [0.5, 2.0]}}'
row "latent-correlated target (m0 = 16), rho learned" '"generator": {"correlation": "learned"}' '{"first_layer": {"correlation": "latent", "latent_dim": 16}}'
row "incoherent overcomplete dictionary m = 16 > d = 12" '' '{"channels": [16], "dictionary": {"kind": "incoherent", "coherence": 0.6}}'
row "fixed training set N = 20000" '"data": {"source": "fixed", "train_samples": 20000}' '{}'
# Moment warm start of the first layer (generator.first_layer_init = moments) from a wrong initial
# alpha/activity: where the data-driven start lands (1 step) and where GDA takes it (1500 steps).
MOM='"generator": {"first_layer_init": "moments", "init_code_scale": 0.7, "init_active": 0.2}'
row "moments start, wrong init, 1 step" "$MOM, \"schedule\": {\"steps\": 1}" '{}'
row "moments start, wrong init" "$MOM" '{}'
row "moments start, alpha in [0.5, 2], 1 step" "$MOM, \"schedule\": {\"steps\": 1}" '{"first_layer": {"alpha": [0.5, 2.0]}}'
row "moments start, alpha in [0.5, 2]" "$MOM" '{"first_layer": {"alpha": [0.5, 2.0]}}'
row "moments start, 25% active" "$MOM" '{"active": [0.25]}'
row "conv discriminator" '"discriminator": {"kind": "conv", "readout": "learned"}, "sgda": {"batch": 512, "d_steps": 3, "lr_d": 2e-3, "lr_g": 2e-3}' '{}'
