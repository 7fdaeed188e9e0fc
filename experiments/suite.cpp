#include "experiments/suite.h"

#include <algorithm>
#include <set>

#include "core/json_read.h"
#include "core/validate.h"
#include "synth/config.h"
#include "synth/image_pyramid.h"

namespace fsr {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSuiteKeys = {"suite", "description", "targets", "jobs",
                                             "seeds", "record",      "sizes"};
const std::vector<std::string> kJobKeys = {"name", "kind", "config", "sweep"};
const std::vector<std::string> kSizeKeys = {"description", "seeds",  "targets",
                                            "jobs",        "config", "job_overrides"};
const std::vector<std::string> kOverrideKeys = {"config", "sweep"};

std::vector<std::uint64_t> parse_seeds(const Json& v, const std::string& field) {
  if (!v.is_array() || v.empty()) fail_field(field, v.dump(), "must be a non-empty list of seeds");
  std::vector<std::uint64_t> seeds;
  std::set<std::uint64_t> seen;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    if (!v[i].is_number_integer() || (!v[i].is_number_unsigned() && v[i].get<std::int64_t>() < 0)) {
      fail_field(f, v[i].dump(), "must be an integer >= 0");
    }
    const std::uint64_t s = v[i].get<std::uint64_t>();
    if (!seen.insert(s).second) fail_field(f, s, "appears twice");
    seeds.push_back(s);
  }
  return seeds;
}

std::vector<std::string> parse_names(const Json& v, const std::string& field,
                                     const std::set<std::string>& known) {
  if (!v.is_array() || v.empty()) fail_field(field, v.dump(), "must be a non-empty list of names");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    require_name(f, v[i]);
    const std::string s = v[i].get<std::string>();
    if (!known.count(s)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      fail_field(f, s, "names nothing in the suite; known: " + list);
    }
    out.push_back(s);
  }
  return out;
}

// key -> non-empty array of scalars.
void validate_sweep(const Json& sweep, const std::string& field) {
  if (!sweep.is_object()) fail_field(field, sweep.dump(), "must be an object {key: [values]}");
  for (const auto& [key, values] : sweep.items()) {
    const std::string f = field + "." + key;
    // Keys become part of job ids, hence of directory names: config key characters only.
    const bool word = std::all_of(key.begin(), key.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
    if (key.empty() || key.front() == '.' || key.back() == '.' || !word ||
        key.find("..") != std::string::npos) {
      fail_field(f, key, "must be a config key or dotted path ([A-Za-z0-9_-] names joined by '.')");
    }
    if (!values.is_array() || values.empty()) {
      fail_field(f, values.dump(), "must be a non-empty list of values");
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!values[i].is_primitive() || values[i].is_null()) {
        fail_field(f + "[" + std::to_string(i) + "]", values[i].dump(),
                   "must be a number, string or boolean");
      }
    }
  }
}

// A config given as a path is read relative to the suite's folder.
Json read_config(const Json& v, const std::string& field, const fs::path& base_dir) {
  if (v.is_string()) {
    const fs::path p = base_dir / v.get<std::string>();
    return read_json(p);
  }
  if (!v.is_object()) fail_field(field, v.dump(), "must be an object or the path of a JSON file");
  return v;
}

std::string value_label(const Json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  for (char& c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '+' ||
          c == '.')) {
      c = '_';
    }
  }
  return s;
}

}  // namespace

void require_name(const std::string& field, const Json& v) {
  if (!v.is_string()) fail_field(field, v.dump(), "must be a string");
  const std::string s = v.get<std::string>();
  const bool ok = !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (!ok) fail_field(field, s, "must be 1-64 characters of [A-Za-z0-9_-]");
}

Suite parse_suite(const Json& j, const fs::path& base_dir) {
  require_known_keys(j, "suite", kSuiteKeys);
  Suite s;
  s.base_dir = base_dir;
  if (!j.contains("suite")) fail_field("suite.suite", "(missing)", "is required (the suite name)");
  require_name("suite.suite", j["suite"]);
  s.name = j["suite"].get<std::string>();
  s.description = read_string(j, "description", "suite", "", /*allow_empty=*/true);

  // Targets: name -> inline config or path of a target config (experiments/targets/*.json).
  if (!j.contains("targets") || !j["targets"].is_object() || j["targets"].empty()) {
    fail_field("suite.targets", j.contains("targets") ? j["targets"].dump() : "(missing)",
               "must be a non-empty object {name: config or path}");
  }
  for (const auto& [name, v] : j["targets"].items()) {
    const std::string f = "targets." + name;
    require_name(f, Json(name));
    Json config;
    fs::path dir = base_dir;
    if (v.is_string()) {
      const fs::path p = base_dir / v.get<std::string>();
      config = read_json(p);
      dir = p.parent_path();
    } else if (v.is_object()) {
      config = v;
    } else {
      fail_field(f, v.dump(), "must be a target config object or the path of one");
    }
    try {
      // A pyramid of photographs (synth/image_pyramid.h PyramidTarget) or a planted target.
      s.targets.push_back({name, is_pyramid_target(config)
                                     ? to_json(parse_pyramid_target(config, dir, f))
                                     : to_json(parse_target_config(config, dir))});
    } catch (const InputError& e) {
      if (is_pyramid_target(config)) throw;  // its messages name the field already
      throw InputError(f + ": " + e.what());
    }
  }

  // Jobs.
  if (!j.contains("jobs") || !j["jobs"].is_array() || j["jobs"].empty()) {
    fail_field("suite.jobs", j.contains("jobs") ? j["jobs"].dump() : "(missing)",
               "must be a non-empty list of {name, kind, config, sweep}");
  }
  std::set<std::string> job_names;
  for (std::size_t i = 0; i < j["jobs"].size(); ++i) {
    const Json& v = j["jobs"][i];
    const std::string f = "jobs[" + std::to_string(i) + "]";
    require_known_keys(v, f, kJobKeys);
    SuiteJob job;
    if (!v.contains("name")) fail_field(f + ".name", "(missing)", "is required");
    require_name(f + ".name", v["name"]);
    job.name = v["name"].get<std::string>();
    if (!job_names.insert(job.name).second) fail_field(f + ".name", job.name, "appears twice");
    if (!v.contains("kind")) fail_field(f + ".kind", "(missing)", "is required");
    job.kind = read_string(v, "kind", f, "");
    find_job_kind(job.kind, f + ".kind");
    if (v.contains("config")) job.config = read_config(v["config"], f + ".config", base_dir);
    if (v.contains("sweep")) {
      validate_sweep(v["sweep"], f + ".sweep");
      job.sweep = v["sweep"];
    }
    s.jobs.push_back(std::move(job));
  }

  if (!j.contains("seeds")) fail_field("suite.seeds", "(missing)", "is required");
  s.seeds = parse_seeds(j["seeds"], "seeds");

  if (j.contains("record")) {
    const Json& r = j["record"];
    if (!r.is_array()) fail_field("record", r.dump(), "must be a list of dotted result paths");
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (!r[i].is_string() || r[i].get<std::string>().empty()) {
        fail_field("record[" + std::to_string(i) + "]", r[i].dump(),
                   "must be a dotted path into a job's result (\"errors.alpha_max_relative\")");
      }
      s.record.push_back(r[i].get<std::string>());
    }
  }

  // Sizes: both required, nothing else.
  if (!j.contains("sizes")) fail_field("suite.sizes", "(missing)", "is required: {ci, paper}");
  require_known_keys(j["sizes"], "sizes", kSuiteSizes);
  std::set<std::string> target_names, all_jobs = job_names;
  for (const auto& t : s.targets) target_names.insert(t.name);
  for (const std::string& size : kSuiteSizes) {
    const std::string f = "sizes." + size;
    if (!j["sizes"].contains(size)) fail_field(f, "(missing)", "is required");
    const Json& v = j["sizes"][size];
    require_known_keys(v, f, kSizeKeys);
    SuiteSize z;
    if (v.contains("seeds")) z.seeds = parse_seeds(v["seeds"], f + ".seeds");
    if (v.contains("targets")) z.targets = parse_names(v["targets"], f + ".targets", target_names);
    if (v.contains("jobs")) z.jobs = parse_names(v["jobs"], f + ".jobs", all_jobs);
    if (v.contains("config")) {
      if (!v["config"].is_object())
        fail_field(f + ".config", v["config"].dump(), "must be an object");
      z.config = v["config"];
    }
    if (v.contains("job_overrides")) {
      const Json& o = v["job_overrides"];
      require_known_keys(o, f + ".job_overrides",
                         std::vector<std::string>(all_jobs.begin(), all_jobs.end()));
      for (const auto& [name, ov] : o.items()) {
        const std::string g = f + ".job_overrides." + name;
        require_known_keys(ov, g, kOverrideKeys);
        if (ov.contains("config") && !ov["config"].is_object()) {
          fail_field(g + ".config", ov["config"].dump(), "must be an object");
        }
        if (ov.contains("sweep")) validate_sweep(ov["sweep"], g + ".sweep");
      }
      z.job_overrides = o;
    }
    s.sizes[size] = std::move(z);
  }
  // Every size's grid must be valid now, not when a worker meets it.
  for (const std::string& size : kSuiteSizes) expand_suite(s, size);
  return s;
}

Suite load_suite(const fs::path& file) {
  if (fs::is_directory(file))
    fail_field("suite", file.string(), "is a directory, not a suite file");
  Suite s = parse_suite(read_json(file), file.parent_path());
  s.source = fs::absolute(file).lexically_normal();
  return s;
}

std::vector<JobSpec> expand_suite(const Suite& suite, const std::string& size) {
  const auto sz = suite.sizes.find(size);
  if (sz == suite.sizes.end()) fail_field("--size", size, "must be ci or paper");
  const SuiteSize& z = sz->second;
  const auto keep = [](const std::vector<std::string>& only, const std::string& name) {
    return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
  };
  const std::vector<std::uint64_t>& seeds = z.seeds.empty() ? suite.seeds : z.seeds;
  const fs::path& base_dir = suite.base_dir;

  std::vector<JobSpec> out;
  std::set<std::string> ids;
  for (const SuiteTarget& target : suite.targets) {
    if (!keep(z.targets, target.name)) continue;
    for (std::size_t ji = 0; ji < suite.jobs.size(); ++ji) {
      const SuiteJob& job = suite.jobs[ji];
      if (!keep(z.jobs, job.name)) continue;
      const JobKind& kind = find_job_kind(job.kind);
      // Only the learner reads a target that has no planted generator (it trains on the pyramid's
      // first train_samples); every other kind needs a planted target.
      if (is_pyramid_target(target.config) && job.kind != "gda") {
        fail_field("targets." + target.name + ".kind", kPyramidTargetKind,
                   "only \"gda\" jobs can run on an image-pyramid target; job " + job.name +
                       " is \"" + job.kind + "\"");
      }
      Json config = job.config;
      config.merge_patch(z.config);
      Json sweep = job.sweep;
      if (z.job_overrides.contains(job.name)) {
        const Json& o = z.job_overrides[job.name];
        if (o.contains("config")) config.merge_patch(o["config"]);
        if (o.contains("sweep")) {
          for (const auto& [k, v] : o["sweep"].items()) sweep[k] = v;
        }
      }
      // Cartesian product of the sweep, keys in name order (nlohmann objects are sorted).
      std::vector<std::string> keys;
      for (const auto& [k, v] : sweep.items()) keys.push_back(k);
      std::vector<std::size_t> pos(keys.size(), 0);
      for (;;) {
        Json cell_config = config;
        Json cell = Json::object();
        std::string label;
        for (std::size_t k = 0; k < keys.size(); ++k) {
          const Json& value = sweep[keys[k]][pos[k]];
          cell[keys[k]] = value;
          cell_config[dotted_pointer(keys[k])] = value;
          label += "." + keys[k] + "=" + value_label(value);
        }
        const std::string field = "jobs[" + std::to_string(ji) + "].config (" + job.name +
                                  (label.empty() ? "" : label) + ", size " + size + ")";
        const Json normalized = kind.normalize(cell_config, field, base_dir);
        for (std::uint64_t seed : seeds) {
          JobSpec spec;
          spec.id = target.name + "." + job.name + label + ".seed" + std::to_string(seed);
          spec.index = static_cast<std::int64_t>(out.size());
          spec.target_name = target.name;
          spec.target = target.config;
          spec.job_name = job.name;
          spec.kind = job.kind;
          spec.config = normalized;
          spec.sweep = cell;
          spec.seed = seed;
          if (!ids.insert(spec.id).second) {
            fail_field("jobs[" + std::to_string(ji) + "].sweep", spec.id,
                       "two grid cells share this id (repeated sweep values?)");
          }
          out.push_back(std::move(spec));
        }
        // Odometer over the sweep positions, last key fastest.
        bool done = true;
        for (std::size_t k = keys.size(); k-- > 0;) {
          if (++pos[k] < sweep[keys[k]].size()) {
            done = false;
            break;
          }
          pos[k] = 0;
        }
        if (done) break;
      }
    }
  }
  if (out.empty()) fail_field("sizes." + size, "(empty grid)", "selects no job");
  return out;
}

}  // namespace fsr
