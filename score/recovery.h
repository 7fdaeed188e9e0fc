// Scoring a learned generator against the planted target it was trained on (docs/science.md §2):
// the one scorer, with one result schema, behind the learner's in-training score (gda/, result.json
// and metrics.jsonl), the analyzer (experiments/analysis.h, which adds decoders, distributions and
// activity measured on samples) and the reports. Output columns by the Hungarian match on |cos|,
// the first layer (alpha, beta, rho) of the matched units with duplicates merged or set aside, and
// the super-resolution operators W_l after the permutations and scales of both levels, over all
// entries and over the entries the target's data identifies. Works on two fsr::Target values, so
// a model directory and a live generator score alike. No LibTorch.
//
//   fsr::Recovery r = fsr::evaluate_recovery(truth, fsr::load_target("run/model"));
//   if (r.levels[0].meets_bar()) ...;
//   fsr::Json j = fsr::to_json(r);  // {"levels": [{"columns", "first_layer", ...}], "meets_bar"}
//
// Conventions (docs/analysis.md):
// * Both models are put in canonical form first (canonical_form): every output column M_{:,j} of
//   unit norm with its norm c_j moved into the code, every row of A of unit norm with
//   |alpha| ||A_u|| as the unit's alpha. Generated images are unchanged by this.
// * "Permutation" is the one-to-one assignment of match_columns: learned channel perm[i] of level
//   l plays true channel i. Level-1 unit (i, p) is compared with learned unit (perm[i], p).
// * A learned channel is active when its closed-form P(active), largest over positions, exceeds
//   ScoreOptions::active_floor (10^-3); below it is dead.
// * Errors are relative to the truth unless named *_abs_error.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "synth/target.h"
#include "theory/match_columns.h"

namespace fsr {

// The recovery bar (level 1: columns and first layer; level >= 2: columns and W_l).
struct RecoveryBar {
  double mean_cosine = 0.98, min_cosine = 0.95;
  double alpha_relative = 0.05, beta_relative = 0.05, rho_absolute = 0.05;
  double w_relative = 0.1;  // applied to SuperResolutionRecovery::w_identified_relative
};

struct ScoreOptions {
  double threshold = 0.99;        // cosine bar of the column match (0.99 is always reported too)
  double active_floor = 1e-3;     // a learned channel active at most this often is dead
  double merge_tolerance = 1e-6;  // duplicates merge when 1 - corr(rows) and |dt| are below it
  std::uint64_t rho_seed = 0;     // the rho pairs drawn when there are more than 2e6
  int levels = 0;                 // levels scored; 0 = every level both models have
};

// Puts the scale of each M_l column into the codes (alpha, beta, W_l, b_l) and the norm and sign
// of each row of A into alpha, so that every column and row has unit norm: the canonical form
// docs/science.md §2 compares. Leaves the generated images unchanged. A zero column keeps scale 1.
Target canonical_form(const Target& model);

// The entries of W_l (C order, as SuperResolutionLayer::weight) that the target's data
// identifies: (i, j, ky, kx) is identified when, in some of the first `samples` draws of the
// target's stream, a child position reading tap (ky, kx) has channel j active while the parent
// it reads through that tap has channel i active. On the rows where child j is silent only
// "pre-activation <= 0" is known, so an entry never identified this way is bounded, not
// determined: e.g. every weight into a child channel that is silent at one kernel offset (seed 1
// of experiments/learners/target_level2.json has one such offset: 8 of 256 entries, 12.7% of
// ||W_2||). No estimator recovers them; docs/science.md §2 compares what is identified (rho, not
// A), so the W error is also reported over the identified entries and the level-2 bar reads that
// one.
std::vector<bool> identified_weights(const Target& truth, int level, std::int64_t samples = 20000);

// Largest closed-form P(active) over the h_1^2 positions of each level-1 channel of a model in
// canonical form (a unit with alpha <= 0 is always active when beta < 0, else never).
Eigen::VectorXd channel_activity(const Target& model);

// One dictionary comparison: truth columns (d x m) against estimate columns (d x m_hat).
struct DictionaryMatch {
  ColumnMatch match;                // at the threshold; indices refer to the full estimate
  double fraction_above_099 = 0.0;  // of `match.cosines`
  std::vector<int> zero_columns;    // estimate columns of zero norm (left out of the match)
  // When the estimate has fewer (non-zero) columns than the truth, the match is taken the other
  // way round (every estimate column to a distinct truth column): reversed = true, and `match`
  // holds estimate-to-truth roles (permutation[j] = truth column of estimate j).
  bool reversed = false;
  // Truth columns no non-zero estimate column is left for (a generator whose prune or training
  // zeroed a column it needed): when the estimate has fewer non-zero columns than the truth but
  // at least as many columns in all, and the match is not reversed, every non-zero column is
  // matched to a distinct truth column as usual and each missing truth column to one of the zero
  // columns, at |cos| 0 — so the one-to-one mean counts the loss and the worst column is 0.
  std::vector<int> missing_columns;
};
// Zero estimate columns are left out of the match and listed as unmatched and dead (or, where
// they stand in for missing truth columns, matched at |cos| 0; see missing_columns). `what` names
// the estimate in errors ("learned M_1: has 5 rows, the target's 12 ..."); with fewer non-zero
// columns than the truth the match is reversed if allow_reversed, else scored with missing
// columns when the estimate has at least the truth's number of columns, else an InputError.
DictionaryMatch match_dictionary(const Eigen::MatrixXd& truth, const Eigen::MatrixXd& estimate,
                                 double threshold, const std::string& what, bool allow_reversed);

// The docs/science.md §2 errors of one first-layer unit (alpha, beta) estimated as (alpha_hat,
// beta_hat): |alpha_hat - alpha| / alpha; |beta_hat - beta| / max(|beta|, 0.1 alpha), because beta
// may be ~0; |t_hat - t| with t = beta / alpha (infinite when alpha_hat <= 0). The learned model's
// units and the learner-free estimators (experiments/jobs.h first_layer_baseline) are scored by it.
struct UnitError {
  double alpha_relative = 0.0, beta_relative = 0.0, t_abs = 0.0;
};
UnitError unit_error(double alpha, double beta, double alpha_hat, double beta_hat);

// Level 1 after canonical form and the channel permutation. Per unit (i, p) of the truth.
struct FirstLayerRecovery {
  // Channels whose code is shared by several active learned units (duplicates in the output
  // dictionary). `merged_channels`: all of them have the same direction row and threshold
  // (within merge_tolerance), so they add up to one ReLU unit, scored as alpha = sum alpha_k,
  // beta = sum beta_k. `not_identifiable_channels`: they do not; those channels are left out
  // of every alpha/beta/rho statistic (never scored through one of the units).
  std::vector<int> merged_channels;
  std::vector<int> not_identifiable_channels;
  bool identifiable = true;  // not_identifiable_channels is empty
  // Channels whose true column is missing from the learned dictionary (DictionaryMatch::
  // missing_columns): no learned unit plays them, so they are left out of every alpha/beta/rho
  // statistic; the column match's worst |cos| of 0 already fails the bar.
  std::vector<int> missing_channels;
  int units_scored = 0;
  // |alpha_hat - alpha| / alpha; |beta_hat - beta| / max(|beta|, 0.1 alpha) (beta may be ~0);
  // |t_hat - t| with t = beta / alpha.
  double alpha_mean_relative = 0.0, alpha_max_relative = 0.0;
  double beta_mean_relative = 0.0, beta_max_relative = 0.0;
  double t_max_abs_error = 0.0;
  // rho = A A^T of unit-norm rows (signed by alpha), off-diagonal, over scored units: every pair
  // up to 2e6 pairs, else 2e6 pairs drawn with Rng(ScoreOptions::rho_seed).
  double rho_max_abs_error = 0.0, rho_mean_abs_error = 0.0;
  std::int64_t rho_pairs = 0;
  Eigen::VectorXd alpha, beta, alpha_hat, beta_hat;  // n_1, truth unit order; NaN: not scored
  int active_duplicates = 0;  // active duplicate_columns (their codes add to a matched unit's)
  int active_unmatched = 0;   // active dead_columns: match no true column, yet fire
};

// Levels >= 2 after canonical form, the permutations of levels l-1 (inputs) and l (outputs).
struct SuperResolutionRecovery {
  double w_relative = 0.0;  // ||W_hat[perm_{l-1}, perm_l] - W||_F / ||W||_F
  // The same over the identified entries (identified_weights; = w_relative without a mask), and
  // the number of entries left out.
  double w_identified_relative = 0.0;
  int unidentified_entries = 0;
  double bias_relative = 0.0;  // ||b_hat[perm_l] - b|| / ||b||
  // False when the learned layer has another kernel than the target's (a learner narrower or
  // wider than its target, generator.kernel): W_l and b_l are then not compared — the errors
  // above are NaN (null in JSON), `not_comparable` says why, and the level does not meet the bar.
  bool comparable = true;
  std::string not_comparable;
};
// The learned layer's input channels are read through `prev` (level l-1's permutation, truth
// channel -> learned channel), its output channels through `perm` (level l's). Both layers in
// canonical form. `identified`: identified_weights of the truth, or empty for no mask.
SuperResolutionRecovery super_resolution_error(const SuperResolutionLayer& truth,
                                               const SuperResolutionLayer& learned,
                                               const std::vector<int>& prev,
                                               const std::vector<int>& perm,
                                               const std::vector<bool>& identified = {});

struct LevelRecovery {
  int level = 1;
  int channels = 0, learned_channels = 0;                   // m_l, m_hat_l
  DictionaryMatch columns;                                  // M_l vs M_hat_l
  std::optional<FirstLayerRecovery> first_layer;            // level 1
  std::optional<SuperResolutionRecovery> super_resolution;  // levels >= 2
  bool meets_bar(const RecoveryBar& bar = {}) const;
};

struct Recovery {
  std::vector<LevelRecovery> levels;  // levels scored: min(truth, learned) levels (or fewer)
  bool meets_bar(const RecoveryBar& bar = {}) const;
};

// truth and learned share grid, patch, colours; learned may be wider, and have another kernel
// (its W_l are then scored as not comparable: SuperResolutionRecovery::comparable). A truth column
// left without a non-zero learned one is scored as missing (DictionaryMatch::missing_columns); a
// model narrower than the truth (m_hat_l < m_l, a pruned generator) first gets silent stand-in
// channels, indices m_hat_l.., to be matched to them at |cos| 0. Throws InputError naming the
// mismatch ("learned model grid = 3: must equal the target's 2").
// `identified`: identified_weights(truth, l) at index l - 2 for the levels l >= 2 scored, when the
// caller holds them — the sampling pass is nearly all of a level-2 evaluation (62 ms without, 0.05
// ms with the masks given: `recovery_bench --benchmark_filter='Evaluate|Identified'`), so the
// trainer computes them once instead of at every log record; empty: computed here.
Recovery evaluate_recovery(const Target& truth, const Target& learned,
                           const ScoreOptions& options = {},
                           const std::vector<std::vector<bool>>& identified = {});

// The result schema (docs/analysis.md "What is computed"): levels[] of {level, channels,
// learned_channels, columns, first_layer | super_resolution, meets_bar}.
Json to_json(const DictionaryMatch& m);
Json to_json(const FirstLayerRecovery& f);
Json to_json(const SuperResolutionRecovery& s);
Json to_json(const LevelRecovery& r, const RecoveryBar& bar = {});
Json to_json(const Recovery& r, const RecoveryBar& bar = {});
// The per-level line of a training log (metrics.jsonl "recovery"): level, channels (m_hat_l),
// mean/min matched and best cosines, the first layer's alpha/beta max relative errors,
// rho_max_abs_error, active_duplicates, active_unmatched, or W's errors; missing_columns (the
// number of truth columns left without a non-zero learned column); meets_bar.
Json summary_json(const LevelRecovery& r, const RecoveryBar& bar = {});

}  // namespace fsr
