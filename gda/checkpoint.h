// A training run's checkpoint (RUN/checkpoint/), engine-agnostic: state.npz — every canonical
// tensor of the model (gda/engine.h) in the engine's precision and the optimiser states under
// "opt.<tensor>.<field>" — written and verified as a unit by gda/checkpoint_files.h (state.json:
// the step, the stage, the normalised learner config, the target's fingerprint and the archive's
// size and CRC-32). numpy.load reads state.npz. What the trainer needs to continue a run bit for
// bit is the model, the optimiser states and the step (every random draw is a function of the
// seed and the step).
//
//   fsr::save_checkpoint(run_dir, *engine, config_json, fingerprint(truth), step, stage);
//   fsr::ResumePoint r = fsr::open_run_for_resume(run_dir, config_json, fp, stage_steps);
//   if (r.state) { engine->begin_stage(...); fsr::load_checkpoint_state(r, run_dir, *engine); }
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/json_io.h"
#include "gda/checkpoint_files.h"
#include "gda/engine.h"

namespace fsr {

void save_checkpoint(const std::filesystem::path& run, const Engine& engine, const Json& config,
                     std::uint64_t target_fingerprint, std::int64_t global_step, int stage);

// The tensors and optimiser states of a verified checkpoint (open_run_for_resume) into the
// engine (after begin_stage). An archive whose checksum holds but that does not fit this model
// (another build, other shapes) is an InputError naming the file.
void load_checkpoint_state(const ResumePoint& resume, const std::filesystem::path& run,
                           Engine& engine);

}  // namespace fsr
