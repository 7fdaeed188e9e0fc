// The analyzer of a run (docs/science.md §2, §5): how far a learned generator — and the
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
// The parameter scores (columns, first layer, W_l; canonical form, permutation, active floor) are
// those of score/recovery.h, the scorer the learner logs during training, under the same names in
// the JSON; the analyzer adds the decoders and everything measured on samples.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "score/recovery.h"
#include "synth/image_pyramid.h"
#include "synth/target.h"

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
  double active_floor = 1e-3;         // ScoreOptions::active_floor
  double merge_tolerance = 1e-6;      // ScoreOptions::merge_tolerance
};

// Levels >= 2, measured on samples beside the parameter errors of score/recovery.h
// (SuperResolutionRecovery); written into the same "super_resolution" object of the JSON.
struct FunctionalRecovery {
  // Given the true S_{l-1} (N samples): sum_n ||S_hat_l - S_l|| / sum_n ||S_l||, where S_hat_l
  // applies the learned layer restricted to matched channels (code space)...
  double functional_error = 0.0;
  // ...and the same in image space with every learned output channel and M_hat_l, against
  // M_l S_l (noise-free): duplicates of a channel add up here as they do in X.
  double output_functional_error = 0.0;
  int active_duplicates = 0;  // learned duplicates at level l active in the samples (not in W's)
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

// The score of score/recovery.h (columns, first_layer, super_resolution, meets_bar) and what the
// analyzer adds.
struct LevelAnalysis : LevelRecovery {
  // False for a model learned on a data set (analyze_data_set): the LevelRecovery part, the
  // decoders, the functional errors and the target's activity are absent ("no planted truth").
  bool planted = true;
  std::optional<DictionaryMatch> decoder_vs_target;   // V_l vs M_l
  std::optional<DictionaryMatch> decoder_vs_learned;  // V_l vs M_hat_l
  std::string decoder_file;                           // where V_l was read ("" if none)
  std::optional<FunctionalRecovery> functional;       // levels >= 2
  DistributionMetrics distribution;
  ActivityComparison activity;
};

struct RunAnalysis {
  AnalysisOptions options;
  bool planted = true;              // false: analyze_data_set
  std::int64_t held_out_first = 0;  // analyze_data_set: the first held-out sample (train_samples)
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

// A model learned on a data set with no planted generator (an image pyramid; synth/image_pyramid.h
// DataSet) from its first `train_samples`: no recovery scores — there is no planted truth — but
// the distribution metrics of X_l against the held-out samples [train_samples, S): "real" is their
// first half and the noise floor their second half (two disjoint sets of crops of the same images
// against each other), n = min(options.samples, (S - train_samples) / 2) samples each, against n
// samples of the learned model; the learned model's activity. InputError naming the mismatch when
// the model's grid, patch or colours differ from the data's, or fewer than 2 samples per half.
RunAnalysis analyze_data_set(const DataSet& data, std::int64_t train_samples, const Target& learned,
                             const AnalysisOptions& options = {});

// Loads the target and the run: the model from RUN/model if that directory exists, else from
// RUN; V_<l>.npy from RUN or RUN/model; RUN/result.json if present. A missing or unreadable
// directory or file is an InputError naming it. A target directory holding pyramid.json is a data
// set: analyze_data_set with data.train_samples of RUN/config.json.
RunAnalysis analyze_run(const std::filesystem::path& target_dir,
                        const std::filesystem::path& run_dir, const AnalysisOptions& options = {});

// V_l as stored by a learner: d x m_D, columns are the decoders (the orientation of M_l); any
// other shape is an InputError naming `name`. Returns it unchanged.
Eigen::MatrixXd decoder_columns(const Eigen::MatrixXd& stored, int patch_dim,
                                const std::string& name);

Json to_json(const LevelAnalysis& level);
Json to_json(const RunAnalysis& analysis);  // the payload ("levels", "options", ...)
// make_document("analyze", to_json(analysis), run) written atomically.
void write_analysis(const std::filesystem::path& path, const RunAnalysis& analysis,
                    const RunInfo& run);

}  // namespace fsr
