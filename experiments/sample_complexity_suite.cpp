// Sample-complexity suites: parsing, validation at both sizes, loading (sample_complexity.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/json_read.h"
#include "core/validate.h"
#include "experiments/jobs.h"
#include "experiments/sample_complexity.h"
#include "experiments/sample_complexity_detail.h"
#include "experiments/suite.h"
#include "synth/config.h"

namespace fsr {
namespace fs = std::filesystem;

namespace sample_complexity_detail {

Json job_config_for(const ComplexityJob& job, const ComplexityPoint& point,
                    const std::string& samples_key, std::int64_t n) {
  Json config = job.config;
  config.merge_patch(point.config);
  config[dotted_pointer(samples_key)] = n;
  return config;
}

}  // namespace sample_complexity_detail

namespace {

using sample_complexity_detail::job_config_for;

const std::vector<std::string> kBodyKeys = {
    "description", "target", "points", "jobs",   "error", "error_transform", "samples_key",
    "dimension",   "eps",    "seeds",  "search", "fit",   "curve",           "steps_path"};
const std::vector<std::string> kDimensions = {"patch_dim", "channels", "first_layer_units"};
const std::vector<std::string> kReferences = {"truncated_moment", "sgda_one_layer"};

// ---- Suite parsing ------------------------------------------------------------------------------

// The dimension the fits use, from the point's target.
double dimension_of(const TargetConfig& t, const std::string& dimension) {
  if (dimension == "channels") return t.channels[0];
  if (dimension == "first_layer_units") return t.first_layer_units();
  return t.patch_dim();
}

SampleComplexitySuite parse_body(const Json& j, const fs::path& base_dir) {
  require_known_keys(j, "suite", kBodyKeys);
  SampleComplexitySuite s;
  s.description = read_string(j, "description", "suite", "", true);
  s.error_path = read_string(j, "error", "suite", s.error_path);
  s.samples_key = read_string(j, "samples_key", "suite", s.samples_key);
  s.error_transform = read_string(j, "error_transform", "suite", s.error_transform);
  if (s.error_transform != "identity" && s.error_transform != "one_minus") {
    fail_field("error_transform", s.error_transform, "must be one of identity, one_minus");
  }
  s.dimension = read_string(j, "dimension", "suite", s.dimension);
  if (std::find(kDimensions.begin(), kDimensions.end(), s.dimension) == kDimensions.end()) {
    fail_field("dimension", s.dimension, "must be one of " + join_names(kDimensions));
  }
  s.steps_path = read_string(j, "steps_path", "suite", "", true);

  // Base target: inline or a path relative to the suite file.
  if (!j.contains("target")) fail_field("target", "(missing)", "is required (config or path)");
  Json base_target;
  fs::path target_dir = base_dir;
  if (j["target"].is_string()) {
    const fs::path p = base_dir / j["target"].get<std::string>();
    base_target = read_json(p);
    target_dir = p.parent_path();
  } else if (j["target"].is_object()) {
    base_target = j["target"];
  } else {
    fail_field("target", j["target"].dump(), "must be a target config object or the path of one");
  }

  // Search grid and success rule.
  const Json search = read_object(j, "search", "suite");
  require_known_keys(search, "search",
                     {"n_min", "n_max", "steps_per_doubling", "success_fraction"});
  s.search.n_min = read_int(search, "n_min", "search", s.search.n_min, 2, std::int64_t{1} << 40);
  s.search.n_max =
      read_int(search, "n_max", "search", s.search.n_max, s.search.n_min, std::int64_t{1} << 40);
  s.search.steps_per_doubling =
      static_cast<int>(read_int(search, "steps_per_doubling", "search", 4, 1, 64));
  s.search.success_fraction = read_number(search, "success_fraction", "search", 0.8);
  require_in_range("search.success_fraction", s.search.success_fraction, 0.0, 1.0, false, true);
  if (double(s.search.n_min) * (std::exp2(1.0 / s.search.steps_per_doubling) - 1.0) < 1.0) {
    fail_field("search.n_min", s.search.n_min,
               "too small for steps_per_doubling = " + std::to_string(s.search.steps_per_doubling) +
                   ": neighbouring grid sizes n_min 2^(k/R) must differ by at least 1");
  }

  const Json fit = read_object(j, "fit", "suite");
  require_known_keys(fit, "fit", {"bootstrap_resamples", "level", "seed"});
  s.fit.bootstrap_resamples =
      static_cast<int>(read_int(fit, "bootstrap_resamples", "fit", 1000, 0, 100000));
  s.fit.level = read_number(fit, "level", "fit", 0.95);
  require_in_range("fit.level", s.fit.level, 0.0, 1.0);
  s.fit.seed = static_cast<std::uint64_t>(
      read_int(fit, "seed", "fit", 1, 0, std::numeric_limits<std::int64_t>::max()));

  const Json curve = read_object(j, "curve", "suite");
  require_known_keys(curve, "curve", {"samples", "min_samples"});
  if (curve.contains("samples")) {
    const Json& v = curve["samples"];
    if (!v.is_array()) fail_field("curve.samples", v.dump(), "must be a list of sample sizes");
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string f = "curve.samples[" + std::to_string(i) + "]";
      if (!v[i].is_number_integer()) fail_field(f, v[i].dump(), "must be an integer");
      require_int_in_range(f, v[i].get<std::int64_t>(), 2, std::int64_t{1} << 40);
      s.curve_samples.push_back(v[i].get<std::int64_t>());
    }
    std::sort(s.curve_samples.begin(), s.curve_samples.end());
    s.curve_samples.erase(std::unique(s.curve_samples.begin(), s.curve_samples.end()),
                          s.curve_samples.end());
  }
  s.curve_min_samples = read_int(curve, "min_samples", "curve", 0, 0, std::int64_t{1} << 40);

  // Accuracies: positive, distinct; searched from the largest down.
  const Json& eps = read_list(j, "eps", "");
  for (std::size_t i = 0; i < eps.size(); ++i) {
    const std::string f = "eps[" + std::to_string(i) + "]";
    if (!eps[i].is_number()) fail_field(f, eps[i].dump(), "must be a number");
    require_positive(f, eps[i].get<double>());
    require_finite(f, eps[i].get<double>());
    if (std::find(s.eps.begin(), s.eps.end(), eps[i].get<double>()) != s.eps.end()) {
      fail_field(f, eps[i].get<double>(), "appears twice");
    }
    s.eps.push_back(eps[i].get<double>());
  }
  std::sort(s.eps.begin(), s.eps.end(), std::greater<>());

  const Json& seeds = read_list(j, "seeds", "");
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const std::string f = "seeds[" + std::to_string(i) + "]";
    if (!seeds[i].is_number_integer() ||
        (!seeds[i].is_number_unsigned() && seeds[i].get<std::int64_t>() < 0)) {
      fail_field(f, seeds[i].dump(), "must be an integer >= 0");
    }
    const std::uint64_t seed = seeds[i].get<std::uint64_t>();
    if (std::find(s.seeds.begin(), s.seeds.end(), seed) != s.seeds.end()) {
      fail_field(f, seed, "appears twice");
    }
    s.seeds.push_back(seed);
  }

  // Dimension points.
  std::set<std::string> names;
  const Json& points = read_list(j, "points", "");
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::string f = "points[" + std::to_string(i) + "]";
    require_known_keys(points[i], f, {"name", "target", "config"});
    ComplexityPoint p;
    if (!points[i].contains("name")) fail_field(f + ".name", "(missing)", "is required");
    require_name(f + ".name", points[i]["name"]);
    p.name = points[i]["name"].get<std::string>();
    if (!names.insert(p.name).second) fail_field(f + ".name", p.name, "appears twice");
    Json target = base_target;
    target.merge_patch(read_object(points[i], "target", f));
    p.config = read_object(points[i], "config", f);
    TargetConfig tc;
    try {
      tc = parse_target_config(target, target_dir);
    } catch (const InputError& e) {
      throw InputError(f + ".target (" + p.name + "): " + e.what());
    }
    p.target = to_json(tc);
    p.d = dimension_of(tc, s.dimension);
    p.patch_dim = tc.patch_dim();
    p.channels = tc.channels[0];
    p.first_layer_units = tc.first_layer_units();
    p.active = tc.active[0];
    s.points.push_back(std::move(p));
  }

  // Jobs: any registered kind. Each point's config is normalised now so that a bad key fails here.
  names.clear();
  const Json& jobs = read_list(j, "jobs", "");
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const std::string f = "jobs[" + std::to_string(i) + "]";
    require_known_keys(jobs[i], f, {"name", "kind", "config", "references"});
    ComplexityJob job;
    if (!jobs[i].contains("name")) fail_field(f + ".name", "(missing)", "is required");
    require_name(f + ".name", jobs[i]["name"]);
    job.name = jobs[i]["name"].get<std::string>();
    if (!names.insert(job.name).second) fail_field(f + ".name", job.name, "appears twice");
    if (!jobs[i].contains("kind")) fail_field(f + ".kind", "(missing)", "is required");
    job.kind = read_string(jobs[i], "kind", f, "");
    const JobKind& kind = find_job_kind(job.kind, f + ".kind");
    if (jobs[i].contains("config")) {
      const Json& c = jobs[i]["config"];
      if (c.is_string()) {
        job.config = read_json(base_dir / c.get<std::string>());
      } else if (c.is_object()) {
        job.config = c;
      } else {
        fail_field(f + ".config", c.dump(), "must be an object or the path of a JSON file");
      }
    }
    if (jobs[i].contains("references")) {
      const Json& r = jobs[i]["references"];
      if (!r.is_array()) fail_field(f + ".references", r.dump(), "must be a list of names");
      for (std::size_t k = 0; k < r.size(); ++k) {
        const std::string g = f + ".references[" + std::to_string(k) + "]";
        if (!r[k].is_string() || std::find(kReferences.begin(), kReferences.end(),
                                           r[k].get<std::string>()) == kReferences.end()) {
          fail_field(g, r[k].dump(), "must be one of " + join_names(kReferences));
        }
        job.references.push_back(r[k].get<std::string>());
      }
    } else {
      job.references = kReferences;
    }
    // truncated_moment is the error of Gaussian truncated statistics (N = eps^-2 / Q(t), Q the
    // normal tail): it says nothing about a point whose latents are not Gaussian.
    if (std::find(job.references.begin(), job.references.end(), "truncated_moment") !=
        job.references.end()) {
      for (const ComplexityPoint& p : s.points) {
        const Json& fl = p.target["first_layer"];
        if (fl.is_object() && fl.contains("noise")) {
          fail_field(f + ".references", "truncated_moment",
                     "is the bound for Gaussian latents, and point " + p.name +
                         " has first_layer.noise = " + fl["noise"].get<std::string>() +
                         "; list the references without it");
        }
      }
    }
    for (const ComplexityPoint& p : s.points) {
      const std::string g = f + ".config (" + job.name + " at " + p.name + ")";
      const Json normalized =
          kind.normalize(job_config_for(job, p, s.samples_key, s.search.n_min), g, base_dir);
      const Json n = json_at_path(normalized, s.samples_key);
      if (!n.is_number_integer() || n.get<std::int64_t>() != s.search.n_min) {
        fail_field("samples_key", s.samples_key,
                   "is not the training-set size of job kind " + job.kind +
                       " (its normalised config does not keep the value set there)");
      }
    }
    s.jobs.push_back(std::move(job));
  }
  return s;
}

Json normalized_json(const SampleComplexitySuite& s) {
  Json points = Json::array(), jobs = Json::array();
  for (const ComplexityPoint& p : s.points) {
    points.push_back({{"name", p.name},
                      {"target", p.target},
                      {"config", p.config},
                      {"d", p.d},
                      {"patch_dim", p.patch_dim},
                      {"channels", p.channels},
                      {"first_layer_units", p.first_layer_units},
                      {"active", p.active}});
  }
  for (const ComplexityJob& job : s.jobs) {
    jobs.push_back({{"name", job.name},
                    {"kind", job.kind},
                    {"config", job.config},
                    {"references", job.references}});
  }
  return Json{{"suite", s.name},
              {"description", s.description},
              {"size", s.size},
              {"size_description", s.size_description},
              {"expected_seconds", s.expected_seconds},
              {"error", s.error_path},
              {"error_transform", s.error_transform},
              {"samples_key", s.samples_key},
              {"dimension", s.dimension},
              {"eps", s.eps},
              {"seeds", s.seeds},
              {"search",
               {{"n_min", s.search.n_min},
                {"n_max", s.search.n_max},
                {"steps_per_doubling", s.search.steps_per_doubling},
                {"success_fraction", s.search.success_fraction}}},
              {"fit",
               {{"bootstrap_resamples", s.fit.bootstrap_resamples},
                {"level", s.fit.level},
                {"seed", s.fit.seed}}},
              {"curve", {{"samples", s.curve_samples}, {"min_samples", s.curve_min_samples}}},
              {"steps_path", s.steps_path},
              {"points", points},
              {"jobs", jobs}};
}

}  // namespace

// ---- Suite loading ------------------------------------------------------------------------------

SampleComplexitySuite parse_sample_complexity_suite(const Json& json, const std::string& size,
                                                    const fs::path& base_dir) {
  std::vector<std::string> top = kBodyKeys;
  top.push_back("suite");
  top.push_back("sizes");
  require_known_keys(json, "suite", top);
  if (!json.contains("suite")) fail_field("suite.suite", "(missing)", "is required (the name)");
  require_name("suite.suite", json["suite"]);
  if (std::find(kSuiteSizes.begin(), kSuiteSizes.end(), size) == kSuiteSizes.end()) {
    fail_field("--size", size, "must be ci or paper");
  }
  if (!json.contains("sizes")) fail_field("suite.sizes", "(missing)", "is required: {ci, paper}");
  require_known_keys(json["sizes"], "sizes", kSuiteSizes);
  Json body = json;
  body.erase("suite");
  body.erase("sizes");
  std::vector<std::string> size_keys = kBodyKeys;
  size_keys.push_back("expected_seconds");
  std::optional<SampleComplexitySuite> chosen;
  for (const std::string& sz : kSuiteSizes) {
    const std::string f = "sizes." + sz;
    if (!json["sizes"].contains(sz)) fail_field(f, "(missing)", "is required");
    Json patch = json["sizes"][sz];
    require_known_keys(patch, f, size_keys);
    const std::string size_description = read_string(patch, "description", f, "", true);
    const double expected = read_number(patch, "expected_seconds", f, 0.0);
    require_nonnegative(f + ".expected_seconds", expected);
    patch.erase("description");
    patch.erase("expected_seconds");
    Json merged = body;
    merged.merge_patch(patch);  // objects merge, lists and values replace (RFC 7386)
    SampleComplexitySuite s;
    try {
      s = parse_body(merged, base_dir);
    } catch (const InputError& e) {
      throw InputError("size " + sz + ": " + e.what());
    }
    s.name = json["suite"].get<std::string>();
    s.base_dir = base_dir;
    s.size = sz;
    s.size_description = size_description;
    s.expected_seconds = expected;
    if (sz == size) chosen = std::move(s);
  }
  chosen->normalized = normalized_json(*chosen);
  return *chosen;
}

SampleComplexitySuite load_sample_complexity_suite(const fs::path& file, const std::string& size) {
  if (fs::is_directory(file))
    fail_field("suite", file.string(), "is a directory, not a suite file");
  SampleComplexitySuite s =
      parse_sample_complexity_suite(read_json(file), size, file.parent_path());
  s.source = fs::absolute(file).lexically_normal();
  s.normalized["source"] = s.source.string();
  return s;
}

}  // namespace fsr
