#include "synth/target.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/atomic_file.h"
#include "core/npy.h"
#include "core/rng.h"
#include "core/validate.h"
#include "synth/dictionary.h"
#include "synth/latent.h"
#include "synth/report.h"
#include "synth/sample.h"
#include "theory/relu_moments.h"

namespace fsr {
namespace fs = std::filesystem;
namespace {

// Sub-seeds: parameters, calibration samples and the target's own samples never share a stream.
constexpr std::uint64_t kParamTag = 0x70617261'6d657465ULL;   // "paramete"
constexpr std::uint64_t kCalibTag = 0x63616c69'62726174ULL;   // "calibrat"
constexpr std::uint64_t kSampleTag = 0x73616d70'6c657321ULL;  // "samples!"
// Pre-activation values kept per channel when calibrating a bias (bounds memory at fine levels).
constexpr std::int64_t kMaxCalibrationValues = std::int64_t{1} << 18;

std::string level_file(const std::string& pattern, int level) {
  std::string s = pattern;
  const std::string key = "{level}";
  for (auto pos = s.find(key); pos != std::string::npos; pos = s.find(key)) {
    s.replace(pos, key.size(), std::to_string(level));
  }
  return s;
}

// A rank-2 .npy as a matrix, checked against the expected shape (cols < 0: any).
Eigen::MatrixXd read_matrix(const fs::path& path, const std::string& field, std::int64_t rows,
                            std::int64_t cols) {
  if (!fs::exists(path)) fail_field(field, path.string(), "file not found");
  NpyArray a = read_npy(path);
  const bool ok = a.shape.size() == 2 && a.shape[0] == rows && (cols < 0 || a.shape[1] == cols);
  if (!ok) {
    fail_field(field, path.string(),
               "shape " + format_shape(a.shape) + " must be (" + std::to_string(rows) + ", " +
                   (cols < 0 ? std::string("any") : std::to_string(cols)) + ")");
  }
  require_all_finite(field, a.data.data(), a.data.size());
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      a.data.data(), a.shape[0], a.shape[1]);
}

Eigen::VectorXd read_vector(const fs::path& path, std::int64_t n) {
  const std::string field = path.string();
  if (!fs::exists(path)) fail_field(field, "(missing)", "file not found");
  NpyArray a = read_npy(path);
  if (a.shape != std::vector<std::int64_t>{n}) {
    fail_field(field, format_shape(a.shape), "shape must be (" + std::to_string(n) + ",)");
  }
  require_all_finite(field, a.data.data(), a.data.size());
  return Eigen::Map<const Eigen::VectorXd>(a.data.data(), n);
}

void normalize_rows(Eigen::MatrixXd& A, const std::string& field) {
  for (int n = 0; n < A.rows(); ++n) {
    const double norm = A.row(n).norm();
    if (!(norm > 0))
      fail_field(field + " row " + std::to_string(n), norm, "must have a nonzero norm");
    A.row(n) /= norm;
  }
}

void normalize_cols(Eigen::MatrixXd& M, const std::string& field) {
  for (int j = 0; j < M.cols(); ++j) {
    const double norm = M.col(j).norm();
    if (!(norm > 0))
      fail_field(field + " column " + std::to_string(j), norm, "must have a nonzero norm");
    M.col(j) /= norm;
  }
}

// Sets layer.bias (and rescales the layer's output channels) so that each channel of level
// `level` is active with probability `q` and has E[s^2] = second_moment. `t` holds levels
// 1..level-1 finished. Returns the calibration facts for the report.
Json calibrate_level(Target& t, int level, double q, double second_moment, const TargetConfig& cfg,
                     std::uint64_t calib_seed) {
  SuperResolutionLayer& layer = t.up[level - 2];
  const int h_prev = t.grid_at(level - 1), H = 2 * h_prev, HH = H * H, mo = layer.out_channels;
  const std::int64_t n_samples = std::min<std::int64_t>(
      cfg.calibration_samples, std::max<std::int64_t>(200, kMaxCalibrationValues / HH));
  const std::int64_t n_values = n_samples * HH;
  const std::string field = "active[" + std::to_string(level - 1) + "]";
  if (q * n_values < 20) {
    fail_field("calibration_samples", cfg.calibration_samples,
               "too few to calibrate " + field + " = " + format_value(q) +
                   " (need active * samples * h^2 >= 20)");
  }

  Target partial = t;  // levels 1..level-1, drawn from the calibration streams
  partial.levels = level - 1;
  partial.sample_seed = calib_seed;
  std::vector<std::vector<double>> values(mo);
  for (auto& v : values) v.reserve(n_values);
  constexpr std::int64_t kChunk = 256;
  for (std::int64_t first = 0; first < n_samples; first += kChunk) {
    const std::int64_t count = std::min(kChunk, n_samples - first);
    SampleBatch b =
        sample(partial, first, count, SampleOptions{.with_hidden = true, .with_outputs = false});
    RowMatrix u = super_resolve(layer, b.s[level - 2], h_prev, /*activate=*/false);
    for (std::int64_t n = 0; n < count; ++n) {
      for (int j = 0; j < mo; ++j) {
        const double* src = u.row(n).data() + std::int64_t{j} * HH;
        values[j].insert(values[j].end(), src, src + HH);
      }
    }
  }

  const auto rank = static_cast<std::int64_t>(std::floor((1.0 - q) * n_values));
  Json scales = Json::array();
  for (int j = 0; j < mo; ++j) {
    std::vector<double>& v = values[j];
    std::nth_element(v.begin(), v.begin() + rank, v.end());
    const double b = v[rank];  // P(u > b) = q up to one value: the calibration quantile
    if (!(b > 0)) {
      const double reachable =
          double(std::count_if(v.begin(), v.end(), [](double x) { return x > 0; })) / n_values;
      fail_field(field, q,
                 "above the activity reachable at level " + std::to_string(level) + ", channel " +
                     std::to_string(j) +
                     " with a bias >= 0 (P(pre-activation > 0) = " + format_value(reachable) +
                     ": a child whose parents are silent stays silent); lower it or raise active[" +
                     std::to_string(level - 2) + "]");
    }
    double s2 = 0.0;
    for (double x : v) s2 += x > b ? (x - b) * (x - b) : 0.0;
    s2 /= n_values;
    // ReLU(c (u - b)) = c ReLU(u - b) for c > 0: scaling leaves the activity unchanged.
    const double c = std::sqrt(second_moment / s2);
    for (int i = 0; i < layer.in_channels; ++i) {
      for (int ky = 0; ky < layer.kernel; ++ky) {
        for (int kx = 0; kx < layer.kernel; ++kx) layer.w(i, j, ky, kx) *= c;
      }
    }
    layer.bias[j] = c * b;
    scales.push_back(c);
  }
  return Json{{"level", level},
              {"samples", n_samples},
              {"values_per_channel", n_values},
              {"channel_scale_min", *std::min_element(scales.begin(), scales.end())},
              {"channel_scale_max", *std::max_element(scales.begin(), scales.end())}};
}

std::string hex64(std::uint64_t x) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, x);
  return buf;
}

Json files_json(const Target& t) {
  const int d = t.patch_dim();
  Json files{{"A.npy", {t.first_layer_units(), t.latent_dim()}},
             {"alpha.npy", {t.first_layer_units()}},
             {"beta.npy", {t.first_layer_units()}}};
  for (int l = 1; l <= t.levels; ++l) {
    const std::string s = std::to_string(l);
    files["M_" + s + ".npy"] = {d, t.channels[l - 1]};
    if (l >= 2) {
      files["W_" + s + ".npy"] = {t.channels[l - 2], t.channels[l - 1], t.kernel, t.kernel};
      files["b_" + s + ".npy"] = {t.channels[l - 1]};
    }
  }
  return files;
}

void write_parameters(const fs::path& dir, const Target& t) {
  write_npy(dir / "A.npy", t.A);
  write_npy(dir / "alpha.npy", t.alpha);
  write_npy(dir / "beta.npy", t.beta);
  for (int l = 1; l <= t.levels; ++l) {
    const std::string s = std::to_string(l);
    write_npy(dir / ("M_" + s + ".npy"), t.M[l - 1]);
    if (l >= 2) {
      const SuperResolutionLayer& layer = t.up[l - 2];
      write_npy(dir / ("W_" + s + ".npy"), layer.weight.data(),
                {layer.in_channels, layer.out_channels, layer.kernel, layer.kernel});
      write_npy(dir / ("b_" + s + ".npy"), layer.bias);
    }
  }
}

Json target_document(const Target& t) {
  RunInfo run;
  run.config = t.config;
  if (t.config.is_object() && t.config.contains("seed"))
    run.seed = t.config["seed"].get<std::uint64_t>();
  Json payload{{"architecture", architecture_json(t)},
               {"config", t.config},
               {"achieved", t.achieved},
               {"fingerprint", hex64(fingerprint(t))},
               {"files", files_json(t)}};
  return make_document("fsr-target", payload, run);
}

}  // namespace

std::int64_t Target::output_size(int level) const {
  const std::int64_t s = side_at(level);
  return std::int64_t{colors} * s * s;
}

std::int64_t Target::hidden_size(int level) const {
  const std::int64_t h = grid_at(level);
  return std::int64_t{channels[level - 1]} * h * h;
}

double Target::flops_per_sample(int level) const {
  const double h = grid_at(level), m = channels[level - 1];
  double f = 2.0 * patch_dim() * m * h * h;  // outputs
  if (level == 1) {
    f += 2.0 * A.rows() * A.cols();
  } else {
    const double hp = grid_at(level - 1);
    f += 2.0 * kernel * kernel * channels[level - 2] * m * hp * hp;
  }
  return f;
}

Json architecture_json(const Target& t) {
  Json a{{"levels", t.levels},           {"grid", t.grid},
         {"channels", t.channels},       {"patch", t.patch},
         {"colors", t.colors},           {"kernel", t.kernel},
         {"latent_dim", t.latent_dim()}, {"noise", t.noise},
         {"sample_seed", t.sample_seed}};
  // Only when not Gaussian: the target.json of every Gaussian target stays as it was.
  if (t.first_layer_noise != FirstLayerNoise::kGaussian)
    a["first_layer_noise"] = to_string(t.first_layer_noise);
  return a;
}

Target build_target(const TargetConfig& cfg) {
  Target t;
  static_cast<Architecture&>(t) = cfg;
  t.noise = cfg.noise;
  t.first_layer_noise = cfg.first_layer_noise;
  const std::uint64_t param_seed = mix64(cfg.seed ^ kParamTag);
  const std::uint64_t calib_seed = mix64(cfg.seed ^ kCalibTag);
  t.sample_seed = mix64(cfg.seed ^ kSampleTag);
  const int n1 = cfg.first_layer_units(), d = cfg.patch_dim();
  Json config = to_json(cfg);

  // First layer: A, alpha, beta.
  switch (cfg.correlation) {
    case Correlation::kIndependent:
      t.A = Eigen::MatrixXd::Identity(n1, n1);
      break;
    case Correlation::kLatent: {
      Rng rng(param_seed, 1);
      t.A.resize(n1, cfg.latent_dim);
      for (int n = 0; n < n1; ++n) {
        for (int i = 0; i < cfg.latent_dim; ++i) t.A(n, i) = rng.normal();
      }
      normalize_rows(t.A, "A");
      break;
    }
    case Correlation::kFile:
      t.A = read_matrix(cfg.correlation_file, "first_layer.correlation", n1, -1);
      normalize_rows(t.A, "first_layer.correlation");
      config["first_layer"]["latent_dim"] = t.A.cols();
      break;
  }
  // t = Q^{-1}(p) of the latent law: P(z > t) = p (Gaussian: normal_q_inverse). Exact for
  // independent units (g = z); with A != I, g = A z has the law only when it is Gaussian.
  const double threshold = latent_q_inverse(cfg.first_layer_noise, cfg.active[0]);
  {
    Rng rng(param_seed, 2);
    t.alpha.resize(n1);
    for (int n = 0; n < n1; ++n) {
      t.alpha[n] = cfg.alpha_min + (cfg.alpha_max - cfg.alpha_min) * rng.uniform();
    }
    t.beta = t.alpha * threshold;
  }

  // Output dictionaries.
  Json coherence_json = Json::array();
  for (int l = 1; l <= cfg.levels; ++l) {
    const int m = cfg.channels[l - 1];
    Rng rng(param_seed, 100 + l);
    Eigen::MatrixXd M;
    switch (cfg.dictionary) {
      case DictionaryKind::kOrthonormal:
        M = orthonormal_dictionary(d, m, rng);
        break;
      case DictionaryKind::kIncoherent:
        M = incoherent_dictionary(d, m, cfg.coherence, rng);
        break;
      case DictionaryKind::kFile: {
        const fs::path path = level_file(cfg.dictionary_file, l);
        M = read_matrix(path, "dictionary.kind", d, m);
        normalize_cols(M, "dictionary.kind (" + path.string() + ")");
        break;
      }
    }
    const double mu = coherence(M);
    coherence_json.push_back(Json{{"level", l},
                                  {"requested", cfg.coherence},
                                  {"achieved", mu},
                                  {"welch_bound", welch_bound(d, m)},
                                  {"within_bound", mu <= cfg.coherence}});
    t.M.push_back(std::move(M));
  }

  // Super-resolution layers: Gaussian weights with variance 1 / fan-in, then calibrated.
  double second_moment = 0.0;  // mean E[s^2] of the level-1 units, closed form of the z law
  for (int n = 0; n < n1; ++n)
    second_moment += latent_relu_second_moment(cfg.first_layer_noise, t.alpha[n], t.beta[n]);
  second_moment /= n1;
  Json calibration = Json::array();
  for (int l = 2; l <= cfg.levels; ++l) {
    SuperResolutionLayer layer;
    layer.in_channels = cfg.channels[l - 2];
    layer.out_channels = cfg.channels[l - 1];
    layer.kernel = cfg.kernel;
    const double fan_in = double(layer.in_channels) * (cfg.kernel / 2) * (cfg.kernel / 2);
    Rng rng(param_seed, 10 + l);
    layer.weight.resize(std::size_t(layer.in_channels) * layer.out_channels * cfg.kernel *
                        cfg.kernel);
    for (double& w : layer.weight) w = rng.normal() / std::sqrt(fan_in);
    layer.bias = Eigen::VectorXd::Zero(layer.out_channels);
    t.up.push_back(std::move(layer));
    t.levels = l - 1;
    calibration.push_back(calibrate_level(t, l, cfg.active[l - 1], second_moment, cfg, calib_seed));
  }
  t.levels = cfg.levels;
  t.config = config;

  const std::int64_t n_check = std::min<std::int64_t>(cfg.calibration_samples, 2000);
  Json activity = activity_report(t, n_check);
  for (std::size_t l = 0; l < activity.size(); ++l) activity[l]["requested"] = cfg.active[l];
  Json first_layer{{"threshold_t", threshold},
                   {"p_active_closed_form", latent_q(cfg.first_layer_noise, threshold)},
                   {"alpha_min", t.alpha.minCoeff()},
                   {"alpha_max", t.alpha.maxCoeff()},
                   {"second_moment", second_moment}};
  if (cfg.first_layer_noise != FirstLayerNoise::kGaussian) {
    first_layer["noise"] = to_string(cfg.first_layer_noise);
    first_layer["noise_note"] =
        "z has this law (mean 0, variance 1); threshold_t = its quantile: P(z > t) = active[0]; "
        "the closed forms are exact for independent units (g = z), approximate with correlation "
        "latent or a file (g = A z is then a weighted sum of such draws)";
  }
  t.achieved = Json{{"activity", activity},
                    {"activity_note",
                     "achieved = fraction of active units over the first samples of the target; "
                     "stderr from the spread of per-sample fractions (positions within a sample "
                     "are correlated)"},
                    {"first_layer", first_layer},
                    {"rho", rho_summary(t.A)},
                    {"coherence", coherence_json},
                    {"calibration", calibration}};
  validate_target(t);
  return t;
}

void validate_target(const Target& t) {
  t.validate();
  const int n1 = t.first_layer_units(), d = t.patch_dim();
  auto check = [](const std::string& name, std::vector<std::int64_t> got,
                  std::vector<std::int64_t> want) {
    if (got != want) fail_field(name, format_shape(got), "shape must be " + format_shape(want));
  };
  check("A", {t.A.rows(), t.A.cols()}, {n1, t.A.cols()});
  if (t.A.cols() < 1) fail_field("A", t.A.cols(), "must have at least one column");
  check("alpha", {t.alpha.size()}, {n1});
  check("beta", {t.beta.size()}, {n1});
  require_all_finite("A", t.A.data(), t.A.size());
  require_all_finite("alpha", t.alpha.data(), t.alpha.size());
  require_all_finite("beta", t.beta.data(), t.beta.size());
  if (static_cast<int>(t.M.size()) != t.levels)
    fail_field("M", t.M.size(), "must have levels entries");
  if (static_cast<int>(t.up.size()) != t.levels - 1)
    fail_field("W", t.up.size(), "must have levels - 1 entries");
  for (int l = 1; l <= t.levels; ++l) {
    const std::string s = std::to_string(l);
    check("M_" + s, {t.M[l - 1].rows(), t.M[l - 1].cols()}, {d, t.channels[l - 1]});
    require_all_finite("M_" + s, t.M[l - 1].data(), t.M[l - 1].size());
    if (l < 2) continue;
    const SuperResolutionLayer& u = t.up[l - 2];
    require_kernel("W_" + s + ".kernel", u.kernel);
    check("W_" + s, {u.in_channels, u.out_channels, std::int64_t(u.weight.size())},
          {t.channels[l - 2], t.channels[l - 1],
           std::int64_t{t.channels[l - 2]} * t.channels[l - 1] * u.kernel * u.kernel});
    check("b_" + s, {u.bias.size()}, {t.channels[l - 1]});
    require_all_finite("W_" + s, u.weight.data(), u.weight.size());
    require_all_finite("b_" + s, u.bias.data(), u.bias.size());
  }
}

std::uint64_t fingerprint(const Target& t) {
  std::uint64_t h = mix64(0x66737274'61726765ULL);
  auto add = [&h](std::uint64_t x) { h = mix64(h ^ x); };
  auto add_doubles = [&add](const double* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t bits;
      std::memcpy(&bits, p + i, sizeof bits);
      add(bits);
    }
  };
  for (int v : {t.levels, t.grid, t.patch, t.colors, t.kernel}) add(static_cast<std::uint64_t>(v));
  for (int m : t.channels) add(static_cast<std::uint64_t>(m));
  add_doubles(&t.noise, 1);
  add(t.sample_seed);
  // Only when not Gaussian: every Gaussian target keeps the fingerprint it had.
  if (t.first_layer_noise != FirstLayerNoise::kGaussian)
    add(0x6e6f6973'65000000ULL ^ static_cast<std::uint64_t>(t.first_layer_noise));  // "noise"
  add(static_cast<std::uint64_t>(t.A.cols()));
  add_doubles(t.A.data(), t.A.size());
  add_doubles(t.alpha.data(), t.alpha.size());
  add_doubles(t.beta.data(), t.beta.size());
  for (const auto& u : t.up) {
    add_doubles(u.weight.data(), u.weight.size());
    add_doubles(u.bias.data(), u.bias.size());
  }
  for (const auto& M : t.M) add_doubles(M.data(), M.size());
  return h;
}

void save_target(const fs::path& out, const Target& t, const std::string& field,
                 const std::function<void(const fs::path&)>& write_more) {
  // "out/" names the directory "out": without the trailing separator it has a file name, which
  // the temporary beside it is named after.
  fs::path dir = out.lexically_normal();
  if (!dir.has_filename() && dir.has_parent_path()) dir = dir.parent_path();
  validate_target(t);
  check_output_directory(dir, field);
  const Json doc = target_document(t);
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir)) fail_field(field, dir.string(), "exists and is not a directory");
    const fs::path meta = dir / "target.json";
    if (fs::exists(meta)) {
      Json old;
      try {
        old = read_json(meta);
      } catch (const InputError&) {
        fail_field(field, dir.string(),
                   "holds an unreadable target.json; choose another directory");
      }
      const std::string print = old.value("fingerprint", std::string());
      if (print != doc["fingerprint"].get<std::string>()) {
        fail_field(field, dir.string(),
                   "already holds a different target (fingerprint " + print + ", this one " +
                       doc["fingerprint"].get<std::string>() +
                       "); choose another directory or remove it");
      }
    } else if (!fs::is_empty(dir)) {
      fail_field(field, dir.string(), "exists, is not empty and holds no target.json");
    }
    write_parameters(dir, t);
    if (write_more) write_more(dir);
    write_json_atomic(meta, doc);  // last: a directory without target.json is incomplete
    return;
  }
  // New directory: build it beside its final place, then rename it in one step.
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  fs::create_directories(parent);
  remove_stale_temporaries(parent, dir.filename().string());
  static std::atomic<int> counter{0};
  const fs::path tmp = parent / (dir.filename().string() + ".tmp-" + std::to_string(::getpid()) +
                                 "-" + std::to_string(counter++));
  try {
    fs::create_directory(tmp);
    write_parameters(tmp, t);
    if (write_more) write_more(tmp);
    write_json_atomic(tmp / "target.json", doc);
    fs::rename(tmp, dir);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

Target load_target(const fs::path& dir) {
  if (!fs::is_directory(dir)) fail_field("target", dir.string(), "is not a directory");
  const fs::path meta = dir / "target.json";
  if (!fs::exists(meta)) fail_field("target", dir.string(), "holds no target.json");
  const Json doc = read_json(meta);
  const std::string where = meta.string();
  if (!doc.is_object() || !doc.contains("kind") || doc["kind"] != "fsr-target" ||
      !doc.contains("architecture")) {
    fail_field(where, "kind", "must be an fsr-target document with an architecture block");
  }
  const Json& a = doc["architecture"];
  const std::string arch = where + ": architecture";
  // Checked reads: a value of another type or out of range is named, never converted blindly
  // (a grid of 1e300 was an undefined conversion to int).
  const auto integer = [&](const char* key, std::int64_t lo, std::int64_t hi) {
    return static_cast<int>(json_integer(json_member(a, key, arch), arch + "." + key, lo, hi));
  };
  Target t;
  t.levels = integer("levels", 1, 8);
  t.grid = integer("grid", 1, 1024);
  t.patch = integer("patch", 1, 64);
  t.colors = integer("colors", 1, 64);
  t.kernel = integer("kernel", 0, 64);  // the precise rules: validate() below
  const Json& channels = json_member(a, "channels", arch);
  if (!channels.is_array() || static_cast<int>(channels.size()) != t.levels) {
    fail_field(arch + ".channels", dump_json(channels).substr(0, 60),
               "must be a list of levels = " + std::to_string(t.levels) + " entries");
  }
  for (std::size_t l = 0; l < channels.size(); ++l) {
    t.channels.push_back(static_cast<int>(
        json_integer(channels[l], arch + ".channels[" + std::to_string(l) + "]", 1, 4096)));
  }
  t.noise = json_number(json_member(a, "noise", arch), arch + ".noise");
  require_nonnegative(arch + ".noise", t.noise);
  t.sample_seed = json_uint64(json_member(a, "sample_seed", arch), arch + ".sample_seed");
  if (a.is_object() && a.contains("first_layer_noise")) {  // absent: Gaussian (every older target)
    const std::string s = as_choice(a["first_layer_noise"], arch + ".first_layer_noise",
                                    enum_spellings<FirstLayerNoise>());
    for (const auto& n : enum_names(FirstLayerNoise{}))
      if (s == n.name) t.first_layer_noise = n.value;
  }
  t.validate(arch + ".");
  const int n1 = t.first_layer_units(), d = t.patch_dim();
  t.A = read_matrix(dir / "A.npy", (dir / "A.npy").string(), n1, -1);
  t.alpha = read_vector(dir / "alpha.npy", n1);
  t.beta = read_vector(dir / "beta.npy", n1);
  for (int l = 1; l <= t.levels; ++l) {
    const std::string s = std::to_string(l);
    t.M.push_back(read_matrix(dir / ("M_" + s + ".npy"), (dir / ("M_" + s + ".npy")).string(), d,
                              t.channels[l - 1]));
    if (l < 2) continue;
    SuperResolutionLayer u;
    u.in_channels = t.channels[l - 2];
    u.out_channels = t.channels[l - 1];
    u.kernel = t.kernel;
    const fs::path wp = dir / ("W_" + s + ".npy");
    if (!fs::exists(wp)) fail_field(wp.string(), "(missing)", "file not found");
    NpyArray w = read_npy(wp);
    const std::vector<std::int64_t> want{u.in_channels, u.out_channels, u.kernel, u.kernel};
    if (w.shape != want)
      fail_field(wp.string(), format_shape(w.shape), "shape must be " + format_shape(want));
    u.weight = std::move(w.data);
    u.bias = read_vector(dir / ("b_" + s + ".npy"), u.out_channels);
    t.up.push_back(std::move(u));
  }
  t.config = doc.value("config", Json());
  t.achieved = doc.value("achieved", Json());
  validate_target(t);
  return t;
}

}  // namespace fsr
