// The analyzer of a run (SPEC §2, §5; issue 5 "Analyzers"): how far a learned generator — and the
// first layer V_l of its discriminator — recovered a planted target G*, per level. Output
// dictionaries by the Hungarian match on |cos|, the first layer (alpha, beta, rho) and the
// super-resolution operators W_l after permutation and scale, the distribution of X_l (moments of
// patches of order 1..4, sliced Wasserstein distance) and the per-patch activity of the hidden
// layers. Plain structs that serialise to versioned JSON; no LibTorch.
//
//   fsr::RunAnalysis a = fsr::analyze_run("runs/target", "runs/run1", {.samples = 4000});
//   fsr::write_analysis("runs/run1/analysis.json", a, {.seed = 0});
//   double worst = a.levels[0].columns.match.min_cosine;
//
// Conventions (docs/analysis.md):
// * Both models are put in canonical form first: every output column M_{:,j} scaled to unit norm
//   with its norm c_j moved into the code (alpha, beta of level 1; output channel j of W_l and
//   b_l; input channel i of W_{l+1} divided by c_i), and every row of A scaled to unit norm with
//   |alpha| * ||A_u|| as the unit's alpha. Generated images are unchanged by this.
// * "Permutation" is the one-to-one assignment of match_columns: learned channel perm[i] of
//   level l plays true channel i. Level-1 unit (i, p) is compared with learned unit (perm[i], p).
// * Errors are relative to the truth unless named *_abs_error.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "synth/target.h"
#include "theory/match_columns.h"

namespace fsr {

struct AnalysisOptions {
  double threshold = 0.99;            // configurable cosine bar (0.99 is always reported as well)
  std::int64_t samples = 4000;        // N samples of each model for distribution and activity
  int directions = 128;               // random unit directions (moments of order >= 3, sliced W)
  int max_order = 4;                  // moment orders 1..max_order
  std::int64_t max_patches = 100000;  // cap on patches per level for the moment mismatch
  std::uint64_t seed = 0;             // samples, directions and patch choice derive from it
  int threads = 1;                    // sampling threads (results do not depend on it)
  bool noise_floor = true;            // also compare two independent batches of the target
  double active_floor = 1e-3;         // a learned channel active less often than this is dead
  double merge_tolerance = 1e-6;      // duplicates merge when 1 - corr(rows) and |dt| are below it
};

// One dictionary comparison: truth columns (d x m) against estimate columns (d x m_hat).
struct DictionaryMatch {
  ColumnMatch match;                // at options.threshold; indices refer to the full estimate
  double fraction_above_099 = 0.0;  // of `match.cosines`
  std::vector<int> zero_columns;    // estimate columns of zero norm (left out of the match)
  // When the estimate has fewer (non-zero) columns than the truth, the match is taken the other
  // way round (every estimate column to a distinct truth column): reversed = true, and `match`
  // holds estimate-to-truth roles (permutation[j] = truth column of estimate j).
  bool reversed = false;
};

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
  int units_scored = 0;
  // |alpha_hat - alpha| / alpha; |beta_hat - beta| / max(|beta|, 0.1 alpha) (beta may be ~0);
  // |t_hat - t| with t = beta / alpha.
  double alpha_mean_relative = 0.0, alpha_max_relative = 0.0;
  double beta_mean_relative = 0.0, beta_max_relative = 0.0;
  double t_max_abs_error = 0.0;
  // rho = A A^T of unit-norm rows (signed by alpha), off-diagonal, over scored units.
  double rho_max_abs_error = 0.0, rho_mean_abs_error = 0.0;
  std::int64_t rho_pairs = 0;
  Eigen::VectorXd alpha, beta, alpha_hat, beta_hat;  // n_1, truth unit order; NaN: not scored
  int active_unmatched = 0;  // learned channels that match nothing yet are active
};

// Levels >= 2 after canonical form, the permutations of levels l-1 (inputs) and l (outputs).
struct SuperResolutionRecovery {
  double w_relative = 0.0;  // ||W_hat[perm_{l-1}, perm_l] - W||_F / ||W||_F
  // The same over the entries the target's data identifies (synth/recovery.h exercised_weights),
  // and the number of entries left out.
  double w_identified_relative = 0.0;
  int unidentified_entries = 0;
  double bias_relative = 0.0;  // ||b_hat[perm_l] - b|| / ||b||
  // Given the true S_{l-1} (N samples): sum_n ||S_hat_l - S_l|| / sum_n ||S_l||, where S_hat_l
  // applies the learned layer restricted to matched channels (code space)...
  double functional_error = 0.0;
  // ...and the same in image space with every learned output channel and M_hat_l, against
  // M_l S_l (noise-free): duplicates of a channel add up here as they do in X.
  double output_functional_error = 0.0;
  int active_duplicates = 0;  // learned duplicates at level l that are active (not in W's score)
};

// Real (target) against generated (learned) X_l, and against a second independent batch of the
// target (the sampling-noise floor) when options.noise_floor.
struct DistributionMetrics {
  std::int64_t samples = 0, patches = 0;
  int directions = 0;
  std::vector<double> moment_mismatch, moment_mismatch_floor;  // orders 1..max_order, patches
  double mean_gap = 0.0, second_moment_gap = 0.0;              // exact, patches
  double mean_gap_floor = 0.0, second_moment_gap_floor = 0.0;
  // Whole images X_l projected on unit directions, sorted: SW1 = mean_u mean_n |x_(n) - y_(n)|,
  // SW2 = sqrt(mean_u mean_n (x_(n) - y_(n))^2); scale = RMS projection of the real batch.
  double sliced_w1 = 0.0, sliced_w2 = 0.0, sliced_w1_floor = 0.0, sliced_w2_floor = 0.0;
  double projection_scale = 0.0;
};

// Hidden-layer activity over the same N samples (per patch = per grid position).
struct ActivityStats {
  int channels = 0;
  double achieved = 0.0;               // fraction of units active
  double mean_active_per_patch = 0.0;  // achieved * channels
  std::vector<double> histogram;       // fraction of patches with j active, j = 0..channels
  double fraction_patches_at_most_k = 0.0;
  std::vector<double> channel_activity;  // per channel
};
struct ActivityComparison {
  int k = 0;  // ceil(requested activity * m_l) from the target's config, else from achieved
  ActivityStats target, learned;
  std::vector<double> matched_channel_activity;  // learned channel perm[i], truth order
};

struct LevelAnalysis {
  int level = 1;
  int channels = 0, learned_channels = 0;
  DictionaryMatch columns;                                  // M_l vs M_hat_l
  std::optional<DictionaryMatch> decoder_vs_target;         // V_l vs M_l
  std::optional<DictionaryMatch> decoder_vs_learned;        // V_l vs M_hat_l
  std::string decoder_file;                                 // where V_l was read ("" if none)
  std::optional<FirstLayerRecovery> first_layer;            // level 1
  std::optional<SuperResolutionRecovery> super_resolution;  // levels >= 2
  DistributionMetrics distribution;
  ActivityComparison activity;
};

struct RunAnalysis {
  AnalysisOptions options;
  std::string target_dir, run_dir, model_dir;  // empty when analyze() got objects
  int levels_scored = 0;                       // min(target levels, learned levels)
  std::vector<LevelAnalysis> levels;
  Json run_result;  // {status, steps} of RUN/result.json when present, else null
  double seconds = 0.0;
};

// Decoders: decoders[l - 1] = V_l as d x m_D (columns = decoders), or nullopt.
// truth and learned must share grid, patch, colours and kernel; learned may be wider
// (m_hat_l >= m_l non-zero columns) and deeper or shallower (levels_scored = the minimum).
// Throws InputError naming the mismatch.
RunAnalysis analyze(const Target& truth, const Target& learned,
                    const std::vector<std::optional<Eigen::MatrixXd>>& decoders,
                    const AnalysisOptions& options = {});

// Loads the target and the run: the model from RUN/model if that directory exists, else from
// RUN; V_<l>.npy from RUN or RUN/model; RUN/result.json if present. A missing or unreadable
// directory or file is an InputError naming it.
RunAnalysis analyze_run(const std::filesystem::path& target_dir,
                        const std::filesystem::path& run_dir, const AnalysisOptions& options = {});

// V_l as stored by a learner: d x m_D, columns are the decoders (the orientation of M_l); any
// other shape is an InputError naming `name`. Returns it unchanged.
Eigen::MatrixXd decoder_columns(const Eigen::MatrixXd& stored, int patch_dim,
                                const std::string& name);

Json to_json(const DictionaryMatch& m);
Json to_json(const LevelAnalysis& level);
Json to_json(const RunAnalysis& analysis);  // the payload ("levels", "options", ...)
// make_document("analyze", to_json(analysis), run) written atomically.
void write_analysis(const std::filesystem::path& path, const RunAnalysis& analysis,
                    const RunInfo& run);

}  // namespace fsr
