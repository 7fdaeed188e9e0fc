// Scoring a learned generator against the planted target it was trained on (SPEC §2): output
// columns by the Hungarian match on |cos|, the first layer (alpha, beta, rho) of the matched
// units, and the super-resolution operators W_l after the permutations and scales of both
// levels. Works on two fsr::Target values, so it scores a learner's model directory as well as
// the live generator. No LibTorch. It sits beside the Target type so that both the learner (gda/,
// which logs it during training) and the full analyzer (experiments/analysis.h, which adds
// decoders, distribution and activity metrics) use one implementation.
//
//   fsr::Recovery r = fsr::evaluate_recovery(truth, fsr::load_target("run/model"));
//   if (r.levels[0].meets_bar()) ...;   fsr::Json j = fsr::to_json(r);
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

#include "core/json_io.h"
#include "synth/target.h"
#include "theory/match_columns.h"

namespace fsr {

// The recovery bar of issue 4 (level 1: columns and first layer; level >= 2: W_l).
struct RecoveryBar {
  double mean_cosine = 0.98, min_cosine = 0.95;
  double alpha_relative = 0.05, beta_relative = 0.05, rho_absolute = 0.05;
  double w_relative = 0.1;  // applied to LevelRecovery::w_identified_relative
};

// The SPEC §2 first-layer errors over matched units, the one scorer behind evaluate_recovery
// and experiments/analysis: truth unit truth_units[k] against the estimate (alpha_hat[k],
// beta_hat[k]) — already in canonical scale, merged where several learned units share a code —
// and, for rho = A A^T, against row learned_units[k] of learned_A. beta's error is relative to
// max(|beta|, 0.1 alpha) so that beta ~ 0 does not blow it up; t = beta / alpha. rho: every pair
// up to 2e6 pairs, else 2e6 pairs drawn with Rng(rho_seed).
struct FirstLayerErrors {
  double alpha_max_relative = 0.0, alpha_mean_relative = 0.0;
  double beta_max_relative = 0.0, beta_mean_relative = 0.0;
  double t_max_abs_error = 0.0;
  double rho_max_abs_error = 0.0, rho_mean_abs_error = 0.0;
  std::int64_t rho_pairs = 0;
};
FirstLayerErrors first_layer_errors(const Target& truth, const Eigen::MatrixXd& learned_A,
                                    const std::vector<int>& truth_units,
                                    const std::vector<int>& learned_units,
                                    const Eigen::VectorXd& alpha_hat,
                                    const Eigen::VectorXd& beta_hat, std::uint64_t rho_seed);

struct LevelRecovery {
  int level = 1;
  ColumnMatch columns;  // truth M_l vs learned M_l (one-to-one + best-matching)
  // Level 1 (matched units; unit (p, i) of the truth vs (p, permutation[i]) of the estimate).
  // beta's error is relative to max(beta, 0.1 alpha) so that beta ~ 0 does not blow it up.
  double alpha_max_relative = 0.0, alpha_mean_relative = 0.0;
  double beta_max_relative = 0.0, beta_mean_relative = 0.0;
  double rho_max_absolute = 0.0, rho_mean_absolute = 0.0;
  // Unmatched learned channels that are active somewhere (P(active) > 0.5%): duplicates add to
  // a matched unit's code (alpha/beta of that unit then not identifiable), others are junk.
  int active_duplicates = 0, active_unmatched = 0;
  bool alpha_beta_identifiable = true;
  // Level >= 2: ||W_hat[perm_{l-1}, perm_l] - W||_F / ||W||_F with M columns normalised,
  // and the same for the biases; the W error over the entries the data identifies
  // (exercised_weights) and how many were left out. The bar reads w_identified_relative.
  double w_relative = 0.0, bias_relative = 0.0;
  double w_identified_relative = 0.0;
  int unidentified_entries = 0;

  bool meets_bar(const RecoveryBar& bar = {}) const;
};

struct Recovery {
  std::vector<LevelRecovery> levels;  // levels scored: min(truth, learned) levels
  bool meets_bar(const RecoveryBar& bar = {}) const;
};

// The entries of W_l (C order, as SuperResolutionLayer::weight) that the target's data
// identifies: (i, j, ky, kx) is exercised when, in some of the first `samples` draws of the
// target's stream, a child position reading tap (ky, kx) has channel j active while the parent
// it reads through that tap has channel i active. On the rows where child j is silent only
// "pre-activation <= 0" is known, so an entry never exercised is bounded, not determined: e.g.
// every weight into a child channel that is silent at one kernel offset (seed 1 of
// experiments/learners/target_level2.json has one such offset: 8 of 256 entries, 12.7% of
// ||W_2||). No estimator recovers them; SPEC §2 compares what is identified (rho, not A), so the
// error is also reported over the exercised entries and the level-2 bar reads that one.
std::vector<bool> exercised_weights(const Target& truth, int level, std::int64_t samples = 20000);

// ||W_hat[prev, perm] - W||_F / ||W||_F and the same for the biases: the learned layer's input
// channels are read through `prev` (level l-1's permutation, truth channel -> learned channel),
// its output channels through `perm` (level l's). Both layers in canonical form. With
// `exercised` (exercised_weights), also the same error over the exercised entries only.
struct OperatorError {
  double w_relative = 0.0, bias_relative = 0.0;
  double w_identified_relative = 0.0;  // over the exercised entries (= w_relative without a mask)
  int unidentified_entries = 0;        // entries left out of w_identified_relative
};
OperatorError super_resolution_error(const SuperResolutionLayer& truth,
                                     const SuperResolutionLayer& learned,
                                     const std::vector<int>& prev, const std::vector<int>& perm,
                                     const std::vector<bool>& exercised = {});

// Largest P(active) over the h_1^2 positions of each learned level-1 channel (closed form).
Eigen::VectorXd channel_activity(const Target& learned);

// truth and learned share grid, patch, colours and kernel; learned may be wider. `levels` = 0
// scores every level both have.
// `exercised`: exercised_weights(truth, l) at index l - 2 for the levels l >= 2 scored, when the
// caller holds them — the sampling pass is nearly all of a level-2 evaluation (62 ms without, 0.05
// ms with the mask given: `synth_bench --benchmark_filter='Evaluate|Exercised'`), so the trainer
// computes it once instead of at every log record; empty: computed here.
Recovery evaluate_recovery(const Target& truth, const Target& learned, int levels = 0,
                           const std::vector<std::vector<bool>>& exercised = {});

// Puts the scale of each M_l column into the codes (alpha, beta, W_l, b_l), so that every column
// has unit norm: the canonical form SPEC §2 compares. Leaves the generated images unchanged.
Target canonical_form(const Target& model);

Json to_json(const LevelRecovery& r, const RecoveryBar& bar = {});
Json to_json(const Recovery& r, const RecoveryBar& bar = {});

}  // namespace fsr
