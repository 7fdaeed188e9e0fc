#include "experiments/analysis.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <system_error>

#include "core/json_read.h"
#include "core/npy.h"
#include "core/rng.h"
#include "core/validate.h"
#include "score/recovery.h"
#include "synth/report.h"
#include "synth/sample.h"
#include "theory/moment_tools.h"
#include "theory/relu_moments.h"

namespace fsr {
namespace {
namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::int64_t kChunk = 256;  // samples per pass chunk (a multiple of kSampleBlock)

// Sub-seed tags, so that no two uses of options.seed share a stream.
constexpr std::uint64_t kTagReal = 0x7265616c00000000ULL;
constexpr std::uint64_t kTagFloor = 0x666c6f6f72000000ULL;
constexpr std::uint64_t kTagLearned = 0x6c6561726e000000ULL;
constexpr std::uint64_t kTagImageDirections = 0x696d616765000000ULL;
constexpr std::uint64_t kTagPatchDirections = 0x7061746368000000ULL;
constexpr std::uint64_t kTagPatchChoice = 0x63686f6963650000ULL;
constexpr std::uint64_t kTagRhoPairs = 0x72686f0000000000ULL;

// Positions (grid cells) of sample n whose patches enter the moment statistics.
std::vector<int> chosen_positions(int hh, int q, std::uint64_t seed, int level, std::int64_t n) {
  std::vector<int> pos(hh);
  std::iota(pos.begin(), pos.end(), 0);
  if (q >= hh) return pos;
  Rng rng(mix64(seed ^ kTagPatchChoice ^ std::uint64_t(level)), std::uint64_t(n));
  for (int k = 0; k < q; ++k) {  // partial Fisher-Yates
    const int j = k + static_cast<int>(rng.uniform_int(std::uint64_t(hh - k)));
    std::swap(pos[k], pos[j]);
  }
  pos.resize(q);
  return pos;
}

struct ActivityCounts {
  std::vector<std::int64_t> histogram, channel;
  std::int64_t active = 0, units = 0;
  void init(int m) {
    histogram.assign(m + 1, 0);
    channel.assign(m, 0);
  }
  void add(const RowMatrix& s, int m, int hh) {
    std::vector<int> per_patch(hh);
    for (Eigen::Index n = 0; n < s.rows(); ++n) {
      const double* row = s.row(n).data();
      std::fill(per_patch.begin(), per_patch.end(), 0);
      for (int i = 0; i < m; ++i)
        for (int p = 0; p < hh; ++p)
          if (row[std::int64_t{i} * hh + p] > 0) {
            ++per_patch[p];
            ++channel[i];
            ++active;
          }
      for (int p = 0; p < hh; ++p) ++histogram[per_patch[p]];
      units += std::int64_t{m} * hh;
    }
  }
  ActivityStats stats(int m, int k) const {
    ActivityStats a;
    a.channels = m;
    a.achieved = units ? double(active) / double(units) : 0.0;
    a.mean_active_per_patch = a.achieved * m;
    const double patches = units ? double(units) / m : 1.0;
    double cdf = 0;
    for (int j = 0; j <= m; ++j) {
      a.histogram.push_back(double(histogram[j]) / patches);
      cdf += a.histogram.back();
      if (j <= k) a.fraction_patches_at_most_k = cdf;
    }
    for (int i = 0; i < m; ++i) a.channel_activity.push_back(double(channel[i]) / patches);
    return a;
  }
};

struct LevelPass {
  Eigen::MatrixXd directions_image, directions_patch;
  Eigen::MatrixXd proj_real, proj_gen, proj_floor;     // N x K
  Eigen::MatrixXd patch_real, patch_gen, patch_floor;  // P x d
  int q = 0;                                           // patches per sample
  ActivityCounts truth_counts, learned_counts;
  double fe_num = 0, fe_den = 0, ofe_num = 0, ofe_den = 0;
  SuperResolutionLayer sub, full;  // learned layer restricted / input-restricted (l >= 2)
};

// A level's pass before sampling: its random directions (images and patches, seeded by level),
// patches kept per sample (q) and the buffers of N samples, real, generated and (with_floor) the
// floor batch. One set-up for a planted target and a data set.
void init_pass(LevelPass& p, const Target& a, int l, std::int64_t N, const AnalysisOptions& o,
               bool with_floor) {
  const int dim = static_cast<int>(a.output_size(l)), hh = a.grid_at(l) * a.grid_at(l);
  p.directions_image =
      random_unit_directions(dim, o.directions, mix64(o.seed ^ kTagImageDirections ^ l));
  p.directions_patch =
      random_unit_directions(a.patch_dim(), o.directions, mix64(o.seed ^ kTagPatchDirections ^ l));
  p.q = static_cast<int>(std::clamp<std::int64_t>(o.max_patches / N, 1, hh));
  p.proj_real.resize(N, o.directions);
  p.proj_gen.resize(N, o.directions);
  p.patch_real.resize(N * p.q, a.patch_dim());
  p.patch_gen.resize(N * p.q, a.patch_dim());
  if (with_floor) {
    p.proj_floor.resize(N, o.directions);
    p.patch_floor.resize(N * p.q, a.patch_dim());
  }
}

SuperResolutionLayer restrict_layer(const SuperResolutionLayer& learned, const std::vector<int>& in,
                                    const std::vector<int>* out) {
  SuperResolutionLayer r;
  r.in_channels = static_cast<int>(in.size());
  r.out_channels = out ? static_cast<int>(out->size()) : learned.out_channels;
  r.kernel = learned.kernel;
  r.weight.assign(std::size_t(r.in_channels) * r.out_channels * r.kernel * r.kernel, 0.0);
  r.bias.resize(r.out_channels);
  for (int j = 0; j < r.out_channels; ++j) {
    const int lj = out ? (*out)[j] : j;
    r.bias(j) = learned.bias(lj);
    for (int i = 0; i < r.in_channels; ++i)
      for (int ky = 0; ky < r.kernel; ++ky)
        for (int kx = 0; kx < r.kernel; ++kx) r.w(i, j, ky, kx) = learned.w(in[i], lj, ky, kx);
  }
  return r;
}

void fill_projections(Eigen::MatrixXd& proj, std::int64_t row, const RowMatrix& x,
                      const Eigen::MatrixXd& u) {
  proj.middleRows(row, x.rows()).noalias() = x * u;
}

// The chosen patches of X_l of each row of x, as rows of `patches` (d entries in patch order).
void fill_patches(Eigen::MatrixXd& patches, const RowMatrix& x, std::int64_t first, int q,
                  const Target& t, int level, std::uint64_t seed) {
  const int h = t.grid_at(level), hh = h * h, r = t.patch;
  for (Eigen::Index n = 0; n < x.rows(); ++n) {
    const std::int64_t global = first + n;
    const std::vector<int> pos = chosen_positions(hh, q, seed, level, global);
    for (int k = 0; k < q; ++k)
      for (int c = 0; c < t.colors; ++c)
        for (int dy = 0; dy < r; ++dy)
          for (int dx = 0; dx < r; ++dx)
            patches(global * q + k, t.patch_entry(c, dy, dx)) =
                x(n, t.image_index(level, c, pos[k] / h, pos[k] % h, dy, dx));
  }
}

void sliced_wasserstein(Eigen::MatrixXd a, Eigen::MatrixXd b, double& w1, double& w2) {
  double s1 = 0, s2 = 0;
  for (Eigen::Index k = 0; k < a.cols(); ++k) {
    std::sort(a.col(k).data(), a.col(k).data() + a.rows());
    std::sort(b.col(k).data(), b.col(k).data() + b.rows());
    const Eigen::ArrayXd diff = (a.col(k) - b.col(k)).array();
    s1 += diff.abs().sum();
    s2 += diff.square().sum();
  }
  const double n = double(a.rows()) * double(a.cols());
  w1 = s1 / n;
  w2 = std::sqrt(s2 / n);
}

// One streaming pass over N samples of the target (twice: real and floor) and of the learned
// model: projections for the sliced distance, chosen patches for the moments, activity counts,
// and the functional errors of the super-resolution layers given the true codes.
void distribution_pass(const Target& truth, const Target& learned, int L,
                       const std::vector<LevelAnalysis>& levels, const AnalysisOptions& o,
                       std::vector<LevelPass>& pass) {
  const std::int64_t N = o.samples;
  Target real = truth, floor = truth, gen = learned;
  real.sample_seed = mix64(o.seed ^ kTagReal);
  floor.sample_seed = mix64(o.seed ^ kTagFloor);
  gen.sample_seed = mix64(o.seed ^ kTagLearned);
  real.levels = floor.levels = gen.levels = L;  // coarser levels never depend on finer ones
  real.up.resize(L - 1), floor.up.resize(L - 1), gen.up.resize(L - 1);
  real.M.resize(L), floor.M.resize(L), gen.M.resize(L);
  real.channels.resize(L), floor.channels.resize(L), gen.channels.resize(L);
  pass.assign(L, {});
  for (int l = 1; l <= L; ++l) {
    LevelPass& p = pass[l - 1];
    init_pass(p, truth, l, N, o, o.noise_floor);
    p.truth_counts.init(truth.channels[l - 1]);
    p.learned_counts.init(learned.channels[l - 1]);
    if (l >= 2) {
      const auto& in = levels[l - 2].columns.match.permutation;
      const auto& out = levels[l - 1].columns.match.permutation;
      p.sub = restrict_layer(learned.up[l - 2], in, &out);
      p.full = restrict_layer(learned.up[l - 2], in, nullptr);
    }
  }
  for (std::int64_t first = 0; first < N; first += kChunk) {
    const std::int64_t count = std::min(kChunk, N - first);
    const SampleBatch br = sample(real, first, count, {.with_hidden = true, .threads = o.threads});
    const SampleBatch bg = sample(gen, first, count, {.with_hidden = true, .threads = o.threads});
    SampleBatch bf;
    if (o.noise_floor) bf = sample(floor, first, count, {.threads = o.threads});
    for (int l = 1; l <= L; ++l) {
      LevelPass& p = pass[l - 1];
      fill_projections(p.proj_real, first, br.x[l - 1], p.directions_image);
      fill_projections(p.proj_gen, first, bg.x[l - 1], p.directions_image);
      fill_patches(p.patch_real, br.x[l - 1], first, p.q, truth, l, o.seed);
      fill_patches(p.patch_gen, bg.x[l - 1], first, p.q, truth, l, o.seed);
      if (o.noise_floor) {
        fill_projections(p.proj_floor, first, bf.x[l - 1], p.directions_image);
        fill_patches(p.patch_floor, bf.x[l - 1], first, p.q, truth, l, o.seed);
      }
      const int h = truth.grid_at(l), hh = h * h;
      p.truth_counts.add(br.s[l - 1], truth.channels[l - 1], hh);
      p.learned_counts.add(bg.s[l - 1], learned.channels[l - 1], hh);
      if (l >= 2) {
        const int hp = truth.grid_at(l - 1);
        const RowMatrix s_hat = super_resolve(p.sub, br.s[l - 2], hp);
        const RowMatrix s_full = super_resolve(p.full, br.s[l - 2], hp);
        const RowMatrix x_hat = render(learned.M[l - 1], s_full, h, truth.patch, truth.colors);
        const RowMatrix x_true = render(truth.M[l - 1], br.s[l - 1], h, truth.patch, truth.colors);
        for (Eigen::Index n = 0; n < count; ++n) {
          p.fe_num += (s_hat.row(n) - br.s[l - 1].row(n)).norm();
          p.fe_den += br.s[l - 1].row(n).norm();
          p.ofe_num += (x_hat.row(n) - x_true.row(n)).norm();
          p.ofe_den += x_true.row(n).norm();
        }
      }
    }
  }
}

double safe_ratio(double num, double den) { return den > 0 ? num / den : (num > 0 ? kNaN : 0.0); }

// science.md §2's distribution metrics of one level from its pass: moment mismatch of patches and
// sliced Wasserstein of images, generated against real, and (with_floor) real against the floor
// batch. One computation for a planted target and a data set.
DistributionMetrics distribution_metrics(const LevelPass& p, const AnalysisOptions& o,
                                         std::int64_t samples, bool with_floor) {
  DistributionMetrics d;
  d.samples = samples;
  d.patches = p.patch_real.rows();
  d.directions = o.directions;
  const MomentMismatch mm =
      moment_mismatch(p.patch_real, p.patch_gen, p.directions_patch, o.max_order);
  d.moment_mismatch = mm.per_order;
  d.mean_gap = mm.mean_gap;
  d.second_moment_gap = mm.second_moment_gap;
  sliced_wasserstein(p.proj_real, p.proj_gen, d.sliced_w1, d.sliced_w2);
  d.projection_scale = std::sqrt(p.proj_real.squaredNorm() / double(p.proj_real.size()));
  if (with_floor) {
    const MomentMismatch mf =
        moment_mismatch(p.patch_real, p.patch_floor, p.directions_patch, o.max_order);
    d.moment_mismatch_floor = mf.per_order;
    d.mean_gap_floor = mf.mean_gap;
    d.second_moment_gap_floor = mf.second_moment_gap;
    sliced_wasserstein(p.proj_real, p.proj_floor, d.sliced_w1_floor, d.sliced_w2_floor);
  }
  return d;
}

}  // namespace

Eigen::MatrixXd decoder_columns(const Eigen::MatrixXd& stored, int patch_dim,
                                const std::string& name) {
  if (stored.rows() == patch_dim) return stored;  // columns are the decoders, as in M_l
  throw InputError(name + " has shape (" + std::to_string(stored.rows()) + ", " +
                   std::to_string(stored.cols()) + "): must be (d, units) with d = " +
                   std::to_string(patch_dim) + " (columns are the decoders)");
}

RunAnalysis analyze(const Target& truth_in, const Target& learned_in,
                    const std::vector<std::optional<Eigen::MatrixXd>>& decoders,
                    const AnalysisOptions& o) {
  Stopwatch clock;
  require_in_range("threshold", o.threshold, 0, 1, true, true);
  if (o.samples < 2) fail_field("samples", o.samples, "must be >= 2");
  require_int_in_range("directions", o.directions, 1, 100000);
  require_int_in_range("max_order", o.max_order, 1, kMaxMomentOrder);
  if (o.max_patches < 1) fail_field("max_patches", o.max_patches, "must be >= 1");
  require_int_in_range("threads", o.threads, 1, 256);
  const Recovery score = evaluate_recovery(truth_in, learned_in,
                                           {.threshold = o.threshold,
                                            .active_floor = o.active_floor,
                                            .merge_tolerance = o.merge_tolerance,
                                            .rho_seed = mix64(o.seed ^ kTagRhoPairs)});
  const Target truth = canonical_form(truth_in);
  const Target learned = canonical_form(learned_in);

  RunAnalysis out;
  out.options = o;
  const int L = static_cast<int>(score.levels.size());
  out.levels_scored = L;
  for (int l = 1; l <= L; ++l) {
    LevelAnalysis a;
    static_cast<LevelRecovery&>(a) = score.levels[l - 1];
    if (l - 1 < static_cast<int>(decoders.size()) && decoders[l - 1]) {
      const std::string name = "V_" + std::to_string(l);
      a.decoder_vs_target =
          match_dictionary(truth.M[l - 1], *decoders[l - 1], o.threshold, name, true);
      a.decoder_vs_learned =
          match_dictionary(learned.M[l - 1], *decoders[l - 1], o.threshold, name, true);
    }
    out.levels.push_back(std::move(a));
  }

  std::vector<LevelPass> pass;
  distribution_pass(truth, learned, L, out.levels, o, pass);

  for (int l = 1; l <= L; ++l) {
    LevelAnalysis& a = out.levels[l - 1];
    LevelPass& p = pass[l - 1];
    a.distribution = distribution_metrics(p, o, o.samples, o.noise_floor);
    // Activity.
    ActivityComparison& ac = a.activity;
    const double achieved =
        p.truth_counts.units ? double(p.truth_counts.active) / p.truth_counts.units : 0;
    ac.k = requested_k(truth, l, achieved);
    ac.target = p.truth_counts.stats(a.channels, ac.k);
    ac.learned = p.learned_counts.stats(a.learned_channels, ac.k);
    for (int j : a.columns.match.permutation)
      ac.matched_channel_activity.push_back(ac.learned.channel_activity[j]);
    // The super-resolution layer on samples.
    if (l >= 2) {
      FunctionalRecovery r;
      r.functional_error = safe_ratio(p.fe_num, p.fe_den);
      r.output_functional_error = safe_ratio(p.ofe_num, p.ofe_den);
      for (int j : a.columns.match.duplicate_columns)
        if (ac.learned.channel_activity[j] > o.active_floor) ++r.active_duplicates;
      a.functional = r;
    }
  }
  out.seconds = clock.seconds();
  return out;
}

RunAnalysis analyze_data_set(const DataSet& data, std::int64_t train_samples,
                             const Target& learned_in, const AnalysisOptions& o) {
  Stopwatch clock;
  if (o.samples < 2) fail_field("samples", o.samples, "must be >= 2");
  require_int_in_range("directions", o.directions, 1, 100000);
  require_int_in_range("max_order", o.max_order, 1, kMaxMomentOrder);
  if (o.max_patches < 1) fail_field("max_patches", o.max_patches, "must be >= 1");
  require_int_in_range("threads", o.threads, 1, 256);
  const Architecture& g = data.geometry;
  auto same = [&](const char* what, int a, int b) {
    if (a != b) {
      throw InputError(std::string("learned model ") + what + " = " + std::to_string(b) +
                       ": must equal the data set's " + std::to_string(a) + " (" + data.source +
                       ")");
    }
  };
  same("grid", g.grid, learned_in.grid);
  same("patch", g.patch, learned_in.patch);
  same("colors", g.colors, learned_in.colors);
  const std::int64_t S = data.samples();
  if (train_samples < 0 || train_samples > S) {
    fail_field("train_samples", train_samples,
               "must be in [0, " + std::to_string(S) + "] (the samples of " + data.source + ")");
  }
  const std::int64_t half = (S - train_samples) / 2, N = std::min(o.samples, half);
  if (N < 2) {
    fail_field("train_samples", train_samples,
               "leaves " + std::to_string(S - train_samples) + " held-out samples of " +
                   data.source + ": each of the two halves needs >= 2");
  }
  const int L = std::min(g.levels, learned_in.levels);
  // Geometry of the data as a target (no parameters: it only indexes images and patches).
  Target geo;
  static_cast<Architecture&>(geo) = g;
  geo.kernel = learned_in.kernel;
  Target gen = canonical_form(learned_in);
  gen.sample_seed = mix64(o.seed ^ kTagLearned);
  gen.levels = L;
  gen.up.resize(L - 1);
  gen.M.resize(L);
  gen.channels.resize(L);

  RunAnalysis out;
  out.options = o;
  out.planted = false;
  out.held_out_first = train_samples;
  out.levels_scored = L;
  std::vector<LevelPass> pass(L);
  for (int l = 1; l <= L; ++l) {
    LevelPass& p = pass[l - 1];
    init_pass(p, geo, l, N, o, /*with_floor=*/true);
    p.learned_counts.init(gen.channels[l - 1]);
  }
  for (std::int64_t first = 0; first < N; first += kChunk) {
    const std::int64_t count = std::min(kChunk, N - first);
    const SampleBatch bg = sample(gen, first, count, {.with_hidden = true, .threads = o.threads});
    for (int l = 1; l <= L; ++l) {
      LevelPass& p = pass[l - 1];
      const RowMatrix real = data.x[l - 1].middleRows(train_samples + first, count);
      const RowMatrix floor = data.x[l - 1].middleRows(train_samples + half + first, count);
      fill_projections(p.proj_real, first, real, p.directions_image);
      fill_projections(p.proj_floor, first, floor, p.directions_image);
      fill_projections(p.proj_gen, first, bg.x[l - 1], p.directions_image);
      fill_patches(p.patch_real, real, first, p.q, geo, l, o.seed);
      fill_patches(p.patch_floor, floor, first, p.q, geo, l, o.seed);
      fill_patches(p.patch_gen, bg.x[l - 1], first, p.q, geo, l, o.seed);
      p.learned_counts.add(bg.s[l - 1], gen.channels[l - 1], geo.grid_at(l) * geo.grid_at(l));
    }
  }
  for (int l = 1; l <= L; ++l) {
    LevelAnalysis a;
    a.planted = false;
    a.level = l;
    a.learned_channels = gen.channels[l - 1];
    LevelPass& p = pass[l - 1];
    a.distribution = distribution_metrics(p, o, N, /*with_floor=*/true);
    a.activity.learned = p.learned_counts.stats(a.learned_channels, 0);
    out.levels.push_back(std::move(a));
  }
  out.seconds = clock.seconds();
  return out;
}

RunAnalysis analyze_run(const fs::path& target_dir, const fs::path& run_dir,
                        const AnalysisOptions& options) {
  std::error_code ec;
  if (!fs::exists(run_dir, ec) || ec) {
    fail_field("--run", run_dir.string(),
               ec ? "cannot be read (" + ec.message() + ")" : "does not exist");
  }
  if (!fs::is_directory(run_dir, ec)) fail_field("--run", run_dir.string(), "is not a directory");
  if (!fs::exists(target_dir, ec) || !fs::is_directory(target_dir, ec)) {
    fail_field("--target", target_dir.string(), "is not a target directory");
  }
  // Probing a folder we may not read sets ec: that is "unreadable", not "no model".
  auto probe = [&](const fs::path& path, bool directory) {
    const fs::file_status st = fs::status(path, ec);
    if (st.type() == fs::file_type::not_found) return false;
    if (ec) fail_field("--run", run_dir.string(), "cannot be read (" + ec.message() + ")");
    return directory ? fs::is_directory(st) : fs::exists(st);
  };
  const fs::path model_dir = probe(run_dir / "model", true) ? run_dir / "model" : run_dir;
  if (!probe(model_dir / "target.json", false)) {
    fail_field("--run", run_dir.string(),
               "holds no learned model (no target.json in it or in its model/ folder)");
  }
  if (probe(target_dir / "pyramid.json", false)) {  // a data set: no planted truth
    const fs::path config_file = run_dir / "config.json";
    if (!probe(config_file, false))
      fail_field("--run", run_dir.string(), "holds no config.json (its data.train_samples)");
    const Json config = read_json(config_file);
    const Json n = config.is_object() && config.contains("data") && config["data"].is_object()
                       ? config["data"].value("train_samples", Json())
                       : Json();
    if (!n.is_number_integer())
      fail_field(config_file.string(), "data.train_samples", "is missing or not an integer");
    RunAnalysis out = analyze_data_set(load_data_set(target_dir), n.get<std::int64_t>(),
                                       load_target(model_dir), options);
    out.target_dir = target_dir.string();
    out.run_dir = run_dir.string();
    out.model_dir = model_dir.string();
    return out;
  }
  const Target truth = load_target(target_dir);
  const Target learned = load_target(model_dir);
  const int L = std::min(truth.levels, learned.levels);
  std::vector<std::optional<Eigen::MatrixXd>> decoders(L);
  std::vector<std::string> files(L);
  for (int l = 1; l <= L; ++l) {
    for (const fs::path& dir : {run_dir, model_dir}) {
      const fs::path f = dir / ("V_" + std::to_string(l) + ".npy");
      if (!fs::exists(f, ec)) continue;
      decoders[l - 1] =
          decoder_columns(read_npy_matrix(f, f.string()), truth.patch_dim(), f.string());
      files[l - 1] = f.string();
      break;
    }
  }
  RunAnalysis out = analyze(truth, learned, decoders, options);
  for (int l = 1; l <= L; ++l) out.levels[l - 1].decoder_file = files[l - 1];
  out.target_dir = target_dir.string();
  out.run_dir = run_dir.string();
  out.model_dir = model_dir.string();
  if (fs::exists(run_dir / "result.json", ec)) {
    const Json r = read_json(run_dir / "result.json");
    out.run_result = Json::object();
    // Copied only with the types the report prints them as (the file may have been edited).
    for (const char* key : {"status", "message"})
      if (r.is_object() && r.contains(key) && r[key].is_string()) out.run_result[key] = r[key];
    for (const char* key : {"steps", "total_steps"})
      if (r.is_object() && r.contains(key) && r[key].is_number()) out.run_result[key] = r[key];
  }
  return out;
}

// ---- JSON -------------------------------------------------------------------------------------

namespace {
Json activity_json(const ActivityStats& a) {
  return {{"channels", a.channels},
          {"achieved", a.achieved},
          {"mean_active_per_patch", a.mean_active_per_patch},
          {"active_count_histogram", a.histogram},
          {"fraction_patches_at_most_k", a.fraction_patches_at_most_k},
          {"channel_activity", a.channel_activity}};
}

Json distribution_json(const DistributionMetrics& d) {
  return {{"samples", d.samples},
          {"patches", d.patches},
          {"directions", d.directions},
          {"moment_mismatch", d.moment_mismatch},
          {"moment_mismatch_floor", d.moment_mismatch_floor},
          {"mean_gap", d.mean_gap},
          {"mean_gap_floor", d.mean_gap_floor},
          {"second_moment_gap", d.second_moment_gap},
          {"second_moment_gap_floor", d.second_moment_gap_floor},
          {"sliced_w1", d.sliced_w1},
          {"sliced_w2", d.sliced_w2},
          {"sliced_w1_floor", d.sliced_w1_floor},
          {"sliced_w2_floor", d.sliced_w2_floor},
          {"projection_scale", d.projection_scale}};
}
}  // namespace

Json to_json(const LevelAnalysis& a) {
  if (!a.planted) {
    return {{"level", a.level},
            {"learned_channels", a.learned_channels},
            {"recovery", nullptr},
            {"no_planted_truth",
             "the target is a data set: columns, first layer, W and decoders are not scored"},
            {"distribution", distribution_json(a.distribution)},
            {"activity", {{"learned", activity_json(a.activity.learned)}}}};
  }
  Json j = to_json(static_cast<const LevelRecovery&>(a));
  if (a.decoder_vs_target) {
    j["decoder"] = {{"file", a.decoder_file},
                    {"vs_target", to_json(*a.decoder_vs_target)},
                    {"vs_learned", to_json(*a.decoder_vs_learned)}};
  } else {
    j["decoder"] = nullptr;
  }
  if (a.functional) {
    Json& s = j["super_resolution"];
    s["functional_error"] = finite_or_null(a.functional->functional_error);
    s["output_functional_error"] = finite_or_null(a.functional->output_functional_error);
    s["active_duplicates"] = a.functional->active_duplicates;
  }
  j["distribution"] = distribution_json(a.distribution);
  j["activity"] = {{"k", a.activity.k},
                   {"target", activity_json(a.activity.target)},
                   {"learned", activity_json(a.activity.learned)},
                   {"matched_channel_activity", a.activity.matched_channel_activity}};
  return j;
}

Json to_json(const RunAnalysis& r) {
  const AnalysisOptions& o = r.options;
  Json levels = Json::array();
  for (const LevelAnalysis& l : r.levels) levels.push_back(to_json(l));
  Json j{{"target_dir", r.target_dir},
         {"run_dir", r.run_dir},
         {"model_dir", r.model_dir},
         {"levels_scored", r.levels_scored},
         {"options",
          {{"threshold", o.threshold},
           {"samples", o.samples},
           {"directions", o.directions},
           {"max_order", o.max_order},
           {"max_patches", o.max_patches},
           {"seed", o.seed},
           {"noise_floor", o.noise_floor},
           {"active_floor", o.active_floor},
           {"merge_tolerance", o.merge_tolerance}}},
         {"run_result", r.run_result},
         {"levels", levels},
         {"seconds", r.seconds}};
  if (!r.planted) {  // only then: a planted run's document is unchanged
    j["planted"] = false;
    j["held_out_first"] = r.held_out_first;
  }
  return j;
}

void write_analysis(const fs::path& path, const RunAnalysis& analysis, const RunInfo& run) {
  write_json_atomic(path, make_document("analyze", to_json(analysis), run));
}

}  // namespace fsr
