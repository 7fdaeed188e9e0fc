#include "experiments/jobs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>

#include "core/json_read.h"
#include "core/rng.h"
#include "core/validate.h"
#include "experiments/analysis.h"
#include "score/recovery.h"
#include "experiments/image_structure.h"
#include "synth/config.h"
#include "synth/sample.h"
#include "synth/target.h"
#include "theory/first_layer.h"

namespace fsr {
namespace fs = std::filesystem;

namespace {

// The job's target: the suite's config, rebuilt with the job seed when the kind asks for it.
Target build_job_target(const JobSpec& spec, bool reseed) {
  Json config = spec.target;
  if (reseed) config["seed"] = spec.seed;
  return build_target(parse_target_config(config));
}

// ---- first_layer_baseline ---------------------------------------------------------------------

const std::vector<std::string> kFirstLayerKeys = {"samples", "method", "rho_method", "max_units",
                                                  "reseed_target"};

Json normalize_first_layer(const Json& c, const std::string& field, const fs::path&) {
  require_known_keys(c, field, kFirstLayerKeys);
  return Json{{"samples", read_int(c, "samples", field, 2000, 2, std::int64_t{1} << 32)},
              {"method", read_choice(c, "method", field, "moments", {"moments", "mle", "auto"})},
              {"rho_method", read_choice(c, "rho_method", field, "cross_moment",
                                         {"cross_moment", "coactivation"})},
              {"max_units", read_int(c, "max_units", field, 0, 0, 1 << 20)},
              {"reseed_target", read_bool(c, "reseed_target", field, false)}};
}

// Fits the first layer from the true S_1 of N samples and scores it against the planted values.
// The job seed picks an independent sample stream of the same target (or, with reseed_target, a
// new planted target), so seeds are independent replicates.
Json run_first_layer(const JobSpec& spec, const JobContext& context) {
  const Json& c = spec.config;
  const Stopwatch clock;
  Target target = build_job_target(spec, c["reseed_target"].get<bool>());
  if (target.first_layer_noise != FirstLayerNoise::kGaussian) {
    // Its estimators are consistent for Gaussian latents only: the errors below would measure
    // their bias under another law, not their sample complexity.
    fail_field("first_layer.noise", to_string(target.first_layer_noise),
               "first_layer_baseline fits censored-normal estimators (theory/first_layer.h) that "
               "assume Gaussian latents; use a target with first_layer.noise = gaussian");
  }
  target.sample_seed = mix64(target.sample_seed ^ mix64(spec.seed + 0x51ed270b27a3c1d5ULL));
  const std::int64_t n = c["samples"].get<std::int64_t>();
  const SampleBatch batch =
      sample(target, 0, n,
             SampleOptions{.with_hidden = true, .with_outputs = false, .threads = context.threads});
  const int all_units = target.first_layer_units();
  const int max_units = c["max_units"].get<int>();
  const int units = max_units > 0 ? std::min(max_units, all_units) : all_units;
  const Eigen::MatrixXd s1 = batch.s[0].leftCols(units);
  const double sample_seconds = clock.seconds();

  FirstLayerOptions options;
  options.unit_method = c["method"].get<std::string>();
  options.rho_method = c["rho_method"].get<std::string>();
  const FirstLayerFit fit = fit_first_layer(s1, options);
  const double fit_seconds = clock.seconds() - sample_seconds;

  // The first-layer errors of score/recovery.h (unit_error), over the fitted units.
  int ok = 0;
  double a_sum = 0, a_max = 0, b_sum = 0, b_max = 0, t_max = 0;
  std::vector<bool> unit_ok(units, false);
  for (int u = 0; u < units; ++u) {
    if (!std::isfinite(fit.alpha(u)) || !std::isfinite(fit.beta(u))) continue;
    unit_ok[u] = true;
    ++ok;
    const UnitError e = unit_error(target.alpha(u), target.beta(u), fit.alpha(u), fit.beta(u));
    a_sum += e.alpha_relative, b_sum += e.beta_relative;
    a_max = std::max(a_max, e.alpha_relative), b_max = std::max(b_max, e.beta_relative);
    t_max = std::max(t_max, e.t_abs);
  }
  // rho = A A^T (rows of unit norm), off-diagonal pairs of fitted units.
  double r_sum = 0, r_max = 0;
  std::int64_t pairs = 0;
  for (int i = 0; i < units; ++i) {
    for (int j = i + 1; j < units; ++j) {
      if (!unit_ok[i] || !unit_ok[j] || !std::isfinite(fit.rho(i, j))) continue;
      const double truth =
          target.A.row(i).dot(target.A.row(j)) / (target.A.row(i).norm() * target.A.row(j).norm());
      const double e = std::abs(fit.rho(i, j) - truth);
      r_sum += e, r_max = std::max(r_max, e), ++pairs;
    }
  }
  const double nan = std::nan("");
  std::int64_t active = 0;
  for (std::int64_t a : fit.n_active) active += a;
  return Json{{"status", ok == units ? "ok" : "partial"},
              {"samples", n},
              {"units", units},
              {"units_fitted", ok},
              {"active_fraction", double(active) / (double(n) * units)},
              {"method", options.unit_method},
              {"rho_method", options.rho_method},
              {"psd_repaired", fit.psd_repair.repaired},
              {"errors",
               {{"alpha_mean_relative", finite_or_null(ok ? a_sum / ok : nan)},
                {"alpha_max_relative", finite_or_null(ok ? a_max : nan)},
                {"beta_mean_relative", finite_or_null(ok ? b_sum / ok : nan)},
                {"beta_max_relative", finite_or_null(ok ? b_max : nan)},
                {"t_max_abs_error", finite_or_null(ok ? t_max : nan)},
                {"rho_mean_abs_error", finite_or_null(pairs ? r_sum / double(pairs) : nan)},
                {"rho_max_abs_error", finite_or_null(pairs ? r_max : nan)},
                {"rho_pairs", pairs}}},
              {"sample_seconds", sample_seconds},
              {"fit_seconds", fit_seconds},
              {"seconds", clock.seconds()}};
}

// ---- analyze_only -----------------------------------------------------------------------------

const std::vector<std::string> kAnalyzeKeys = {"run", "samples", "threshold", "directions"};

Json normalize_analyze(const Json& c, const std::string& field, const fs::path& base_dir) {
  require_known_keys(c, field, kAnalyzeKeys);
  if (!c.contains("run") || !c["run"].is_string()) {
    fail_field(field + ".run", c.contains("run") ? c["run"].dump() : std::string("(missing)"),
               "must be the path of a model or run directory");
  }
  fs::path run = c["run"].get<std::string>();
  if (run.is_relative() && !base_dir.empty()) run = fs::absolute(base_dir / run);
  const double threshold = read_number(c, "threshold", field, 0.99);
  require_in_range(field + ".threshold", threshold, 0.0, 1.0, false, true);
  return Json{{"run", run.lexically_normal().string()},
              {"samples", read_int(c, "samples", field, 4000, 2, std::int64_t{1} << 32)},
              {"threshold", threshold},
              {"directions", read_int(c, "directions", field, 128, 1, 1 << 16)}};
}

// Scores a stored model against the suite's target: the target is built and saved into the job's
// directory, then experiments/analysis.h compares the two.
Json run_analyze(const JobSpec& spec, const JobContext& context) {
  const Stopwatch clock;
  const Target target = build_job_target(spec, false);
  const fs::path target_dir = context.dir / "target";
  save_target(target_dir, target, "target");
  AnalysisOptions options;
  options.samples = spec.config["samples"].get<std::int64_t>();
  options.threshold = spec.config["threshold"].get<double>();
  options.directions = spec.config["directions"].get<int>();
  options.seed = spec.seed;
  options.threads = context.threads;
  const RunAnalysis analysis =
      analyze_run(target_dir, spec.config["run"].get<std::string>(), options);
  Json payload = to_json(analysis);
  payload["status"] = "ok";
  payload["seconds"] = clock.seconds();
  return payload;
}

// ---- The registry -----------------------------------------------------------------------------

struct Registry {
  std::mutex mutex;
  std::map<std::string, JobKind> kinds;
};

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;
    // Registered here rather than by static initialisers, which a static library may drop.
    reg->kinds["first_layer_baseline"] =
        JobKind{.name = "first_layer_baseline",
                .description =
                    "fit alpha, beta, rho from the target's true S_1 of N samples (theory/) "
                    "and score them against the planted values",
                .normalize = normalize_first_layer,
                .run = run_first_layer};
    reg->kinds["analyze_only"] = JobKind{.name = "analyze_only",
                                         .description =
                                             "score a stored model directory against the target "
                                             "(experiments/analysis.h)",
                                         .normalize = normalize_analyze,
                                         .run = run_analyze};
    reg->kinds["image_structure"] = image_structure_job_kind();
    return reg;
  }();
  return *r;
}

}  // namespace

void register_job_kind(JobKind kind) {
  if (kind.name.empty() || !kind.normalize || !kind.run) {
    throw std::logic_error("register_job_kind: a kind needs a name, normalize and run");
  }
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const std::string name = kind.name;
  r.kinds[name] = std::move(kind);
}

const JobKind& find_job_kind(const std::string& name, const std::string& field) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const auto it = r.kinds.find(name);
  if (it == r.kinds.end()) {
    std::vector<std::string> known;
    for (const auto& [k, v] : r.kinds) known.push_back(k);
    std::string rule = "unknown job kind; known: " + join_names(known);
    if (name == "gda") rule += " (the gda kind is registered by builds with the learner)";
    fail_field(field, name, rule);
  }
  return it->second;  // std::map nodes are stable; kinds are never erased
}

std::vector<std::string> job_kind_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [k, v] : r.kinds) names.push_back(k);
  return names;
}

Json to_json(const JobSpec& s) {
  return Json{{"id", s.id},         {"index", s.index},  {"target_name", s.target_name},
              {"target", s.target}, {"job", s.job_name}, {"kind", s.kind},
              {"config", s.config}, {"sweep", s.sweep},  {"seed", s.seed}};
}

JobSpec job_spec_from_json(const Json& j) {
  require_known_keys(
      j, "job", {"id", "index", "target_name", "target", "job", "kind", "config", "sweep", "seed"});
  const auto member = [&](const char* key) -> const Json& {
    return json_member(j, key, "job spec");
  };
  JobSpec s;
  s.id = json_string(member("id"), "job spec.id");
  // The id names the job's directory: one path component, never "." or ".." (a plan read back
  // from disk must not send merge_runs' copies outside the output directory).
  const bool safe_id =
      !s.id.empty() && s.id.size() <= 255 && s.id.front() != '.' &&
      std::all_of(s.id.begin(), s.id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_-+.=", c) != nullptr;
      });
  if (!safe_id) fail_field("job spec.id", s.id, "must be a file name of [A-Za-z0-9_.=+-]");
  s.index = json_integer(member("index"), "job spec.index", 0, INT64_MAX);
  s.target_name = json_string(member("target_name"), "job spec.target_name");
  s.target = member("target");
  s.job_name = json_string(member("job"), "job spec.job");
  s.kind = json_string(member("kind"), "job spec.kind");
  s.config = member("config");
  s.sweep = member("sweep");
  s.seed = json_uint64(member("seed"), "job spec.seed");
  return s;
}

}  // namespace fsr
