// Suite parsing, validation and grid expansion; the built-in job kinds.
#include "experiments/suite.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/validate.h"
#include "experiments/jobs.h"
#include "experiments/runner.h"

namespace fsr {
namespace {

Json level1_target() {
  return Json::parse(R"({"levels": 1, "grid": 2, "channels": [8], "patch": 2, "colors": 3,
    "kernel": 2, "active": [0.2], "first_layer": {"correlation": "independent",
    "alpha": [0.5, 2.0]}, "dictionary": {"kind": "orthonormal", "coherence": 0.1}, "seed": 1})");
}

Json base_suite() {
  Json s = Json::parse(R"({
    "suite": "t", "description": "test",
    "jobs": [{"name": "mom", "kind": "first_layer_baseline", "config": {"method": "moments"},
              "sweep": {"samples": [100, 1000]}},
             {"name": "mle", "kind": "first_layer_baseline", "config": {"method": "mle"}}],
    "seeds": [1, 2, 3],
    "record": ["errors.alpha_max_relative"],
    "sizes": {"ci": {"seeds": [7], "job_overrides": {"mom": {"sweep": {"samples": [50]}}}},
              "paper": {}}})");
  s["targets"] = {{"b", level1_target()}, {"a", level1_target()}};
  return s;
}

// Expects an InputError whose message contains every one of `parts`.
template <typename F>
void expect_input_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL() << "no InputError; expected one mentioning " << parts.front();
  } catch (const InputError& e) {
    for (const std::string& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << p << "\"";
    }
  }
}

TEST(Suite, ExpandsTheGridInOrderWithStableIds) {
  const Suite suite = parse_suite(base_suite());
  const auto paper = expand_suite(suite, "paper");
  // 2 targets x (mom: 2 sweep values + mle: 1) x 3 seeds.
  ASSERT_EQ(paper.size(), 2u * 3u * 3u);
  for (std::size_t k = 0; k < paper.size(); ++k) EXPECT_EQ(paper[k].index, std::int64_t(k));
  EXPECT_EQ(paper[0].id, "a.mom.samples=100.seed1");
  EXPECT_EQ(paper[3].id, "a.mom.samples=1000.seed1");
  EXPECT_EQ(paper[6].id, "a.mle.seed1");
  EXPECT_EQ(paper[9].id, "b.mom.samples=100.seed1");
  EXPECT_EQ(paper[3].config["samples"], 1000);
  EXPECT_EQ(paper[6].config["samples"], 2000);  // the kind's default, filled in
  EXPECT_EQ(paper[6].config["method"], "mle");
  EXPECT_EQ(paper[0].sweep, (Json{{"samples", 100}}));

  const auto ci = expand_suite(suite, "ci");
  ASSERT_EQ(ci.size(), 2u * 2u * 1u);
  EXPECT_EQ(ci[0].id, "a.mom.samples=50.seed7");
  EXPECT_EQ(ci[1].id, "a.mle.seed7");
}

TEST(Suite, SizeSubsetsAndConfigPatches) {
  Json j = base_suite();
  j["sizes"]["ci"] = Json::parse(
      R"({"targets": ["b"], "jobs": ["mle"], "config": {"max_units": 4}, "seeds": [5, 6]})");
  const auto ci = expand_suite(parse_suite(j), "ci");
  ASSERT_EQ(ci.size(), 2u);
  EXPECT_EQ(ci[0].id, "b.mle.seed5");
  EXPECT_EQ(ci[0].config["max_units"], 4);
}

TEST(Suite, TwoKeySweepIsACartesianProductLastKeyFastest) {
  Json j = base_suite();
  j["jobs"][0]["sweep"] = {{"samples", {100, 200}}, {"method", {"moments", "mle"}}};
  const auto paper = expand_suite(parse_suite(j), "paper");
  // keys in name order: method, samples.
  EXPECT_EQ(paper[0].id, "a.mom.method=moments.samples=100.seed1");
  EXPECT_EQ(paper[3].id, "a.mom.method=moments.samples=200.seed1");
  EXPECT_EQ(paper[6].id, "a.mom.method=mle.samples=100.seed1");
}

TEST(Suite, UnknownKeysAreNamed) {
  Json j = base_suite();
  j["sedes"] = 1;
  expect_input_error([&] { parse_suite(j); }, {"suite.sedes", "unknown key", "seeds"});
  j = base_suite();
  j["jobs"][0]["confg"] = Json::object();
  expect_input_error([&] { parse_suite(j); }, {"jobs[0].confg", "unknown key"});
  j = base_suite();
  j["jobs"][0]["config"]["smaples"] = 10;
  expect_input_error([&] { parse_suite(j); }, {"smaples", "unknown key", "samples"});
  j = base_suite();
  j["sizes"]["ci"]["sed"] = 1;
  expect_input_error([&] { parse_suite(j); }, {"sizes.ci.sed", "unknown key"});
  j = base_suite();
  j["sizes"]["huge"] = Json::object();
  expect_input_error([&] { parse_suite(j); }, {"sizes.huge", "ci, paper"});
  j = base_suite();
  j["sizes"].erase("paper");
  expect_input_error([&] { parse_suite(j); }, {"sizes.paper", "required"});
  j = base_suite();
  j["targets"]["a"]["levls"] = 1;  // synth's own validation, prefixed with the target's name
  expect_input_error([&] { parse_suite(j); }, {"targets.a", "levls"});
  j = base_suite();
  j["sizes"]["ci"]["targets"] = {"zz"};
  expect_input_error([&] { parse_suite(j); }, {"sizes.ci.targets[0] = zz", "known: a, b"});
}

TEST(Suite, UnknownJobKindListsTheKnownOnes) {
  Json j = base_suite();
  j["jobs"][1]["kind"] = "gda";
  expect_input_error([&] { parse_suite(j); }, {"jobs[1].kind = gda", "unknown job kind",
                                               "first_layer_baseline", "analyze_only"});
  expect_input_error([&] { find_job_kind("nope"); }, {"nope", "known: analyze_only"});
}

TEST(Suite, BadValuesAreNamed) {
  Json j = base_suite();
  j["jobs"][0]["config"]["method"] = "magic";
  expect_input_error([&] { parse_suite(j); }, {"method = magic", "moments, mle, auto"});
  j = base_suite();
  j["seeds"] = {1, 1};
  expect_input_error([&] { parse_suite(j); }, {"seeds[1] = 1", "twice"});
  j = base_suite();
  j["jobs"][0]["sweep"]["samples"] = Json::array();
  expect_input_error([&] { parse_suite(j); }, {"jobs[0].sweep.samples", "non-empty"});
  j = base_suite();
  j["jobs"][1]["name"] = "mom";
  expect_input_error([&] { parse_suite(j); }, {"jobs[1].name = mom", "twice"});
  j = base_suite();
  j["jobs"][0]["sweep"]["samples"] = {1};  // fails the kind's rule samples >= 2
  expect_input_error([&] { parse_suite(j); }, {"samples", "1"});
  expect_input_error([&] { expand_suite(parse_suite(base_suite()), "big"); },
                     {"--size = big", "ci or paper"});
  // Sweep keys become job ids, hence directory names: before, "x/../../y" was accepted and put
  // the job's directory outside --out.
  for (const char* key : {"x/../../y", "a..b", "sam ples", ".samples"}) {
    j = base_suite();
    j["jobs"][0]["sweep"] = {{key, {1, 2}}};
    expect_input_error([&] { parse_suite(j); }, {"jobs[0].sweep.", "config key or dotted path"});
  }
}

// A plan read back from disk (fsr merge, a re-run) is checked field by field: before, a float
// index was an undefined conversion and an id like "../x" sent merge's copies outside --out.
TEST(Suite, JobSpecsReadBackAreChecked) {
  const Json good = to_json(expand_suite(parse_suite(base_suite()), "paper").front());
  EXPECT_EQ(to_json(job_spec_from_json(good)), good);
  const auto broken = [&](const char* key, const Json& value) {
    Json j = good;
    j[key] = value;
    return j;
  };
  expect_input_error([&] { job_spec_from_json(broken("id", "../x")); },
                     {"job spec.id = ../x", "file name"});
  expect_input_error([&] { job_spec_from_json(broken("id", "a/b")); }, {"job spec.id = a/b"});
  expect_input_error([&] { job_spec_from_json(broken("index", 1e300)); },
                     {"job spec.index = 1e+300", "must be an integer"});
  expect_input_error([&] { job_spec_from_json(broken("seed", -1)); }, {"job spec.seed = -1"});
  expect_input_error([&] { job_spec_from_json(broken("kind", 3)); }, {"job spec.kind = 3"});
}

TEST(Suite, ShardSpecs) {
  EXPECT_EQ(parse_shard("1/2").index, 1);
  EXPECT_EQ(parse_shard("2/2").count, 2);
  for (const char* bad : {"3/2", "0/0", "0/2", "1/0", "a/b", "1", "1/2/3", "-1/2", "", "1/ 2"}) {
    expect_input_error([&] { parse_shard(bad); }, {"--shard"});
  }
  const Shard s = parse_shard("2/3");
  EXPECT_FALSE(s.contains(0));
  EXPECT_TRUE(s.contains(1));
  EXPECT_TRUE(s.contains(4));
}

// first_layer_baseline against the planted values: the moment estimator's error shrinks like
// N^{-1/2} (docs/science.md §3). Seeded; with 32 units of activity 0.2, N = 20000 leaves ~4000 active samples
// per unit, where a 20% worst-unit alpha error would be a > 5 sigma event.
TEST(FirstLayerBaseline, RecoversThePlantedFirstLayer) {
  JobSpec spec;
  spec.id = "x";
  spec.target = level1_target();
  spec.kind = "first_layer_baseline";
  spec.seed = 3;
  const JobKind& kind = find_job_kind(spec.kind);
  spec.config = kind.normalize(Json{{"samples", 20000}, {"method", "moments"}}, "config", {});
  const Json big = kind.run(spec, JobContext{});
  spec.config["samples"] = 300;
  const Json small = kind.run(spec, JobContext{});
  SCOPED_TRACE(big.dump());
  EXPECT_EQ(big["units"], 32);  // h_1^2 m_1
  EXPECT_EQ(big["units_fitted"], 32);
  EXPECT_NEAR(big["active_fraction"].get<double>(), 0.2, 0.02);
  EXPECT_LT(big["errors"]["alpha_max_relative"].get<double>(), 0.2);
  EXPECT_LT(big["errors"]["rho_max_abs_error"].get<double>(), 0.1);  // independent units: rho = 0
  EXPECT_LT(big["errors"]["alpha_mean_relative"].get<double>(),
            small["errors"]["alpha_mean_relative"].get<double>());
  // Same spec, same result (the seed picks the sample stream).
  EXPECT_EQ(without_timings(kind.run(spec, JobContext{})), without_timings(small));
  spec.seed = 4;
  EXPECT_NE(without_timings(kind.run(spec, JobContext{})), without_timings(small));
}

// Its censored-normal estimators assume Gaussian latents: a target with first_layer.noise laplace
// or mixture is refused, naming the field, before anything is sampled.
TEST(FirstLayerBaseline, RefusesNonGaussianLatents) {
  JobSpec spec;
  spec.id = "x";
  spec.target = level1_target();
  spec.target["first_layer"]["noise"] = "mixture";
  spec.kind = "first_layer_baseline";
  spec.seed = 3;
  const JobKind& kind = find_job_kind(spec.kind);
  spec.config = kind.normalize(Json{{"samples", 300}}, "config", {});
  try {
    kind.run(spec, JobContext{});
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("first_layer.noise = mixture: first_layer_baseline fits "
                                         "censored-normal estimators"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fsr
