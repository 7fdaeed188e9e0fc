// A training run's checkpoint (RUN/checkpoint/): state.npz — every canonical tensor of the model
// (gda/engine.h) in the engine's precision and the optimiser states under "opt.<tensor>.<field>"
// — and state.json — the step, the stage, the normalised learner config and the target's
// fingerprint. numpy.load reads state.npz. Engine-agnostic: what the trainer needs to continue a
// run bit for bit is the model, the optimiser states and the step (every random draw is a
// function of the seed and the step).
//
//   fsr::save_checkpoint(run_dir, *engine, config_json, fingerprint(truth), step, stage);
//   fsr::CheckpointInfo info = fsr::read_checkpoint_info(run_dir, config_json, fingerprint(truth));
//   engine->begin_stage(...);  fsr::load_checkpoint_state(run_dir, *engine);
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/json_io.h"
#include "gda/engine.h"

namespace fsr {

void save_checkpoint(const std::filesystem::path& run, const Engine& engine, const Json& config,
                     std::uint64_t target_fingerprint, std::int64_t global_step, int stage);

struct CheckpointInfo {
  std::int64_t global_step = 0;
  int stage = 0;
};

// Throws InputError naming --resume when there is no checkpoint, when the config differs from
// the checkpoint's (naming each changed field) or when the target does.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& run, const Json& config,
                                    std::uint64_t target_fingerprint);

// The tensors and optimiser states of the checkpoint into the engine (after begin_stage).
void load_checkpoint_state(const std::filesystem::path& run, Engine& engine);

}  // namespace fsr
