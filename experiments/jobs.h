// Job kinds of experiment suites: a name-keyed registry (tiny-cuda-nn's "otype") of the things a
// suite can run on a planted target — the learner, baselines that need no learner, analyzers.
// A kind validates its config once when the suite is loaded (defaults filled in, so the plan on
// disk is complete) and runs one job, returning a plain JSON payload. Layers above synth/ add
// their kinds with register_job_kind(); the built-in ones need no learner.
//
//   fsr::register_job_kind({.name = "gda", .description = "...", .normalize = ..., .run = ...});
//   const fsr::JobKind& k = fsr::find_job_kind("first_layer_baseline");  // InputError if unknown
//   fsr::Json payload = k.run(spec, {.dir = "out/jobs/x", .threads = 1});
//
// Built-in kinds (docs/suites.md):
//   first_layer_baseline  fit alpha, beta, rho of S_1 from the first N true hidden codes of the
//                         target (theory/first_layer.h) and score them against the planted values
//   analyze_only          score a stored model directory against the target
//   (experiments/analysis.h)
//   image_structure       per-level sparse coding and locality of real-image pyramids and the
//                         planted target (experiments/image_structure.h)
//
// The "gda" kind belongs to the learner: experiments/gda_job.h (built only with LibTorch)
// registers it, and apps/main.cpp calls that before the command line is parsed, so `fsr run` and
// its `fsr run-job` workers both see it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/json_read.h"  // require_known_keys and the typed readers kinds use

namespace fsr {

// One cell of a suite's grid, fully resolved: what a worker needs to run it, and nothing else.
struct JobSpec {
  std::string id;          // stable, file-name safe: "<target>.<job>[.<key>=<value>...].seed<k>"
  std::int64_t index = 0;  // position in the grid (target-major, then job, sweep, seed)
  std::string target_name;
  Json target = Json::object();  // normalised target config (synth/config.h to_json)
  std::string job_name;          // the suite's name for this job entry
  std::string kind;              // registered job kind
  Json config = Json::object();  // normalised kind config (size overrides and sweep applied)
  Json sweep = Json::object();   // the swept keys and their values for this cell
  std::uint64_t seed = 0;
};
Json to_json(const JobSpec& spec);
JobSpec job_spec_from_json(const Json& json);  // InputError naming the broken field

// What the runner gives a running job.
struct JobContext {
  // The job's own directory: result.json is written there last (the completion marker); a kind
  // may keep artifacts (models) and checkpoints there. It survives an interruption, so a kind
  // that checkpoints resumes from what it finds.
  std::filesystem::path dir;
  int threads = 1;        // this job's share of the machine's threads
  bool resuming = false;  // dir held files of an earlier, unfinished attempt
};

struct JobKind {
  std::string name;
  std::string description;
  // Validates a config (`field` prefixes messages: "jobs[0].config") and returns it with every
  // default filled in and relative paths resolved against `base_dir` (the suite file's folder).
  // Unknown keys are an InputError naming them. Must accept its own output unchanged.
  std::function<Json(const Json& config, const std::string& field,
                     const std::filesystem::path& base_dir)>
      normalize;
  // Runs one job. Returns the payload stored under "result" in the job's result.json; throwing
  // records the job as failed (the suite goes on). A diverged run is a result: return it with
  // its own status field.
  std::function<Json(const JobSpec& spec, const JobContext& context)> run;
};

// Adds (or replaces, for the same name) a kind. Thread-safe; call before running suites.
void register_job_kind(JobKind kind);
// InputError "<field> = <name>: unknown job kind; known: a, b, c" when absent.
const JobKind& find_job_kind(const std::string& name, const std::string& field = "kind");
std::vector<std::string> job_kind_names();  // sorted

}  // namespace fsr
