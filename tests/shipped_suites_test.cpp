// The shipped experiment suites as a user runs them (tests/README.md): every suite under
// experiments/suites/ parses and expands at both sizes, and the first-layer sample-complexity
// suite runs at its ci size with the moment estimator's error falling like N^-1/2 (docs/science.md §3).
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include "core/json_io.h"
#include "experiments/sample_complexity.h"
#include "experiments/suite.h"
#ifdef FSR_WITH_GDA
#include "experiments/gda_job.h"
#endif

namespace fsr {
namespace {
namespace fs = std::filesystem;

TEST(ShippedSuites, EverySuiteParsesAtBothSizes) {
#ifdef FSR_WITH_GDA
  register_gda_job_kind();
#endif
  const fs::path dir = fs::path(FSR_SOURCE_DIR) / "experiments/suites";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    SCOPED_TRACE(e.path().string());
#ifndef FSR_WITH_GDA
    // Builds without LibTorch have no learner: its suites cannot be validated here.
    if (read_json(e.path()).dump().find(R"("kind":"gda")") != std::string::npos) continue;
#endif
    const Suite s = load_suite(e.path());
    EXPECT_FALSE(expand_suite(s, "ci").empty());
    EXPECT_FALSE(expand_suite(s, "paper").empty());
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST(SampleComplexityFirstLayer, CiSuiteRunsAndMomentSlopeIsMinusOneHalf) {
  const fs::path file = fs::path(FSR_SOURCE_DIR) / "experiments" / "sample_complexity_first_layer.json";
  EXPECT_EQ(load_sample_complexity_suite(file, "paper").size, "paper");  // validates paper
  const SampleComplexitySuite suite = load_sample_complexity_suite(file, "ci");
  const fs::path out = fs::temp_directory_path() / "fsr_shipped_suites_test_first_layer_ci";
  fs::remove_all(out);
  const Stopwatch clock;
  const Json r = run_sample_complexity(suite, {.out = out});
  std::cout << "ci suite: " << r["counts"].dump() << " in " << clock.seconds() << " s\n";
  for (const auto& [job, v] : r["verdict"].items()) {
    std::cout << "  " << job << ": " << v["summary"].get<std::string>() << "\n";
  }
  for (const Json& c : r["curves"]) {
    std::cout << "  slope " << c["job"] << " at " << c["point"] << ": " << c["slope"] << " "
              << c["slope_interval"] << "\n";
  }
  EXPECT_EQ(r["counts"]["failed"].get<int>(), 0);
  // Moment estimator error ~ N^-1/2 (docs/science.md §3, Wu-Dimakis-Sanghavi): the error-vs-N slope of the
  // max relative alpha error, over N >= curve.min_samples and 5 seeds, must lie in -0.5 +- 0.15
  // (the max over units and the finite-N bias of the moment inversion move it by a few
  // hundredths; 0.15 leaves room for seed noise with this fixed seed set).
  int checked = 0;
  for (const Json& c : r["curves"]) {
    if (c["job"] != "moments") continue;
    ASSERT_TRUE(c["slope"].is_number()) << c.dump();
    EXPECT_NEAR(c["slope"].get<double>(), -0.5, 0.15) << c["point"];
    ++checked;
  }
  EXPECT_EQ(checked, int(suite.points.size()));
  // Every (point, eps) reached N* within the grid, so the fit saw the whole table.
  for (const Json& row : r["n_star"]) EXPECT_EQ(row["status"], "reached") << row.dump();
  EXPECT_TRUE(r["verdict"]["moments"].contains("eps_exponent")) << r["verdict"].dump(2);
  fs::remove_all(out);
}

}  // namespace
}  // namespace fsr
