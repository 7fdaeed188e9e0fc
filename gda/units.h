// Unit maintenance of the learner's generator (config section `units`): re-seeding level-1
// channels that are dead or duplicate a stronger one during the first part of a stage
// (units.reinit_every, reinit_until), and pruning a wider generator to the target's width at a
// fraction of the stage (units.prune_at). Reads the model through the engine, writes the tensors
// (and resets the optimiser moments of re-seeded units). Torch-free.
//
//   fsr::maintain_units(run, stage_trained, stage_steps, finetune, step_in_stage, global_step);
#pragma once

#include <cstdint>
#include <vector>

#include "gda/run_context.h"

namespace fsr {

// What units.* asks for at this step of a stage (trained levels, its length, whether it is the
// joint fine-tune, which never prunes).
void maintain_units(RunContext& run, const std::vector<int>& trained, std::int64_t stage_steps,
                    bool finetune, std::int64_t step_in_stage, std::int64_t global_step);

// Re-seeds level-1 channels that are dead (never active) or duplicate a stronger channel's
// column: the new column is a decoder row of D that no live generator column explains (what D
// sees that G lacks), else a random direction; the new rows of A_hat are orthogonal to all
// others. Seeded by (learner seed, global_step).
void reinit_level1(RunContext& run, std::int64_t global_step);

// Keeps the m_l strongest channels with distinct columns (the target's width), masks the rest.
void prune(RunContext& run, int level);

}  // namespace fsr
