// Unit maintenance of the learner's generator (config section `units`): re-seeding level-1
// channels that are dead or duplicate a stronger one during the first part of a stage
// (units.reinit_every, reinit_until), and pruning a wider generator at a fraction of the stage
// (units.prune_at): to the target's width, or to the clusters its own columns form
// (units.prune_rule). Reads the model through the engine, writes the tensors (and resets the
// optimiser moments of re-seeded or merged units). Torch-free.
//
//   fsr::maintain_units(run, stage_trained, stage_steps, finetune, step_in_stage, global_step);
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

#include "core/json_io.h"
#include "gda/run_context.h"

namespace fsr {

// What units.* asks for at this step of a stage (trained levels, its length, whether it is the
// joint fine-tune, which never prunes).
// Returns the prune reports of this step (empty when nothing was pruned).
Json maintain_units(RunContext& run, const std::vector<int>& trained, std::int64_t stage_steps,
                    bool finetune, std::int64_t step_in_stage, std::int64_t global_step);

// Re-seeds level-1 channels that are dead (never active) or duplicate a stronger channel's
// column: the new column is a decoder row of D that no live generator column explains (what D
// sees that G lacks), else a random direction; the new rows of A_hat are orthogonal to all
// others. Seeded by (learner seed, global_step).
void reinit_level1(RunContext& run, std::int64_t global_step);

// Greedy clusters of a generator's channels (units.prune_rule = "clusters"), from the learner's
// own state only: `columns` d x m (any scale; compared by |cos|), `energy` per channel, the
// channels still in the model. Channels are taken in order of energy; each joins the first head
// (in head order) whose column it matches with |cos| > `cosine`, adding energy x cos^2 to that
// head's weight, or starts a new cluster. Kept: the clusters of positive weight at least `floor`
// x the heaviest.
struct UnitClusters {
  std::vector<int> heads;       // heaviest first
  std::vector<double> weights;  // of heads[k]
  std::vector<int> owner;       // per channel: the head of its cluster, -1 if not a candidate
  int kept = 0;                 // heads[0 .. kept) are kept
};
UnitClusters cluster_units(const Eigen::MatrixXd& columns, const std::vector<double>& energy,
                           const std::vector<int>& channels, double cosine, double floor);

// Prunes level `level` by units.prune_rule; returns what it did (rule, kept channels, cluster
// weights) for the metrics record. "strongest" keeps the m_l strongest channels with distinct
// columns (the target's width), "clusters" the heads cluster_units keeps.
Json prune(RunContext& run, int level);

}  // namespace fsr
