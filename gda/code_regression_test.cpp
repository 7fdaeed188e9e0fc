#include "gda/code_regression.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "core/rng.h"
#include "core/validate.h"
#include "synth/config.h"
#include "synth/sample.h"
#include "synth/target.h"

namespace fsr {
namespace {

// The reference is the planted target itself: synth/ draws W_l and calibrates b_l, samples
// the true codes S_{l-1}, S_l, and the fit must give back (W_l, b_l).
struct Case {
  Target target;
  SampleBatch batch;
};

Case make_case(int kernel, std::int64_t n) {
  const Json cfg = {{"levels", 2},
                    {"grid", 2},
                    {"channels", {8, 8}},
                    {"patch", 2},
                    {"colors", 3},
                    {"kernel", kernel},
                    {"active", {0.1, 0.1}},
                    {"first_layer", {{"correlation", "independent"}, {"alpha", 1.0}}},
                    {"dictionary", {{"kind", "orthonormal"}}},
                    {"seed", 3}};
  Case c{build_target(parse_target_config(cfg)), {}};
  c.batch = sample(c.target, 0, n, SampleOptions{.with_hidden = true});
  return c;
}

double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / den);
}

class FitOnTrueCodes : public ::testing::TestWithParam<int> {};

TEST_P(FitOnTrueCodes, RecoversThePlantedLayer) {
  const int kernel = GetParam();
  const Case c = make_case(kernel, 4000);
  const auto& up = c.target.up[0];
  const UpFit fit = fit_super_resolution(c.batch.s[0], c.batch.s[1], c.target, 2);
  ASSERT_EQ(fit.weight.size(), up.weight.size());
  // Noiseless codes: every weight that some active child row exercises is determined exactly
  // (the active rows satisfy a linear system). A weight no row exercises (a parent channel never
  // active together with an active child through that tap) stays at the ridge's 0; at 10%
  // activity and 4000 samples that is rare: measured 2.8e-5 (kernel 2) and 3.5e-7 (kernel 4),
  // printed below. A layout mistake (tap order, parent index) gives O(1). Bound 1e-3.
  const double err = relative_error(fit.weight, up.weight);
  std::printf("kernel %d: weight relative error %.2g\n", kernel, err);
  EXPECT_LT(err, 1e-3);
  for (int j = 0; j < 8; ++j) {
    EXPECT_GT(fit.active_rows(j), 100) << "channel " << j;
    EXPECT_NEAR(fit.bias(j), up.bias(j), 1e-3 * std::abs(up.bias(j))) << "channel " << j;
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, FitOnTrueCodes, ::testing::Values(2, 4));

TEST(FitSuperResolution, ScaledCodesScaleTheFit) {
  // ReLU(c (W s - b)) = c ReLU(W s - b): child codes times c give weights and bias times c.
  const Case c = make_case(2, 1000);
  const UpFit a = fit_super_resolution(c.batch.s[0], c.batch.s[1], c.target, 2);
  const UpFit b = fit_super_resolution(c.batch.s[0], 2.5 * c.batch.s[1], c.target, 2);
  for (std::size_t i = 0; i < a.weight.size(); ++i)
    EXPECT_NEAR(b.weight[i], 2.5 * a.weight[i], 1e-6 * (1 + std::abs(a.weight[i])));
  EXPECT_TRUE(b.bias.isApprox(2.5 * a.bias, 1e-6));
}

TEST(FitSuperResolution, RejectsMismatchedShapes) {
  const Eigen::MatrixXd parent = Eigen::MatrixXd::Zero(10, 8 * 4);
  const Eigen::MatrixXd child = Eigen::MatrixXd::Zero(10, 8 * 16);
  const Architecture a{.levels = 2, .grid = 2, .channels = {8, 8}, .patch = 2, .colors = 3};
  Architecture k3 = a;
  k3.kernel = 3;
  EXPECT_THROW(fit_super_resolution(parent, child, k3, 2), InputError);
  Architecture narrow = a;
  narrow.channels[0] = 4;
  EXPECT_THROW(fit_super_resolution(parent, child, narrow, 2), InputError);
  try {
    fit_super_resolution(parent, child, a, 3);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("level = 3"), std::string::npos) << e.what();
  }
}

// Level-2 patches of the target (rows (sample, position), d columns): x_p = M_2 s_p.
Eigen::MatrixXd level2_patches(const Case& c) {
  const Eigen::MatrixXd& m = c.target.M[1];
  const int k = static_cast<int>(m.cols()), hh = 16;
  const auto& s = c.batch.s[1];
  Eigen::MatrixXd codes(s.rows() * hh, k);
  for (Eigen::Index a = 0; a < s.rows(); ++a)
    for (int j = 0; j < k; ++j)
      for (int p = 0; p < hh; ++p) codes(a * hh + p, j) = s(a, std::int64_t{j} * hh + p);
  return codes * m.transpose();
}

TEST(RefineDictionary, ModReachesTheTrueColumnsFromAPerturbedStart) {
  const Case c = make_case(2, 2000);
  const Eigen::MatrixXd x = level2_patches(c);
  const Eigen::MatrixXd& truth = c.target.M[1];  // unit columns
  Rng rng(11);
  Eigen::MatrixXd start = truth;
  for (Eigen::Index i = 0; i < start.size(); ++i) start(i) += 0.1 * rng.normal();
  start.colwise().normalize();
  const double start_worst = (truth.transpose() * start).diagonal().minCoeff();
  const Eigen::MatrixXd refined = refine_dictionary(x, start, 100);
  const Eigen::MatrixXd fixed_floor = refine_dictionary(x, start, 100, 0.05, 0.05);
  const double worst = (truth.transpose() * refined).diagonal().minCoeff();
  const double worst_fixed = (truth.transpose() * fixed_floor).diagonal().minCoeff();
  std::printf(
      "MOD, 100 rounds: worst column cosine %.6f -> 1 - %.1e (annealed floor), %.6f (fixed "
      "5%% floor)\n",
      start_worst, 1.0 - worst, worst_fixed);
  ASSERT_LT(start_worst, 0.995);  // the start really is off (a k-means start is 0.95-0.99)
  // Noiseless sparse codes: the fixed point is the true dictionary; with the annealed floor
  // 100 rounds reach it to round-off level (printed). Bound 1e-8. The fixed floor is printed for
  // the record (docs/learner.md): it stalls short of the truth.
  EXPECT_GT(worst, 1.0 - 1e-8);
  EXPECT_LT(worst_fixed, worst);
  EXPECT_THROW(refine_dictionary(x, start.topRows(5), 3), InputError);
}

TEST(FitSuperResolution, LeakedChildValuesDoNotDragTheFit) {
  // Decoding through imperfect columns leaves small positive values where a child is off. The
  // fit drops rows it predicts silent, so 5% of the silent child entries set to small values
  // (1e-3 .. 1e-2 — leakage of columns ~1e-3 off) leave the fit close to the exact layer.
  const Case c = make_case(2, 4000);
  Eigen::MatrixXd child = c.batch.s[1];
  Rng rng(5);
  for (Eigen::Index i = 0; i < child.size(); ++i)
    if (child(i) == 0 && rng.uniform() < 0.05) child(i) = 1e-3 + 9e-3 * rng.uniform();
  const UpFit fit = fit_super_resolution(c.batch.s[0], child, c.target, 2);
  const double err = relative_error(fit.weight, c.target.up[0].weight);
  std::printf("leaked child values: weight relative error %.2g\n", err);
  EXPECT_LT(err, 0.02);
}

}  // namespace
}  // namespace fsr
