#include "experiments/sample_complexity.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>

#include "core/rng.h"
#include "core/validate.h"
#include "experiments/job_store.h"
#include "experiments/jobs.h"
#include "experiments/runner.h"
#include "synth/config.h"

namespace fsr {
namespace {
namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fsr_sample_complexity_test_" + name);
  fs::remove_all(dir);
  return dir;
}

// The synthetic monotone error of the stub: C N^-1/2 d^p, times a per-seed factor exp(noise z_s)
// (fixed per seed, so the error stays monotone in N and the true N* is known by brute force).
double stub_error(std::int64_t n, double d, std::uint64_t seed, double c, double p, double noise) {
  const double z = noise > 0 ? Rng(seed, 77).normal() : 0.0;
  return c * std::pow(double(n), -0.5) * std::pow(d, p) * std::exp(noise * z);
}

std::atomic<int> g_stub_runs{0};

// A job kind with a known answer: reads d = r^2 c from the trial's target.
void register_stub_kind() {
  register_job_kind(JobKind{
      .name = "stub_power",
      .description = "test: error = c N^-1/2 d^p exp(noise z_seed)",
      .normalize =
          [](const Json& c, const std::string& field, const fs::path&) {
            require_known_keys(c, field, {"samples", "c", "p", "noise"});
            return Json{{"samples", c.value("samples", std::int64_t{100})},
                        {"c", c.value("c", 1.0)},
                        {"p", c.value("p", 0.5)},
                        {"noise", c.value("noise", 0.0)}};
          },
      .run =
          [](const JobSpec& spec, const JobContext&) {
            ++g_stub_runs;
            const double d = parse_target_config(spec.target).patch_dim();
            const Json& c = spec.config;
            const double e =
                stub_error(c["samples"].get<std::int64_t>(), d, spec.seed, c["c"].get<double>(),
                           c["p"].get<double>(), c["noise"].get<double>());
            // A learner-like trajectory for the steps-to-eps hook: the error halves every 100
            // steps and ends at e.
            const Json trajectory = Json::array({{100, 4 * e}, {200, 2 * e}, {300, e}});
            return Json{{"status", "ok"},
                        {"errors", {{"value", e}, {"score", 1.0 - e}}},
                        {"trajectory", trajectory}};
          }});
}

// Independent reference: scan the whole grid for the first N whose per-seed errors meet eps.
std::int64_t brute_force_n_star(
    const ComplexitySearch& s, double eps,
    const std::function<std::vector<std::optional<double>>(std::int64_t)>& errors) {
  for (int k = 0; k <= s.grid_last(); ++k) {
    if (meets(errors(s.grid_n(k)), eps, s.success_fraction)) return s.grid_n(k);
  }
  return 0;
}

// ---- The search ---------------------------------------------------------------------------------

TEST(SearchNStar, FindsKnownNStarOnTheGridAndBracketsIt) {
  const ComplexitySearch search{
      .n_min = 16, .n_max = 1 << 22, .steps_per_doubling = 4, .success_fraction = 0.8};
  const std::vector<std::uint64_t> seeds = {1, 2, 3, 4, 5};
  for (const double noise : {0.0, 0.3}) {
    for (const double d : {3.0, 12.0, 48.0}) {
      std::map<std::int64_t, int> calls;
      const auto errors = [&](std::int64_t n) {
        std::vector<std::optional<double>> out;
        for (auto s : seeds) out.push_back(stub_error(n, d, s, 2.0, 0.5, noise));
        return out;
      };
      const std::vector<double> eps = {0.05, 0.2, 0.1, 0.3};
      const auto result = search_n_star(search, eps, [&](std::int64_t n) {
        ++calls[n];
        return errors(n);
      });
      ASSERT_EQ(result.size(), 4u);
      for (std::size_t i = 0; i + 1 < result.size(); ++i)
        EXPECT_GT(result[i].eps, result[i + 1].eps);
      for (const NStarSearch& r : result) {
        SCOPED_TRACE("noise " + std::to_string(noise) + " d " + std::to_string(d) + " eps " +
                     std::to_string(r.eps));
        const std::int64_t expected = brute_force_n_star(search, r.eps, errors);
        ASSERT_GT(expected, search.n_min);  // the test is about a reached, interior N*
        EXPECT_EQ(r.status, "reached");
        EXPECT_EQ(r.n_star, expected);
        // The bracket is two neighbouring grid sizes: failure below, success at N*.
        EXPECT_FALSE(meets(errors(r.n_below), r.eps, 0.8));
        EXPECT_LT(r.n_below, r.n_star);
        EXPECT_LE(double(r.n_star) / double(r.n_below), std::exp2(0.25) * 1.01);
        // Doubling comes first, on powers of two times n_min.
        ASSERT_FALSE(r.steps.empty());
        EXPECT_EQ(r.steps.front().phase, "doubling");
        EXPECT_EQ(r.steps.front().n, 16);
      }
      // Each size evaluated once for all four eps (trials shared across eps).
      for (const auto& [n, k] : calls) EXPECT_EQ(k, 1) << "N = " << n;
    }
  }
}

TEST(SearchNStar, ReportsNotReachedAndAtMinimum) {
  const ComplexitySearch search{
      .n_min = 8, .n_max = 1000, .steps_per_doubling = 2, .success_fraction = 1.0};
  // error = 10 / sqrt(N): eps = 0.01 needs 1e6 > n_max; eps = 5 is met at N = 8.
  const auto result = search_n_star(search, {0.01, 5.0}, [](std::int64_t n) {
    return std::vector<std::optional<double>>{10.0 / std::sqrt(double(n))};
  });
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result[0].eps, 5.0);
  EXPECT_EQ(result[0].status, "at_minimum");
  EXPECT_EQ(result[0].n_star, 8);
  EXPECT_EQ(result[1].status, "not_reached");
  EXPECT_EQ(result[1].n_star, 0);
  // The last grid size <= n_max was tried: 8 * 2^(k/2) <= 1000 -> k = 13, N = 724.
  EXPECT_EQ(search.grid_last(), 13);
  EXPECT_EQ(result[1].n_below, 724);
  EXPECT_EQ(result[1].steps.back().n, 724);
  // A failed trial (no error) never counts as a success.
  EXPECT_FALSE(meets({std::nullopt, 0.1}, 1.0, 0.5 + 1e-6));
  EXPECT_TRUE(meets({std::nullopt, 0.1}, 1.0, 0.5));
}

// ---- Fits ---------------------------------------------------------------------------------------

TEST(SampleComplexityFit, RecoversKnownExponentsAndRejectsExponentialSeries) {
  // N* = 30 d^1.5 eps^-2 with 5% log-normal scatter: the fit must find 1.5 and 2 inside its
  // intervals (bootstrap, 95%) and within 0.15 of the truth (scatter over 16 points).
  std::vector<SampleComplexityPoint> poly, expo;
  std::vector<std::vector<ReferenceAtPoint>> refs;
  Rng rng(5);
  for (double d : {4.0, 8.0, 16.0, 32.0}) {
    for (double eps : {0.4, 0.2, 0.1, 0.05}) {
      poly.push_back(
          {d, eps, 30 * std::pow(d, 1.5) * std::pow(eps, -2) * std::exp(0.05 * rng.normal())});
      refs.push_back({{"sgda_one_layer", ReferenceBound::sgda_one_layer(1.0)}});
    }
  }
  for (double d : {4.0, 12.0, 20.0, 28.0, 36.0, 44.0}) {
    for (double eps : {0.2, 0.1, 0.05}) {
      expo.push_back(
          {d, eps, 30 * std::exp(0.15 * d) * std::pow(eps, -2) * std::exp(0.05 * rng.normal())});
    }
  }
  const BoundFitOptions options{.bootstrap_resamples = 400, .level = 0.95, .seed = 3};
  const Json p = fit_and_verdict(poly, refs, options);
  ASSERT_TRUE(p.contains("verdict")) << p.dump(2);
  const Json& v = p["verdict"];
  EXPECT_NEAR(v["d_exponent"].get<double>(), 1.5, 0.15);
  EXPECT_NEAR(v["eps_exponent"].get<double>(), 2.0, 0.15);
  // Case-resampling percentile intervals from 16 points under-cover (nominal 95%, nearer 85-90%
  // here), so the check is that the truth lies within the interval widened by half its width on
  // each side — about a 99% statement — and that the interval is informative (< 0.5 wide).
  const auto covers = [](const Json& iv, double truth) {
    const double lo = iv[0].get<double>(), hi = iv[1].get<double>(), w = hi - lo;
    return w > 0 && w < 0.5 && lo - 0.5 * w <= truth && truth <= hi + 0.5 * w;
  };
  EXPECT_TRUE(covers(v["d_exponent_interval"], 1.5)) << v["summary"];
  EXPECT_TRUE(covers(v["eps_exponent_interval"], 2.0)) << v["summary"];
  EXPECT_EQ(v["preferred"], "polynomial");
  EXPECT_TRUE(v["polynomial_better"].get<bool>());
  // d^2 eps^-2 has the right eps exponent but not the d exponent.
  EXPECT_FALSE(p["references"][0]["d_exponent_in_interval"].get<bool>());

  const Json e = fit_and_verdict(expo, {}, options);
  ASSERT_TRUE(e.contains("verdict")) << e.dump(2);
  EXPECT_EQ(e["verdict"]["preferred"], "exponential") << e["verdict"]["summary"];
  EXPECT_FALSE(e["verdict"]["polynomial_better"].get<bool>());
  EXPECT_LT(e["delta_aic"].get<double>(), -10.0);  // "strong" evidence against polynomial
  EXPECT_NEAR(e["exponential"]["d_coefficient"].get<double>(), 0.15, 0.02);

  // Too few rows is a result, not a crash.
  const Json few = fit_and_verdict({poly[0], poly[1]}, {}, options);
  EXPECT_TRUE(few["fit"].is_null());
  EXPECT_NE(few["reason"].get<std::string>().find("cannot fit"), std::string::npos);
}

TEST(SampleComplexityFit, ErrorSlopeOfExactPowerLaw) {
  std::vector<CurveTrial> trials;
  for (std::uint64_t s : {1, 2, 3}) {
    for (std::int64_t n : {100, 400, 1600, 6400}) {
      trials.push_back({n, s, (1.0 + 0.1 * double(s)) * std::pow(double(n), -0.5)});
    }
  }
  const auto fit = fit_error_slope(trials, {.bootstrap_resamples = 200, .level = 0.95, .seed = 1});
  ASSERT_TRUE(fit);
  EXPECT_NEAR(fit->slope, -0.5, 1e-12);  // per-seed constants do not bias a common slope
  EXPECT_EQ(fit->n_sizes, 4);
  EXPECT_NEAR(fit->slope_interval.lo, -0.5, 1e-9);
  EXPECT_NEAR(fit->slope_interval.hi, -0.5, 1e-9);
}

// ---- Suites -------------------------------------------------------------------------------------

Json stub_suite() {
  return Json::parse(R"({
    "suite": "stub",
    "target": {"levels": 1, "grid": 1, "channels": [3], "patch": 1, "colors": 3,
               "active": [0.2], "seed": 1},
    "points": [
      {"name": "d3"},
      {"name": "d12", "target": {"patch": 2, "channels": [8]}},
      {"name": "d27", "target": {"patch": 3, "channels": [16]}},
      {"name": "d48", "target": {"patch": 4, "channels": [32]}}
    ],
    "jobs": [{"name": "stub", "kind": "stub_power", "config": {"c": 2.0, "p": 0.5, "noise": 0.2},
              "references": ["truncated_moment"]}],
    "error": "errors.value",
    "eps": [0.2, 0.1, 0.05],
    "seeds": [1, 2, 3, 4, 5],
    "search": {"n_min": 16, "n_max": 4000000, "steps_per_doubling": 4, "success_fraction": 0.8},
    "fit": {"bootstrap_resamples": 200},
    "curve": {"samples": [1000, 10000]},
    "sizes": {"ci": {"description": "all of it", "expected_seconds": 1}, "paper": {"seeds": [1, 2]}}
  })");
}

TEST(SampleComplexitySuite, RunsStubKindFindsNStarKeepsTrialsAndResumes) {
  register_stub_kind();
  const SampleComplexitySuite suite = parse_sample_complexity_suite(stub_suite(), "ci");
  ASSERT_EQ(suite.points.size(), 4u);
  EXPECT_EQ(suite.points[2].d, 27.0);
  EXPECT_EQ(suite.eps, (std::vector<double>{0.2, 0.1, 0.05}));
  const fs::path out = fresh_dir("stub");
  g_stub_runs = 0;
  const Json r = run_sample_complexity(suite, {.out = out});
  const int runs = g_stub_runs;

  // N* against brute force over the grid, per point and eps.
  const Json& table = r["n_star_table"]["stub"];
  for (std::size_t pi = 0; pi < suite.points.size(); ++pi) {
    const double d = suite.points[pi].d;
    const auto errors = [&](std::int64_t n) {
      std::vector<std::optional<double>> e;
      for (auto s : suite.seeds) e.push_back(stub_error(n, d, s, 2.0, 0.5, 0.2));
      return e;
    };
    for (std::size_t k = 0; k < suite.eps.size(); ++k) {
      EXPECT_EQ(table["n_star"][pi][k].get<std::int64_t>(),
                brute_force_n_star(suite.search, suite.eps[k], errors))
          << suite.points[pi].name << " eps " << suite.eps[k];
    }
  }
  // Every trial is kept: one per (point, N, seed) ever run, with its error and successes.
  EXPECT_EQ(r["counts"]["trials"].get<int>(), runs);
  EXPECT_EQ(r["trials"].size(), std::size_t(runs));
  EXPECT_EQ(runs % 5, 0);
  for (const Json& t : r["trials"]) {
    ASSERT_TRUE(t["error"].is_number());
    // A job of the runner's store (experiments/job_store.h).
    const std::optional<Json> stored = JobStore(out).read(t["id"].get<std::string>());
    ASSERT_TRUE(JobStore::ok(stored));
    EXPECT_EQ((*stored)["kind"], "suite-job");
    for (std::size_t k = 0; k < suite.eps.size(); ++k) {
      EXPECT_EQ(t["meets"][k].get<bool>(), t["error"].get<double>() <= suite.eps[k]);
    }
  }
  // N* = (c d^p z / eps)^2 up to the grid factor 2^(1/4): exponents 2p = 1 and 2.
  const Json& v = r["verdict"]["stub"];
  EXPECT_NEAR(v["d_exponent"].get<double>(), 1.0, 0.1) << v["summary"];
  EXPECT_NEAR(v["eps_exponent"].get<double>(), 2.0, 0.15) << v["summary"];
  EXPECT_EQ(v["preferred"], "polynomial") << v["summary"];
  // The error slope of C N^-1/2 is -1/2 exactly (per-seed factors are constant in N).
  for (const Json& c : r["curves"]) EXPECT_NEAR(c["slope"].get<double>(), -0.5, 1e-9);
  EXPECT_TRUE(v["error_slope"]["expected_in_every_interval"].get<bool>());
  EXPECT_TRUE(fs::exists(out / "sample_complexity.json"));
  EXPECT_EQ(read_json(out / "sample_complexity.json")["kind"], "sample-complexity");

  // Re-running resumes from the trial files: nothing runs, the result is the same.
  g_stub_runs = 0;
  const Json again = run_sample_complexity(suite, {.out = out});
  EXPECT_EQ(g_stub_runs.load(), 0);
  EXPECT_EQ(again["counts"]["reused"].get<int>(), runs);
  EXPECT_EQ(without_timings(again["n_star"]), without_timings(r["n_star"]));
  EXPECT_EQ(without_timings(again["fits"]), without_timings(r["fits"]));

  // A half-finished run (some trial files lost) completes with the same answer.
  int removed = 0;
  for (const auto& e : fs::directory_iterator(out / "jobs")) {
    if (++removed % 3 == 0) fs::remove(e.path() / "result.json");
  }
  g_stub_runs = 0;
  const Json resumed = run_sample_complexity(suite, {.out = out});
  EXPECT_EQ(g_stub_runs.load(), removed / 3);
  EXPECT_EQ(without_timings(resumed["trials"]), without_timings(r["trials"]));

  // A trial of another configuration in the directory is refused, not silently reused.
  Json changed = stub_suite();
  changed["jobs"][0]["config"]["c"] = 3.0;
  EXPECT_THROW(run_sample_complexity(parse_sample_complexity_suite(changed, "ci"), {.out = out}),
               InputError);
  fs::remove_all(out);
}

TEST(SampleComplexitySuite, ScoreTransformAndStepsToEpsHook) {
  register_stub_kind();
  Json plain = stub_suite(), scored = stub_suite();
  plain["sizes"]["ci"] = {{"points", {plain["points"][0], plain["points"][1]}}};
  scored["sizes"]["ci"] = plain["sizes"]["ci"];
  scored["error"] = "errors.score";  // 1 - error: higher is better
  scored["error_transform"] = "one_minus";
  scored["steps_path"] = "trajectory";
  const fs::path a = fresh_dir("plain"), b = fresh_dir("scored");
  const Json ra = run_sample_complexity(parse_sample_complexity_suite(plain, "ci"), {.out = a});
  const Json rb = run_sample_complexity(parse_sample_complexity_suite(scored, "ci"), {.out = b});
  EXPECT_EQ(ra["n_star_table"], rb["n_star_table"]);
  EXPECT_FALSE(ra["steps_to_eps"]["measured"].get<bool>());
  ASSERT_TRUE(rb["steps_to_eps"]["measured"].get<bool>());
  // At N* the final error meets eps, so the first step reaching it is 300 unless 2e or 4e does.
  for (const Json& row : rb["steps_to_eps"]["rows"]) {
    EXPECT_EQ(row["seeds_reached"].get<int>() > 0, true) << row.dump();
    EXPECT_GE(row["median_steps"].get<double>(), 100.0);
    EXPECT_LE(row["median_steps"].get<double>(), 300.0);
  }
  for (const Json& t : rb["trials"]) {
    const double e = t["error"].get<double>();
    for (std::size_t k = 0; k < 3; ++k) {
      const double eps = rb["suite"]["eps"][k].get<double>();
      const Json expected = 4 * e <= eps   ? Json(100)
                            : 2 * e <= eps ? Json(200)
                            : e <= eps     ? Json(300)
                                           : Json(nullptr);
      EXPECT_EQ(t["steps_to_eps"][k], expected) << t.dump();
      // The trajectory falls monotonically: once <= eps it stays, so both statistics agree.
      EXPECT_EQ(t["steps_to_stay"][k], expected) << t.dump();
    }
  }
  // Steps against (d, eps) are fitted per job with the N* tools (exponents with intervals).
  ASSERT_EQ(rb["steps_to_eps"]["fits"].size(), 1u) << rb["steps_to_eps"].dump();
  for (const auto& [job, fit] : rb["steps_to_eps"]["fits"].items()) {
    for (const char* kind : {"first", "stay"}) {
      EXPECT_TRUE(fit[kind].contains("summary")) << fit.dump();
      EXPECT_GT(fit[kind].value("points_used", 0), 0) << fit.dump();
    }
  }
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(SampleComplexitySuite, UnknownKeysAndBadValuesNameTheField) {
  register_stub_kind();
  const auto message = [](const Json& j) {
    try {
      parse_sample_complexity_suite(j, "ci");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  Json j = stub_suite();
  j["epsilon"] = 1;
  EXPECT_NE(message(j).find("suite.epsilon: unknown key"), std::string::npos) << message(j);
  j = stub_suite();
  j["search"]["nmax"] = 10;
  EXPECT_NE(message(j).find("search.nmax: unknown key"), std::string::npos) << message(j);
  j = stub_suite();
  j["sizes"]["paper"]["search"] = {{"n_mni", 3}};  // a typo in the size not run still fails
  EXPECT_NE(message(j).find("size paper: search.n_mni: unknown key"), std::string::npos)
      << message(j);
  j = stub_suite();
  j["points"][1]["target"]["patchh"] = 2;
  EXPECT_NE(message(j).find("points[1].target (d12)"), std::string::npos) << message(j);
  j = stub_suite();
  j["jobs"][0]["config"]["cc"] = 2;
  EXPECT_NE(message(j).find("cc: unknown key"), std::string::npos) << message(j);
  j = stub_suite();
  j["jobs"][0]["kind"] = "no_such_kind";
  EXPECT_NE(message(j).find("unknown job kind"), std::string::npos) << message(j);
  j = stub_suite();
  j["samples_key"] = "n";
  // The kind rejects the unknown size key itself, naming the job, the point and the key.
  EXPECT_NE(message(j).find("jobs[0].config (stub at d3).n: unknown key"), std::string::npos)
      << message(j);
  j = stub_suite();
  j["eps"] = {0.1, -0.1};
  EXPECT_NE(message(j).find("eps[1] = -0.1: must be finite and > 0"), std::string::npos)
      << message(j);
  j = stub_suite();
  j["search"]["n_min"] = 3;  // 3 (2^(1/4) - 1) < 1: neighbouring grid sizes would coincide
  EXPECT_NE(message(j).find("search.n_min = 3"), std::string::npos) << message(j);
  j = stub_suite();
  j["sizes"].erase("paper");
  EXPECT_NE(message(j).find("sizes.paper"), std::string::npos) << message(j);
  EXPECT_THROW(parse_sample_complexity_suite(stub_suite(), "huge"), InputError);
}

// The truncated_moment reference is the bound for Gaussian latents: a point whose target has
// first_layer.noise laplace or mixture is refused with it, and accepted without it.
TEST(SampleComplexitySuite, TruncatedMomentReferenceRefusesNonGaussianLatents) {
  register_stub_kind();
  Json j = stub_suite();
  j["points"][2]["target"]["first_layer"] = {{"noise", "laplace"}};
  try {
    parse_sample_complexity_suite(j, "ci");
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("jobs[0].references = truncated_moment: is the bound for "
                                         "Gaussian latents, and point d27 has first_layer.noise = "
                                         "laplace"),
              std::string::npos)
        << e.what();
  }
  j["jobs"][0]["references"] = {"sgda_one_layer"};
  EXPECT_NO_THROW(parse_sample_complexity_suite(j, "ci"));
}

}  // namespace
}  // namespace fsr
