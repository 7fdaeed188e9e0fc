// fsr run | merge (and the hidden run-job worker): experiment suites on the command line
// (experiments/runner.h, docs/suites.md).
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "core/validate.h"
#include "experiments/runner.h"

namespace fsr::cli {
namespace {
namespace fs = std::filesystem;

std::string format_value_cell(const Json& v) {
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v.get<double>());
    return buf;
  }
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void print_summary(std::ostream& os, const SuiteSummary& s, const std::string& written) {
  os << "suite " << s.suite << " (size " << s.size << ", shard " << s.shard.to_string()
     << "): " << s.jobs.size() << " of " << s.jobs_total << " job(s) in scope; ok "
     << s.count(kStatusOk) << ", failed " << s.count(kStatusFailed) << ", crashed "
     << s.count(kStatusCrashed) << ", missing " << s.count(kStatusMissing) << "; ran " << s.ran
     << ", skipped " << s.skipped << " (finished earlier)\n";
  if (!s.merged_from.empty()) {
    os << "merged from " << s.merged_from.size() << " director"
       << (s.merged_from.size() == 1 ? "y" : "ies") << "\n";
  }
  constexpr std::size_t kMaxRows = 40;
  for (std::size_t k = 0; k < s.jobs.size() && k < kMaxRows; ++k) {
    const JobRecord& r = s.jobs[k];
    char secs[32];
    std::snprintf(secs, sizeof secs, "%7.2fs", r.seconds);
    os << "  " << r.spec.id << "  " << r.status << "  " << (r.status == kStatusMissing ? "" : secs);
    for (const auto& [path, v] : r.values.items())
      os << "  " << path << "=" << format_value_cell(v);
    if (!r.error.empty()) os << "  error: " << r.error;
    os << "\n";
  }
  if (s.jobs.size() > kMaxRows) os << "  ... " << s.jobs.size() - kMaxRows << " more\n";
  if (!s.conflicts.empty()) {
    os << s.conflicts.size() << " job(s) differ between directories (first kept):";
    for (const auto& id : s.conflicts) os << " " << id;
    os << "\n";
  }
  if (!s.only.empty()) {
    os << "--only:";
    for (const auto& p : s.only) os << " " << p;
    os << " (" << (s.selected_complete() ? "every selected job finished" : "selected jobs not finished")
       << ")\n";
  }
  if (!s.missing.empty()) {
    os << s.missing.size() << " job(s) not finished:";
    for (std::size_t k = 0; k < s.missing.size() && k < 20; ++k) os << " " << s.missing[k];
    os << (s.missing.size() > 20 ? " ..." : "") << "\n";
  } else {
    os << "complete\n";
  }
  if (!written.empty()) os << "summary: " << written << "\n";
}

// `fsr run --dry-run`: what the shard would run, for a scheduler's submit script to check a suite
// before it queues anything (scripts/slurm/submit.sh).
void print_plan(const Suite& suite, const std::string& size, const Shard& shard,
                const std::vector<std::string>& only, bool as_json, const Json& config) {
  const std::vector<JobSpec> specs = expand_suite(suite, size);
  validate_only(only, specs);
  Json ids = Json::array();
  for (const JobSpec& s : specs) {
    if (shard.contains(s.index) && selected_by(only, s.id)) ids.push_back(s.id);
  }
  const Json payload{{"suite", suite.name},
                     {"size", size},
                     {"shard", shard.to_string()},
                     {"jobs_total", specs.size()},
                     {"jobs", ids}};
  print_result("run-plan", payload, as_json, config, [&](std::ostream& os) {
    os << "suite " << suite.name << " (size " << size << ", shard " << shard.to_string()
       << "): " << ids.size() << " of " << specs.size() << " jobs\n";
    for (const Json& id : ids) os << "  " << id.get<std::string>() << "\n";
  });
}

void add_run(CLI::App& app) {
  struct Args {
    std::string suite, out, size = "ci", shard = "1/1";
    std::vector<std::string> only;
    int jobs = 1, threads = 0;
    bool json = false, in_process = false, dry_run = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "run", "run an experiment suite: one result file per job, resumable, shardable");
  cmd->add_option("suite", args->suite, "suite JSON (experiments/suites/*.json)")->required();
  cmd->add_option("--out", args->out, "output directory (re-running it skips finished jobs)")
      ->required();
  cmd->add_option("--size", args->size, "ci (minutes) or paper (the real figure)")
      ->check(CLI::IsMember({"ci", "paper"}))
      ->capture_default_str();
  cmd->add_option("--jobs", args->jobs, "jobs side by side, each in its own process")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads,
                  "threads for the whole run, split between jobs (0: all cores)")
      ->capture_default_str();
  cmd->add_option("--shard", args->shard,
                  "run shard i of n (1 <= i <= n; grid positions k with k mod n = i - 1)")
      ->capture_default_str();
  cmd->add_option("--only", args->only,
                  "run only the jobs whose id matches this glob (repeatable: any of them); the "
                  "summary still lists every job");
  cmd->add_flag("--in-process", args->in_process,
                "run jobs on threads of this process (only for kinds without global state)");
  cmd->add_flag("--json", args->json, "print the summary as one JSON object");
  cmd->add_flag(
      "--dry-run", args->dry_run,
      "validate the suite (both sizes) and list this shard's jobs; run and write nothing");
  cmd->callback([args] {
    if (args->dry_run) {
      print_plan(load_suite(args->suite), args->size, parse_shard(args->shard), args->only,
                 args->json,
                 Json{{"suite", args->suite},
                      {"size", args->size},
                      {"shard", args->shard},
                      {"only", args->only}});
      return;
    }
    RunOptions o;
    o.out = args->out;
    o.size = args->size;
    o.jobs = args->jobs;
    o.threads = args->threads;
    o.shard = parse_shard(args->shard);
    o.only = args->only;
    if (!args->in_process) o.worker = {fs::read_symlink("/proc/self/exe").string(), "run-job"};
    o.log = [](const std::string& line) { std::cerr << line << std::endl; };
    const Suite suite = load_suite(args->suite);
    const SuiteSummary s = run_suite(suite, o);
    const std::string written = summary_file(o.out, o.shard).string();
    const Json config{{"suite", args->suite}, {"out", args->out},         {"size", args->size},
                      {"jobs", args->jobs},   {"threads", args->threads}, {"shard", args->shard},
                      {"only", args->only}};
    print_result("run", to_json(s), args->json, config,
                 [&](std::ostream& os) { print_summary(os, s, written); });
    // Every selected job of this shard was attempted; one that failed or crashed makes the exit
    // status 1 (jobs that --only leaves out do not).
    if (!s.selected_complete()) throw ExitStatus{1};
  });
}

// The worker of `fsr run`: one job of OUT/plan.json. Hidden from --help.
void add_run_job(CLI::App& app) {
  struct Args {
    std::string out, job;
    int threads = 1;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("run-job", "run one job of a suite plan (used by fsr run)");
  cmd->group("");
  cmd->add_option("--out", args->out, "output directory holding plan.json")->required();
  cmd->add_option("--job", args->job, "job id")->required();
  cmd->add_option("--threads", args->threads, "threads for this job")->capture_default_str();
  cmd->callback([args] { run_planned_job(args->out, args->job, args->threads); });
}

void add_merge(CLI::App& app) {
  struct Args {
    std::vector<std::string> dirs;
    std::string out;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "merge", "join output directories of one suite (shards) and list the missing jobs");
  cmd->add_option("dirs", args->dirs, "output directories of fsr run")->required();
  cmd->add_option("--out", args->out,
                  "write the merged directory here (plan, job results, summary.json)");
  cmd->add_flag("--json", args->json, "print the summary as one JSON object");
  cmd->callback([args] {
    std::vector<fs::path> dirs(args->dirs.begin(), args->dirs.end());
    const SuiteSummary s = merge_runs(dirs, args->out);
    const std::string written =
        args->out.empty() ? "" : (fs::path(args->out) / "summary.json").string();
    const Json config{{"dirs", args->dirs}, {"out", args->out}};
    print_result("merge", to_json(s), args->json, config,
                 [&](std::ostream& os) { print_summary(os, s, written); });
  });
}

}  // namespace

void register_run_commands(CLI::App& app) {
  add_run(app);
  add_run_job(app);
  add_merge(app);
}

}  // namespace fsr::cli
