// Experiment suites: a JSON file under experiments/suites/ that
// names a grid of planted targets x jobs (a registered job kind with its config, optionally swept
// over values) x seeds, what each job's summary row records, and two sizes — "ci" (minutes on a
// small CPU) and "paper" (the real figure) — that override seeds, subsets and configs. Parsed and
// validated once at the boundary: an unknown key anywhere is an InputError naming its path.
// Format: docs/suites.md.
//
//   fsr::Suite suite = fsr::load_suite("experiments/suites/first_layer_recovery.json");
//   std::vector<fsr::JobSpec> jobs = fsr::expand_suite(suite, "ci");   // the grid, in order
//   // jobs[k].index == k; jobs[k].id is stable (names, sweep values and seed, not positions)
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "experiments/jobs.h"

namespace fsr {

struct SuiteTarget {
  std::string name;
  Json config;  // normalised target config (synth/config.h to_json), validated
};

struct SuiteJob {
  std::string name;
  std::string kind;
  Json config = Json::object();  // as written (a path was read); normalised per grid cell
  Json sweep = Json::object();   // key (dotted path into config) -> non-empty array of scalars
};

// What a size changes. Empty lists keep the suite's; patches are JSON merge patches (RFC 7386).
struct SuiteSize {
  std::vector<std::uint64_t> seeds;
  std::vector<std::string> targets;  // keep only these targets
  std::vector<std::string> jobs;     // keep only these jobs
  Json config = Json::object();      // patch applied to every job's config
  // job name -> {"config": patch, "sweep": {key: values}} (a sweep entry replaces the suite's)
  Json job_overrides = Json::object();
};

struct Suite {
  std::string name;
  std::string description;
  std::filesystem::path source;    // the suite file ("" when parsed from memory)
  std::filesystem::path base_dir;  // relative paths in job configs resolve against it
  std::vector<SuiteTarget> targets;
  std::vector<SuiteJob> jobs;
  std::vector<std::uint64_t> seeds;
  std::vector<std::string> record;  // dotted paths into a job's result, copied into the summary
  std::map<std::string, SuiteSize> sizes;  // exactly "ci" and "paper"
};

inline const std::vector<std::string> kSuiteSizes = {"ci", "paper"};

// `base_dir` resolves relative target and config paths (the folder of the suite file).
Suite parse_suite(const Json& json, const std::filesystem::path& base_dir = {});
Suite load_suite(const std::filesystem::path& file);

// The grid of `size` in a fixed order — target (name order), job (file order), sweep cell (keys
// in name order, values in file order, last key fastest), seed (file order) — with each config
// normalised by its kind. Throws InputError for an unknown size or a config its kind rejects.
std::vector<JobSpec> expand_suite(const Suite& suite, const std::string& size);

// A suite, point or job name: it becomes part of file names, so 1-64 characters of
// [A-Za-z0-9_-]; otherwise an InputError naming `field`.
void require_name(const std::string& field, const Json& value);

}  // namespace fsr
