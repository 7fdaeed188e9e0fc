#include "experiments/runner.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "core/atomic_file.h"
#include "core/validate.h"
#include "synth/config.h"
#include "synth/image_pyramid.h"

namespace fsr {
namespace fs = std::filesystem;

namespace {

constexpr const char* kPlanFile = "plan.json";
constexpr const char* kResultFile = "result.json";  // the store's completion marker (merge copies it last)

}  // namespace

fs::path summary_file(const fs::path& out, const Shard& shard) {
  if (shard.count == 1) return out / "summary.json";
  return out / ("summary-shard-" + std::to_string(shard.index) + "-of-" +
                std::to_string(shard.count) + ".json");
}

namespace {

struct Plan {
  std::string suite, size;
  std::vector<std::string> record;
  std::vector<JobSpec> jobs;
  Json payload;  // what identifies the plan: suite, size, record, jobs
};

Json plan_payload(const Suite& suite, const std::string& size, const std::vector<JobSpec>& jobs) {
  Json list = Json::array();
  for (const JobSpec& j : jobs) list.push_back(to_json(j));
  return Json{
      {"suite", suite.name}, {"description", suite.description}, {"source", suite.source.string()},
      {"size", size},        {"record", suite.record},           {"jobs", list}};
}

// A plan's jobs with each config re-normalised by its kind and each target by its parser: a
// plan written by an earlier build lacks the fields added since, and normalising fills them in
// with their defaults, so that an output directory is "another plan" only when a value differs.
// A job whose kind is not built in (e.g. gda without LibTorch) or that no longer parses is
// compared as stored.
Json renormalised_jobs(const Json& jobs) {
  if (!jobs.is_array()) return jobs;
  Json out = Json::array();
  for (const Json& stored : jobs) {
    Json j = stored;
    try {
      if (j.is_object() && j.contains("kind") && j.contains("config")) {
        j["config"] =
            find_job_kind(j["kind"].get<std::string>()).normalize(j["config"], "plan", {});
      }
      if (j.is_object() && j.contains("target") && j["target"].is_object()) {
        j["target"] = is_pyramid_target(j["target"])
                          ? to_json(parse_pyramid_target(j["target"], {}, "plan"))
                          : to_json(parse_target_config(j["target"]));
      }
    } catch (const std::exception&) {
      j = stored;
    }
    out.push_back(std::move(j));
  }
  return out;
}

bool same_plan(const Json& a, const Json& b) {
  if (a.value("suite", Json()) != b.value("suite", Json()) ||
      a.value("size", Json()) != b.value("size", Json()) ||
      a.value("record", Json()) != b.value("record", Json()))
    return false;
  const Json ja = a.value("jobs", Json()), jb = b.value("jobs", Json());
  return ja == jb || renormalised_jobs(ja) == renormalised_jobs(jb);
}

Plan read_plan(const fs::path& dir) {
  if (!fs::is_directory(dir)) fail_field("directory", dir.string(), "is not a readable directory");
  const fs::path p = dir / kPlanFile;
  if (!fs::exists(p)) {
    fail_field("directory", dir.string(), "is not a suite output directory (no plan.json)");
  }
  const Json doc = read_json(p);
  Plan plan;
  try {
    if (doc.value("kind", "") != "suite-plan") throw InputError("kind is not suite-plan");
    plan.suite = doc.at("suite").get<std::string>();
    plan.size = doc.at("size").get<std::string>();
    plan.record = doc.at("record").get<std::vector<std::string>>();
    for (const Json& j : doc.at("jobs")) plan.jobs.push_back(job_spec_from_json(j));
  } catch (const std::exception& e) {
    throw InputError(p.string() + ": not a valid suite plan (" + e.what() + ")");
  }
  plan.payload = doc;
  return plan;
}

std::string execute_subprocess(const std::vector<std::string>& worker, const fs::path& out,
                               const JobSpec& spec, int threads) {
  const JobStore store(out);
  const fs::path dir = store.dir(spec.id);
  store.prepare(spec.id);
  std::vector<std::string> args = worker;
  for (const std::string& a : {std::string("--out"), out.string(), std::string("--job"), spec.id,
                               std::string("--threads"), std::to_string(threads)}) {
    args.push_back(a);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = (dir / "worker.log").string();
  const pid_t parent = getpid();
  const Stopwatch clock;

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls here. The worker dies with the runner (kill -9 of the runner
    // must not leave workers writing into the directory behind a re-run's back).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  }
  if (const auto doc = store.read(spec.id)) return doc->value("status", kStatusCrashed);
  std::string why;
  if (WIFSIGNALED(wstatus)) {
    why = "worker killed by signal " + std::to_string(WTERMSIG(wstatus));
  } else {
    why = "worker exited with code " + std::to_string(WEXITSTATUS(wstatus)) + " without a result";
  }
  store.write(spec, kStatusCrashed, why + " (see " + log + ")", clock.seconds(), nullptr, threads);
  return kStatusCrashed;
}

JobRecord make_record(const JobSpec& spec, const std::optional<Json>& doc,
                      const std::vector<std::string>& record) {
  JobRecord r;
  r.spec = spec;
  if (!doc) return r;
  r.status = doc->value("status", kStatusCrashed);
  r.error = doc->value("error", "");
  r.seconds = doc->value("seconds", 0.0);
  const Json& result = doc->contains("result") ? (*doc)["result"] : Json();
  for (const std::string& path : record) r.values[path] = json_at_path(result, path);
  return r;
}

void fill_missing(SuiteSummary& s) {
  s.missing.clear();
  for (const JobRecord& r : s.jobs) {
    if (r.status != kStatusOk) s.missing.push_back(r.spec.id);
  }
}

void write_summary(const fs::path& path, const SuiteSummary& s, const Json& config) {
  RunInfo run{.config = config};
  run.wall_seconds = s.seconds;
  write_json_atomic(path, make_document("suite-summary", to_json(s), run));
}

bool strip_key(const std::string& k) {
  return k == "manifest" || k == "seconds" ||
         (k.size() > 8 && k.compare(k.size() - 8, 8, "_seconds") == 0);
}

}  // namespace

std::string Shard::to_string() const { return std::to_string(index) + "/" + std::to_string(count); }

Shard parse_shard(const std::string& spec) {
  const std::size_t slash = spec.find('/');
  const auto parse = [&](std::string_view s, int& v) {
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
  };
  Shard s;
  if (slash == std::string::npos || !parse(std::string_view(spec).substr(0, slash), s.index) ||
      !parse(std::string_view(spec).substr(slash + 1), s.count)) {
    fail_field("--shard", spec, "must be i/n with integers 1 <= i <= n (e.g. 1/4)");
  }
  if (s.count < 1 || s.index < 1 || s.index > s.count) {
    fail_field("--shard", spec, "must be i/n with 1 <= i <= n (shards are numbered from 1)");
  }
  return s;
}

bool selected_by(const std::vector<std::string>& only, const std::string& id) {
  if (only.empty()) return true;
  return std::any_of(only.begin(), only.end(), [&](const std::string& pattern) {
    return fnmatch(pattern.c_str(), id.c_str(), 0) == 0;
  });
}

void validate_only(const std::vector<std::string>& only, const std::vector<JobSpec>& specs) {
  for (const std::string& pattern : only) {
    if (pattern.empty()) fail_field("--only", "(empty)", "must be a glob pattern on job ids");
    const bool any = std::any_of(specs.begin(), specs.end(), [&](const JobSpec& s) {
      return fnmatch(pattern.c_str(), s.id.c_str(), 0) == 0;
    });
    if (!any) {
      fail_field("--only", pattern,
                 "matches no job id of the grid (ids are <target>.<job>[.<key>=<value>...].seed<k>;"
                 " fsr run --dry-run lists them)");
    }
  }
}

bool SuiteSummary::selected_complete() const {
  return std::all_of(jobs.begin(), jobs.end(), [&](const JobRecord& r) {
    return r.status == kStatusOk || !selected_by(only, r.spec.id);
  });
}

std::int64_t SuiteSummary::count(const std::string& status) const {
  return std::count_if(jobs.begin(), jobs.end(),
                       [&](const JobRecord& r) { return r.status == status; });
}

Json to_json(const SuiteSummary& s) {
  Json jobs = Json::array();
  for (const JobRecord& r : s.jobs) {
    Json j{{"id", r.spec.id},        {"index", r.spec.index}, {"target", r.spec.target_name},
           {"job", r.spec.job_name}, {"kind", r.spec.kind},   {"sweep", r.spec.sweep},
           {"seed", r.spec.seed},    {"status", r.status},    {"seconds", r.seconds},
           {"values", r.values}};
    if (!r.error.empty()) j["error"] = r.error;
    jobs.push_back(std::move(j));
  }
  return Json{{"suite", s.suite},
              {"size", s.size},
              {"shard", s.shard.to_string()},
              {"only", s.only},
              {"jobs_total", s.jobs_total},
              {"jobs_in_scope", static_cast<std::int64_t>(s.jobs.size())},
              {"complete", s.complete()},
              {"counts",
               {{"ok", s.count(kStatusOk)},
                {"failed", s.count(kStatusFailed)},
                {"crashed", s.count(kStatusCrashed)},
                {"missing", s.count(kStatusMissing)}}},
              {"ran", s.ran},
              {"skipped", s.skipped},
              {"missing", s.missing},
              {"conflicts", s.conflicts},
              {"merged_from", s.merged_from},
              {"record", s.record},
              {"jobs", jobs},
              {"seconds", s.seconds}};
}

SuiteSummary run_suite(const Suite& suite, const RunOptions& o) {
  const Stopwatch clock;
  require_int_in_range("--jobs", o.jobs, 1, 1024);
  require_int_in_range("--threads", o.threads, 0, 4096);
  if (o.shard.count < 1 || o.shard.index < 1 || o.shard.index > o.shard.count) {
    fail_field("--shard", o.shard.to_string(), "must be i/n with 1 <= i <= n");
  }
  if (o.out.empty()) fail_field("--out", "(empty)", "is required");
  const JobStore store(o.out);
  const std::vector<JobSpec> specs = expand_suite(suite, o.size);
  validate_only(o.only, specs);
  const Json payload = plan_payload(suite, o.size, specs);

  // The plan: written once; a directory that holds another plan is refused before any job runs.
  ensure_output_directory(o.out, "--out");
  const fs::path plan_file = o.out / kPlanFile;
  if (fs::exists(plan_file)) {
    const Json existing = read_json(plan_file);
    if (!same_plan(existing, payload)) {
      fail_field("--out", o.out.string(),
                 "holds results of another plan (suite " + existing.value("suite", "?") +
                     ", size " + existing.value("size", "?") +
                     "; the grid or the configs differ): use a fresh directory");
    }
  } else {
    write_json_atomic(
        plan_file,
        make_document("suite-plan", payload,
                      RunInfo{.config = {{"suite", suite.source.string()}, {"size", o.size}}}));
  }

  SuiteSummary summary;
  summary.suite = suite.name;
  summary.size = o.size;
  summary.shard = o.shard;
  summary.only = o.only;
  summary.record = suite.record;
  summary.jobs_total = static_cast<std::int64_t>(specs.size());
  std::vector<const JobSpec*> pending;
  for (const JobSpec& s : specs) {
    if (!o.shard.contains(s.index) || !selected_by(o.only, s.id)) continue;
    if (JobStore::ok(store.read(s.id))) {
      ++summary.skipped;
    } else {
      pending.push_back(&s);
    }
  }

  const int hardware = std::max(1u, std::thread::hardware_concurrency());
  const int total_threads = o.threads > 0 ? o.threads : hardware;
  const int workers = std::max<int>(1, std::min<std::size_t>(o.jobs, pending.size()));
  const int per_job = std::max(1, total_threads / workers);
  if (o.log) {
    o.log("suite " + suite.name + " (" + o.size + ", shard " + o.shard.to_string() +
          "): " + std::to_string(pending.size()) + " job(s) to run, " +
          std::to_string(summary.skipped) + " already finished; " + std::to_string(workers) +
          " side by side, " + std::to_string(per_job) + " thread(s) each");
  }

  std::atomic<std::size_t> next{0};
  std::atomic<std::int64_t> done{0};
  std::mutex mutex;
  std::exception_ptr error;
  const auto work = [&] {
    for (;;) {
      const std::size_t k = next.fetch_add(1);
      if (k >= pending.size()) return;
      const JobSpec& spec = *pending[k];
      try {
        const Stopwatch job_clock;
        const std::string status =
            o.worker.empty() ? store.run(spec, per_job).value("status", kStatusCrashed)
                             : execute_subprocess(o.worker, o.out, spec, per_job);
        const std::int64_t n = ++done;
        if (o.log) {
          char secs[32];
          std::snprintf(secs, sizeof secs, "%.2f", job_clock.seconds());
          std::lock_guard lock(mutex);
          o.log("[" + std::to_string(n) + "/" + std::to_string(pending.size()) + "] " + spec.id +
                ": " + status + " (" + secs + " s)");
        }
      } catch (...) {  // I/O failure of the runner itself: stop handing out jobs
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
        next = pending.size();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  summary.ran = done;

  for (const JobSpec& s : specs) {
    if (!o.shard.contains(s.index)) continue;
    summary.jobs.push_back(make_record(s, store.read(s.id), suite.record));
  }
  fill_missing(summary);
  summary.seconds = clock.seconds();
  write_summary(summary_file(o.out, o.shard), summary,
                Json{{"suite", suite.source.string()},
                     {"size", o.size},
                     {"out", o.out.string()},
                     {"jobs", o.jobs},
                     {"threads", total_threads},
                     {"shard", o.shard.to_string()}});
  return summary;
}

std::string run_planned_job(const fs::path& out, const std::string& id, int threads) {
  const Plan plan = read_plan(out);
  const auto it = std::find_if(plan.jobs.begin(), plan.jobs.end(),
                               [&](const JobSpec& s) { return s.id == id; });
  if (it == plan.jobs.end()) {
    fail_field("--job", id, "is not a job of " + (out / kPlanFile).string());
  }
  require_int_in_range("--threads", threads, 1, 4096);
  return JobStore(out).run(*it, threads).value("status", kStatusCrashed);
}

SuiteSummary merge_runs(const std::vector<fs::path>& dirs, const fs::path& out) {
  const Stopwatch clock;
  if (dirs.empty()) fail_field("directories", "(none)", "give at least one output directory");
  std::vector<Plan> plans;
  for (const fs::path& d : dirs) {
    plans.push_back(read_plan(d));
    if (!same_plan(plans.front().payload, plans.back().payload)) {
      fail_field("directory", d.string(),
                 "holds a different plan from " + dirs.front().string() + " (suite " +
                     plans.back().suite + " size " + plans.back().size + " vs suite " +
                     plans.front().suite + " size " + plans.front().size +
                     "): only outputs of one suite and size can be merged");
    }
  }
  const Plan& plan = plans.front();
  if (!out.empty()) {
    ensure_output_directory(out, "--out");
    const fs::path plan_file = out / kPlanFile;
    if (fs::exists(plan_file)) {
      if (!same_plan(read_json(plan_file), plan.payload)) {
        fail_field("--out", out.string(), "holds results of another plan: use a fresh directory");
      }
    } else {
      write_json_atomic(plan_file, plan.payload);
    }
  }

  SuiteSummary summary;
  summary.suite = plan.suite;
  summary.size = plan.size;
  summary.record = plan.record;
  summary.jobs_total = static_cast<std::int64_t>(plan.jobs.size());
  for (const fs::path& d : dirs) summary.merged_from.push_back(fs::absolute(d).string());
  for (const JobSpec& spec : plan.jobs) {
    std::optional<Json> chosen;
    std::size_t chosen_dir = 0;
    bool conflict = false;
    for (std::size_t k = 0; k < dirs.size(); ++k) {
      const std::optional<Json> doc = JobStore(dirs[k]).read(spec.id);
      if (!doc) continue;
      if (!chosen || (!JobStore::ok(chosen) && JobStore::ok(doc))) {
        chosen = doc;
        chosen_dir = k;
      } else if (JobStore::ok(chosen) && JobStore::ok(doc) &&
                 without_timings((*doc)["result"]) != without_timings((*chosen)["result"])) {
        conflict = true;
      }
    }
    if (conflict) summary.conflicts.push_back(spec.id);
    if (chosen && !out.empty()) {
      const fs::path src = JobStore(dirs[chosen_dir]).dir(spec.id), dst = JobStore(out).dir(spec.id);
      std::error_code ec;
      if (!fs::exists(dst) || !fs::equivalent(src, dst, ec)) {
        // Everything but the result first, the result (the completion marker) last and atomically.
        fs::create_directories(dst);
        for (const auto& e : fs::directory_iterator(src)) {
          if (e.path().filename() == kResultFile) continue;
          fs::copy(e.path(), dst / e.path().filename(),
                   fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        }
        write_file_atomic(dst / kResultFile, read_file(src / kResultFile));
      }
    }
    summary.jobs.push_back(make_record(spec, chosen, plan.record));
  }
  fill_missing(summary);
  summary.seconds = clock.seconds();
  if (!out.empty()) {
    write_summary(out / "summary.json", summary, Json{{"merged_from", summary.merged_from}});
  }
  return summary;
}

Json without_timings(const Json& value) {
  if (value.is_object()) {
    Json out = Json::object();
    for (const auto& [k, v] : value.items()) {
      if (!strip_key(k)) out[k] = without_timings(v);
    }
    return out;
  }
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& v : value) out.push_back(without_timings(v));
    return out;
  }
  return value;
}

}  // namespace fsr
