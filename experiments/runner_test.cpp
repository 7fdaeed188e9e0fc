// The runner's fault handling: kill-and-rerun, shards + merge == unsharded, --jobs 2 == --jobs 1,
// failing and crashing jobs, bad directories. This binary is also its own worker process:
// `runner_test run-job --out DIR --job ID --threads T` runs one job (as `fsr run-job` does).
#include "experiments/runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "core/atomic_file.h"
#include "core/rng.h"
#include "core/validate.h"

namespace fsr {
namespace {
namespace fs = std::filesystem;

// Test kinds: "nap" sleeps `ms` then returns a value fixed by the seed (or throws / aborts on
// request); it shows the hook through which the learner adds its kind.
void register_test_kinds() {
  register_job_kind(JobKind{
      .name = "nap",
      .description = "test: sleep, then return a value fixed by the seed",
      .normalize =
          [](const Json& c, const std::string& field, const fs::path&) {
            require_known_keys(c, field, {"ms", "fail", "abort"});
            return Json{{"ms", c.value("ms", 10)},
                        {"fail", c.value("fail", false)},
                        {"abort", c.value("abort", false)}};
          },
      .run =
          [](const JobSpec& spec, const JobContext& ctx) {
            if (spec.config["abort"].get<bool>()) std::abort();
            std::this_thread::sleep_for(std::chrono::milliseconds(spec.config["ms"].get<int>()));
            if (spec.config["fail"].get<bool>()) throw std::runtime_error("asked to fail");
            write_file_atomic(ctx.dir / "artifact.txt", spec.id + "\n");
            return Json{{"value", mix64(spec.seed) % 1000}, {"seconds", 0.001 * ctx.threads}};
          }});
}

fs::path self_exe;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/fsr_runner_test_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

Json target_json() {
  return Json::parse(R"({"levels": 1, "grid": 2, "channels": [4], "patch": 2, "colors": 1,
    "kernel": 2, "active": [0.3], "first_layer": {"correlation": "latent", "latent_dim": 8},
    "seed": 2})");
}

Suite nap_suite(int seeds, int ms) {
  Json j = Json::parse(R"({"suite": "naps", "jobs": [{"name": "nap", "kind": "nap"}],
    "record": ["value"], "sizes": {"ci": {}, "paper": {}}})");
  j["targets"] = {{"t", target_json()}};
  j["jobs"][0]["config"] = {{"ms", ms}};
  for (int s = 0; s < seeds; ++s) j["seeds"].push_back(s);
  return parse_suite(j);
}

Suite baseline_suite() {
  Json j = Json::parse(R"({"suite": "baselines",
    "jobs": [{"name": "fit", "kind": "first_layer_baseline", "config": {"samples": 400},
              "sweep": {"method": ["moments", "mle"]}}],
    "seeds": [1, 2, 3], "record": ["errors.alpha_max_relative", "units_fitted"],
    "sizes": {"ci": {}, "paper": {}}})");
  j["targets"] = {{"corr", target_json()}, {"indep", target_json()}};
  j["targets"]["indep"]["first_layer"] = {{"correlation", "independent"}};
  return parse_suite(j);
}

// id -> result payload without wall-clock fields.
std::map<std::string, Json> results(const fs::path& out) {
  std::map<std::string, Json> r;
  if (!fs::exists(out / "jobs")) return r;
  for (const auto& e : fs::directory_iterator(out / "jobs")) {
    const fs::path f = e.path() / "result.json";
    if (!fs::exists(f)) continue;
    const Json doc = read_json(f);  // throws on a half-written file
    r[e.path().filename().string()] = {{"status", doc["status"]},
                                       {"result", without_timings(doc["result"])}};
  }
  return r;
}

RunOptions options(const fs::path& out, int jobs, bool subprocess) {
  RunOptions o;
  o.out = out;
  o.jobs = jobs;
  o.threads = 2;
  if (subprocess) o.worker = {self_exe.string(), "run-job"};
  return o;
}

TEST(Runner, RunWritesOneResultPerJobAndReRunSkipsThem) {
  TempDir dir;
  const Suite suite = baseline_suite();
  const SuiteSummary first = run_suite(suite, options(dir.path, 1, false));
  EXPECT_EQ(first.jobs_total, 12);
  EXPECT_EQ(first.ran, 12);
  EXPECT_TRUE(first.complete());
  EXPECT_EQ(first.count(kStatusOk), 12);
  EXPECT_EQ(results(dir.path).size(), 12u);
  const Json summary = read_json(dir.path / "summary.json");
  EXPECT_EQ(summary["kind"], "suite-summary");
  EXPECT_EQ(summary["jobs"][0]["values"]["units_fitted"], 16);  // h_1^2 m_1 = 2^2 * 4
  EXPECT_TRUE(summary["jobs"][0]["values"]["errors.alpha_max_relative"].is_number());

  const SuiteSummary again = run_suite(suite, options(dir.path, 2, false));
  EXPECT_EQ(again.ran, 0);
  EXPECT_EQ(again.skipped, 12);
  EXPECT_EQ(to_json(again)["jobs"], to_json(first)["jobs"]);
}

TEST(Runner, JobsSideBySideGiveTheSameResults) {
  TempDir one, two, sub;
  const Suite suite = baseline_suite();
  run_suite(suite, options(one.path, 1, false));
  run_suite(suite, options(two.path, 2, false));
  const SuiteSummary s = run_suite(suite, options(sub.path, 2, true));  // child processes
  EXPECT_EQ(s.count(kStatusOk), 12);
  const auto r1 = results(one.path);
  ASSERT_EQ(r1.size(), 12u);
  EXPECT_EQ(r1, results(two.path));
  EXPECT_EQ(r1, results(sub.path));
}

TEST(Runner, ShardsMergedEqualTheUnshardedRun) {
  TempDir whole, a, b, merged, shared;
  const Suite suite = baseline_suite();
  run_suite(suite, options(whole.path, 1, false));
  RunOptions o1 = options(a.path, 1, false), o2 = options(b.path, 1, false);
  o1.shard = parse_shard("1/2");
  o2.shard = parse_shard("2/2");
  const SuiteSummary s1 = run_suite(suite, o1);
  EXPECT_EQ(s1.jobs.size(), 6u);
  for (const JobRecord& r : s1.jobs) EXPECT_EQ(r.spec.index % 2, 0);

  // One shard alone: the merge names the other's jobs as missing.
  const SuiteSummary half = merge_runs({a.path});
  EXPECT_FALSE(half.complete());
  EXPECT_EQ(half.missing.size(), 6u);
  EXPECT_EQ(half.missing.front(), "corr.fit.method=moments.seed2");  // grid index 1

  run_suite(suite, o2);
  const SuiteSummary m = merge_runs({a.path, b.path}, merged.path);
  EXPECT_TRUE(m.complete());
  EXPECT_TRUE(m.conflicts.empty());
  EXPECT_EQ(m.jobs.size(), 12u);
  EXPECT_EQ(results(merged.path), results(whole.path));
  EXPECT_TRUE(fs::exists(merged.path / "summary.json"));
  EXPECT_EQ(to_json(m)["jobs"].size(), 12u);

  // Shards may also share one output directory.
  o1.out = o2.out = shared.path;
  run_suite(suite, o1);
  run_suite(suite, o2);
  EXPECT_TRUE(fs::exists(shared.path / "summary-shard-1-of-2.json"));
  EXPECT_TRUE(merge_runs({shared.path}).complete());
  EXPECT_EQ(results(shared.path), results(whole.path));
}

// --only: a partial run of a grid (a few cells of a paper-size map), completed later by more runs
// into the same directory; the union equals the whole run.
TEST(Runner, OnlyRunsTheSelectedJobsAndTheRestCompletesLater) {
  TempDir whole, part;
  const Suite suite = baseline_suite();
  run_suite(suite, options(whole.path, 1, false));
  RunOptions o = options(part.path, 1, false);
  o.only = {"indep.*", "corr.fit.method=mle.seed2"};
  const SuiteSummary s = run_suite(suite, o);
  EXPECT_EQ(s.ran, 7);  // 6 indep jobs + 1 corr job
  EXPECT_EQ(s.jobs.size(), 12u);  // the summary lists every job of the grid
  EXPECT_EQ(s.missing.size(), 5u);
  EXPECT_FALSE(s.complete());
  EXPECT_TRUE(s.selected_complete());
  for (const JobRecord& r : s.jobs) {
    EXPECT_EQ(r.status == kStatusOk, selected_by(o.only, r.spec.id)) << r.spec.id;
  }
  EXPECT_EQ(to_json(s)["only"], Json(o.only));
  const auto partial = results(part.path);
  ASSERT_EQ(partial.size(), 7u);
  const auto all = results(whole.path);
  for (const auto& [id, r] : partial) EXPECT_EQ(r, all.at(id)) << id;

  // The rest, by a run without --only: the finished ones are skipped.
  const SuiteSummary rest = run_suite(suite, options(part.path, 1, false));
  EXPECT_EQ(rest.ran, 5);
  EXPECT_EQ(rest.skipped, 7);
  EXPECT_TRUE(rest.complete());
  EXPECT_EQ(results(part.path), all);

  // A pattern that selects nothing is refused before anything runs, naming --only.
  TempDir fresh;
  RunOptions bad = options(fresh.path, 1, false);
  bad.only = {"d12_*"};
  try {
    run_suite(suite, bad);
    ADD_FAILURE() << "an --only matching nothing was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--only = d12_*: matches no job id"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(fresh.path / "plan.json"));
  bad.only = {""};
  EXPECT_THROW(run_suite(suite, bad), InputError);
}

TEST(Runner, FailingAndCrashingJobsAreRecordedAndRetried) {
  TempDir dir;
  Json j = Json::parse(R"({"suite": "faults", "seeds": [1],
    "jobs": [{"name": "good", "kind": "nap"}, {"name": "bad", "kind": "nap",
              "config": {"fail": true}}, {"name": "boom", "kind": "nap",
              "config": {"abort": true}}],
    "sizes": {"ci": {}, "paper": {}}})");
  j["targets"] = {{"t", target_json()}};
  const Suite suite = parse_suite(j);
  const SuiteSummary s = run_suite(suite, options(dir.path, 2, true));
  EXPECT_EQ(s.count(kStatusOk), 1);
  EXPECT_EQ(s.count(kStatusFailed), 1);
  EXPECT_EQ(s.count(kStatusCrashed), 1);
  EXPECT_EQ(s.missing.size(), 2u);
  const Json bad = read_json(dir.path / "jobs/t.bad.seed1/result.json");
  EXPECT_NE(bad["error"].get<std::string>().find("asked to fail"), std::string::npos);
  const Json boom = read_json(dir.path / "jobs/t.boom.seed1/result.json");
  EXPECT_NE(boom["error"].get<std::string>().find("signal"), std::string::npos);
  // A re-run retries the two, not the finished one.
  const SuiteSummary again = run_suite(suite, options(dir.path, 1, true));
  EXPECT_EQ(again.skipped, 1);
  EXPECT_EQ(again.ran, 2);
}

// Kills the runner (SIGKILL) at several moments; every result file on disk must parse, no
// finished job may be lost or rewritten, and a re-run must complete the suite with the results of
// an uninterrupted run.
void kill_and_rerun(bool subprocess) {
  const Suite suite = nap_suite(/*seeds=*/24, /*ms=*/80);
  TempDir reference;
  run_suite(suite, options(reference.path, 2, false));
  const auto expected = results(reference.path);
  ASSERT_EQ(expected.size(), 24u);

  TempDir dir;
  std::size_t before = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        run_suite(suite, options(dir.path, 2, subprocess));
      } catch (...) {
        _exit(3);
      }
      _exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + 30 * attempt));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // workers die with the runner

    std::map<std::string, Json> now;
    ASSERT_NO_THROW(now = results(dir.path)) << "a half-written result after kill " << attempt;
    for (const auto& [id, r] : now) {
      if (r["status"] == kStatusOk) {
        EXPECT_EQ(r, expected.at(id)) << id;
      }
    }
    EXPECT_GE(now.size(), before) << "a finished job was lost";
    before = now.size();
  }
  EXPECT_LT(before, 24u) << "the kills came too late to interrupt anything";
  // Finished files are not touched by the re-run.
  std::map<std::string, fs::file_time_type> stamps;
  for (const auto& [id, r] : results(dir.path)) {
    if (r["status"] == kStatusOk) {
      stamps[id] = fs::last_write_time(dir.path / "jobs" / id / "result.json");
    }
  }
  const SuiteSummary s = run_suite(suite, options(dir.path, 2, subprocess));
  EXPECT_TRUE(s.complete());
  EXPECT_EQ(s.skipped, std::int64_t(stamps.size()));
  EXPECT_EQ(results(dir.path), expected);
  for (const auto& [id, t] : stamps) {
    EXPECT_EQ(fs::last_write_time(dir.path / "jobs" / id / "result.json"), t) << id;
  }
}

TEST(Runner, KillAndReRunInProcess) { kill_and_rerun(false); }
TEST(Runner, KillAndReRunWithWorkerProcesses) { kill_and_rerun(true); }

template <typename F>
void expect_input_error(F&& f, const std::string& part) {
  try {
    f();
    FAIL() << "no InputError; expected one mentioning " << part;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// A plan written by an earlier build lacks the fields added since (here: the nap kind's "abort"
// and the target's calibration_samples, both at their defaults): the same plan, not another one;
// a stored value that differs from today's is still another plan.
TEST(Runner, PlanFromAnEarlierBuildWithoutNewDefaultFields) {
  TempDir dir;
  run_suite(nap_suite(2, 1), options(dir.path, 1, false));
  const fs::path plan = dir.path / "plan.json";
  Json doc = read_json(plan);
  ASSERT_TRUE(doc["jobs"][0]["config"].contains("abort"));
  ASSERT_TRUE(doc["jobs"][0]["target"].contains("calibration_samples"));
  for (Json& j : doc["jobs"]) {
    j["config"].erase("abort");
    j["target"].erase("calibration_samples");
  }
  write_json_atomic(plan, doc);
  const SuiteSummary s = run_suite(nap_suite(2, 1), options(dir.path, 1, false));
  EXPECT_TRUE(s.complete());
  EXPECT_EQ(s.skipped, 2);
  for (Json& j : doc["jobs"]) j["config"]["ms"] = 7;  // a value, not a missing default
  write_json_atomic(plan, doc);
  expect_input_error([&] { run_suite(nap_suite(2, 1), options(dir.path, 1, false)); },
                     "holds results of another plan");
}

TEST(Runner, BadDirectoriesAndPlans) {
  TempDir dir, other;
  run_suite(nap_suite(2, 1), options(dir.path, 1, false));
  // Another grid into the same directory: refused before anything runs.
  expect_input_error([&] { run_suite(nap_suite(3, 1), options(dir.path, 1, false)); },
                     "holds results of another plan");
  expect_input_error([&] { merge_runs({dir.path / "nope"}); }, "not a readable directory");
  expect_input_error([&] { merge_runs({other.path}); }, "no plan.json");
  run_suite(nap_suite(3, 1), options(other.path, 1, false));
  expect_input_error([&] { merge_runs({dir.path, other.path}); }, "different plan");
  expect_input_error([&] { run_planned_job(dir.path, "t.nap.seed9", 1); }, "--job = t.nap.seed9");
  RunOptions o = options(dir.path / "plan.json", 1, false);  // a file, not a directory
  expect_input_error([&] { run_suite(nap_suite(2, 1), o); }, "not a directory");
  o = options(dir.path, 0, false);
  expect_input_error([&] { run_suite(nap_suite(2, 1), o); }, "--jobs");
}

// A job result read back with fields of other types is treated as missing (a re-run redoes the
// job); before, a status of another type ended `fsr merge` with a JSON type_error (exit 1).
TEST(Runner, ResultsOfTheWrongShapeAreMissingNotFatal) {
  TempDir dir;
  run_suite(nap_suite(2, 1), options(dir.path, 1, false));
  const fs::path result = dir.path / "jobs" / "t.nap.seed0" / "result.json";
  const Json good = read_json(result);
  for (const auto& [key, value] : std::vector<std::pair<const char*, Json>>{
           {"status", 5}, {"error", Json::array()}, {"seconds", "soon"}}) {
    Json doc = good;
    doc[key] = value;
    write_json_atomic(result, doc);
    const SuiteSummary s = merge_runs({dir.path});
    EXPECT_EQ(s.missing, std::vector<std::string>{"t.nap.seed0"}) << key;
  }
  write_file_atomic(result, "{\"status\": \"ok\", ");  // torn: not from write_json_atomic
  EXPECT_EQ(merge_runs({dir.path}).missing, std::vector<std::string>{"t.nap.seed0"});
}

}  // namespace
}  // namespace fsr

int main(int argc, char** argv) {
  fsr::register_test_kinds();
  fsr::self_exe = std::filesystem::read_symlink("/proc/self/exe");
  if (argc == 8 && std::strcmp(argv[1], "run-job") == 0) {  // run-job --out D --job ID --threads T
    try {
      fsr::run_planned_job(argv[3], argv[5], std::atoi(argv[7]));
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "runner_test run-job: " << e.what() << "\n";
      return 2;
    }
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
