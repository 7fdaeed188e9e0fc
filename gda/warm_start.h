// The learner's data-driven warm starts (docs/learner.md): the generator's columns from k-means of
// real patches (generator.columns_init = patch_kmeans), level 1's units from the codes decoded
// through MOD-polished columns (first_layer_init = moments), and at the start of a level-l stage
// (l >= 2) either the scale calibration of the random W_l, b_l (up_init = calibrate) or W_l, b_l
// by ReLU regression of decoded child codes on decoded parent codes (up_init = regression). Each
// reads the model through the engine and writes the tensors it sets. Torch-free.
//
//   fsr::RunContext run{truth, config, shape, *engine, data, eval_z};
//   fsr::init_columns_kmeans(run, 1);
//   fsr::warm_start_stage(run, {2});   // the start of a stage training level 2
#pragma once

#include <vector>

#include "gda/run_context.h"

namespace fsr {

// Spherical k-means on |cos| of the level's real patches (non-zero ones), k = m_hat_l,
// k-means++ seeding from the learner's seed, generator.kmeans_restarts restarts: M<level>.
void init_columns_kmeans(RunContext& run, int level);

// The warm starts of a stage that trains `trained` (level 1 by moments when configured, levels
// >= 2 by calibration or regression).
void warm_start_stage(RunContext& run, const std::vector<int>& trained);

// The parts of warm_start_stage, for the record and for tests.
void fit_first_layer_start(RunContext& run);
void calibrate_bias(RunContext& run, int level);
void fit_up_layer(RunContext& run, int level);

}  // namespace fsr
