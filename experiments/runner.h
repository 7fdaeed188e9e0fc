// The suite runner: runs the grid of a suite into an output directory, one result file
// per job, survives interruption (re-running skips finished jobs; a job's directory keeps what an
// interrupted attempt left, for kinds that checkpoint), runs jobs side by side, and splits a suite
// deterministically over machines (--shard i/n); merge_runs() joins shard outputs.
//
//   fsr::RunOptions o{.out = "runs/flr", .size = "ci", .jobs = 2};
//   o.worker = {"/proc/self/exe", "run-job"};            // each job in a child process
//   fsr::SuiteSummary s = fsr::run_suite(fsr::load_suite("experiments/suites/x.json"), o);
//
// Output directory (docs/suites.md):
//   plan.json                 kind "suite-plan": suite, size and every job spec of the grid
//   jobs/<id>/result.json     the job store (experiments/job_store.h), kind "suite-job": {job,
//                             status, error, seconds, result}; written atomically and last
//   jobs/<id>/worker.log      stdout+stderr of the worker process (subprocess mode)
//   summary.json              kind "suite-summary" (summary-shard-<i>-of-<n>.json for a shard)
// Several shards may share one output directory (disjoint jobs; the plan is the same).
//
// Why child processes: LibTorch's thread count is process-global, so jobs that share a process
// cannot each have their own; a crash (or the OOM killer) in one job also takes only that job.
// In-process mode (empty `worker`) runs jobs on threads of this process — for tests and for
// kinds that never touch process-global state, like the built-in baselines.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "experiments/job_store.h"
#include "experiments/jobs.h"
#include "experiments/suite.h"

namespace fsr {

// Shard i of n (1 <= i <= n) holds the grid positions k with k mod n == i - 1.
struct Shard {
  int index = 1;
  int count = 1;
  bool contains(std::int64_t grid_index) const { return grid_index % count == index - 1; }
  std::string to_string() const;  // "i/n"
};
// "i/n" with integers 1 <= i <= n; InputError naming --shard otherwise ("3/2", "0/0", "a/b").
Shard parse_shard(const std::string& spec);

struct RunOptions {
  std::filesystem::path out;
  std::string size = "ci";
  int jobs = 1;     // jobs side by side
  int threads = 0;  // threads for the whole run, split evenly; 0: hardware concurrency
  Shard shard;
  // Glob patterns (fnmatch) on job ids: when non-empty, only the shard's jobs whose id matches one
  // of them run; the summary still covers every job of the shard (the others keep whatever result
  // the directory holds, or are listed as missing). A pattern that matches no id of the grid is an
  // InputError naming --only.
  std::vector<std::string> only;
  // Command that runs one job as a child process: the runner appends
  // --out DIR --job ID --threads T. Empty: run jobs in this process.
  std::vector<std::string> worker;
  std::function<void(const std::string&)> log;  // one progress line per job (may be empty)
};

struct JobRecord {
  JobSpec spec;
  std::string status = kStatusMissing;
  std::string error;
  double seconds = 0.0;
  Json values = Json::object();  // the suite's `record` paths read from the result
};

struct SuiteSummary {
  std::string suite, size;
  Shard shard;
  std::vector<std::string> only;  // RunOptions::only of the invocation that wrote it
  std::vector<std::string> record;
  std::int64_t jobs_total = 0;         // in the plan
  std::int64_t ran = 0;                // run by this invocation
  std::int64_t skipped = 0;            // already finished
  std::vector<JobRecord> jobs;         // this shard's jobs (all of them after a merge), grid order
  std::vector<std::string> missing;    // ids without an "ok" result
  std::vector<std::string> conflicts;  // merge: ids whose results differ between directories
  std::vector<std::string> merged_from;
  double seconds = 0.0;

  std::int64_t count(const std::string& status) const;
  bool complete() const { return missing.empty(); }
  // Every job that `only` selects (all of them when it is empty) has an "ok" result.
  bool selected_complete() const;
};
Json to_json(const SuiteSummary& summary);

// Whether job id `id` is selected by the glob patterns `only` (true when `only` is empty).
bool selected_by(const std::vector<std::string>& only, const std::string& id);
// InputError naming --only for an empty pattern or one that matches no id of `specs`.
void validate_only(const std::vector<std::string>& only, const std::vector<JobSpec>& specs);

// Runs the jobs of the shard that have no "ok" result yet, then writes the summary. Bad input
// (an output directory holding another suite's plan, a bad size) is an InputError before any job
// runs. A failing or crashing job is recorded and the suite goes on.
SuiteSummary run_suite(const Suite& suite, const RunOptions& options);

// Where run_suite writes the summary: OUT/summary.json, or OUT/summary-shard-<i>-of-<n>.json.
std::filesystem::path summary_file(const std::filesystem::path& out, const Shard& shard);

// The worker's side: runs job `id` of OUT/plan.json with `threads` threads and writes its
// result.json. Returns the status written. InputError when the plan or the id is unknown.
std::string run_planned_job(const std::filesystem::path& out, const std::string& id, int threads);

// Joins output directories of the same plan (shards, or partial re-runs): for each job the first
// "ok" result in directory order. With a non-empty `out`, writes OUT/plan.json, copies each job's
// directory and writes OUT/summary.json. InputError for a directory without a plan, plans that
// differ, or an unwritable `out`.
SuiteSummary merge_runs(const std::vector<std::filesystem::path>& dirs,
                        const std::filesystem::path& out = {});

// A result with every wall-clock field ("seconds", "*_seconds", "manifest") removed, for
// comparing results across runs.
Json without_timings(const Json& value);

}  // namespace fsr
