#include "theory/bounds.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/validate.h"

namespace fsr {
namespace {

const std::vector<double> kDims = {4, 8, 16, 32, 64};
const std::vector<double> kEps = {0.3, 0.1, 0.03, 0.01};

// Grid of points with log N* = log_truth(d, eps) + sigma * N(0, 1).
std::vector<SampleComplexityPoint> grid(const std::function<double(double, double)>& log_truth,
                                        double sigma, std::uint64_t seed,
                                        const std::vector<double>& dims = kDims,
                                        const std::vector<double>& eps = kEps) {
  Rng rng(seed);
  std::vector<SampleComplexityPoint> pts;
  for (double d : dims) {
    for (double e : eps) pts.push_back({d, e, std::exp(log_truth(d, e) + sigma * rng.normal())});
  }
  return pts;
}

double poly_truth(double d, double eps) {  // N* = 5 d^1.5 eps^-2
  return std::log(5.0) + 1.5 * std::log(d) + 2.0 * std::log(1.0 / eps);
}
double expo_truth(double d, double eps) {  // N* = 20 exp(0.15 d) eps^-2
  return std::log(20.0) + 0.15 * d + 2.0 * std::log(1.0 / eps);
}

bool covers(const Interval& i, double value) { return i.lo <= value && value <= i.hi; }

TEST(BoundFit, NoiselessPolynomialDataRecoversExponentsExactly) {
  const std::vector<SampleComplexityPoint> pts = grid(poly_truth, 0.0, 1);
  BoundFitOptions options;
  options.bootstrap_resamples = 200;
  const BoundFit fit = fit_polynomial_bound(pts, options);
  // Least squares on 20 exact points with |log N*| < 20: roundoff ~1e-14; 1e-10 is ample.
  EXPECT_NEAR(fit.d_coefficient, 1.5, 1e-10);
  EXPECT_NEAR(fit.eps_exponent, 2.0, 1e-10);
  EXPECT_NEAR(fit.log_constant, std::log(5.0), 1e-10);
  EXPECT_LT(fit.rss, 1e-20);
  EXPECT_EQ(fit.n_points, 20);
  EXPECT_EQ(fit.n_parameters, 3);
  EXPECT_TRUE(fit.notes.empty());
  // Every resample of exact data refits the same line: degenerate intervals at the truth.
  EXPECT_NEAR(fit.d_coefficient_interval.lo, 1.5, 1e-9);
  EXPECT_NEAR(fit.d_coefficient_interval.hi, 1.5, 1e-9);
  EXPECT_NEAR(fit.predict_log(10.0, 0.05), poly_truth(10.0, 0.05), 1e-9);
}

TEST(BoundFit, NoiselessExponentialDataRecoversRateExactly) {
  const BoundFit fit = fit_exponential_bound(grid(expo_truth, 0.0, 1), {0, 0.95, 1});
  EXPECT_NEAR(fit.d_coefficient, 0.15, 1e-10);
  EXPECT_NEAR(fit.eps_exponent, 2.0, 1e-10);
  EXPECT_NEAR(fit.log_constant, std::log(20.0), 1e-10);
  EXPECT_TRUE(std::isnan(fit.d_coefficient_interval.lo));  // no resamples asked for
}

TEST(BoundFit, AicAndResidualsFollowTheirDefinitions) {
  const std::vector<SampleComplexityPoint> pts = grid(poly_truth, 0.2, 5);
  const BoundFit fit = fit_polynomial_bound(pts, {0, 0.95, 1});
  double rss = 0.0;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const double r = std::log(pts[i].n_star) - fit.predict_log(pts[i].d, pts[i].eps);
    EXPECT_NEAR(fit.residuals[i], r, 1e-12);
    rss += r * r;
  }
  EXPECT_NEAR(fit.rss, rss, 1e-12);
  EXPECT_NEAR(fit.aic, 20 * std::log(rss / 20) + 2 * 3, 1e-10);
}

TEST(BoundFit, BootstrapIntervalCoversPlantedExponents) {
  // Noise sd 0.3 in log N* (35% multiplicative), 20 points, 95% percentile intervals.
  BoundFitOptions options;
  options.bootstrap_resamples = 2000;
  options.seed = 17;
  const BoundFit fit = fit_polynomial_bound(grid(poly_truth, 0.3, 3), options);
  EXPECT_TRUE(covers(fit.d_coefficient_interval, 1.5))
      << "[" << fit.d_coefficient_interval.lo << ", " << fit.d_coefficient_interval.hi << "]";
  EXPECT_TRUE(covers(fit.eps_exponent_interval, 2.0))
      << "[" << fit.eps_exponent_interval.lo << ", " << fit.eps_exponent_interval.hi << "]";
  EXPECT_TRUE(covers(fit.log_constant_interval, std::log(5.0)));
  EXPECT_LT(fit.d_coefficient_interval.lo, fit.d_coefficient);
  EXPECT_GT(fit.d_coefficient_interval.hi, fit.d_coefficient);
  EXPECT_EQ(fit.bootstrap_used + fit.bootstrap_rejected, 2000);
  // Same seed, same intervals; another seed, other intervals.
  const BoundFit again = fit_polynomial_bound(grid(poly_truth, 0.3, 3), options);
  EXPECT_EQ(again.d_coefficient_interval.lo, fit.d_coefficient_interval.lo);
  options.seed = 18;
  const BoundFit other = fit_polynomial_bound(grid(poly_truth, 0.3, 3), options);
  EXPECT_NE(other.d_coefficient_interval.lo, fit.d_coefficient_interval.lo);
}

TEST(BoundFit, BootstrapCoverageIsNearNominalOverReplicates) {
  // 1000 independent noisy data sets; how often does the 90% interval on a cover 1.5? Case
  // resampling of n = 20 points with k = 3 coefficients spreads like the plug-in residual
  // variance, (n - k)/n of the unbiased one, so the expected coverage is about
  // 2 Phi(1.645 sqrt(17/20)) - 1 = 0.87. Binomial sd over 1000 replicates: 0.011;
  // [0.83, 0.92] is about 4 sd on either side (and the seeds are fixed).
  BoundFitOptions options;
  options.bootstrap_resamples = 400;
  options.level = 0.90;
  int covered = 0;
  const int replicates = 1000;
  for (int r = 0; r < replicates; ++r) {
    options.seed = 1000 + r;
    const BoundFit fit = fit_polynomial_bound(grid(poly_truth, 0.3, 5000 + r), options);
    covered += covers(fit.d_coefficient_interval, 1.5);
  }
  const double coverage = static_cast<double>(covered) / replicates;
  EXPECT_GT(coverage, 0.83);
  EXPECT_LT(coverage, 0.92);
  std::printf("90%% interval coverage of the d exponent over %d replicates: %.3f\n", replicates,
              coverage);
}

TEST(CompareBoundModels, PrefersTheModelThatGeneratedTheData) {
  const BoundComparison poly = compare_bound_models(grid(poly_truth, 0.1, 7), {500, 0.95, 1});
  EXPECT_EQ(poly.preferred, "polynomial") << poly.reason;
  EXPECT_GT(poly.delta_aic, 10.0);
  EXPECT_EQ(poly.evidence, "strong");
  EXPECT_GT(poly.polynomial_weight, 0.99);
  EXPECT_GT(poly.bootstrap_polynomial_fraction, 0.95);

  const BoundComparison expo = compare_bound_models(grid(expo_truth, 0.1, 8), {500, 0.95, 1});
  EXPECT_EQ(expo.preferred, "exponential") << expo.reason;
  EXPECT_LT(expo.delta_aic, -10.0);
  EXPECT_LT(expo.polynomial_weight, 0.01);
  EXPECT_LT(expo.bootstrap_polynomial_fraction, 0.05);
  EXPECT_NEAR(expo.exponential.d_coefficient, 0.15, 0.01);  // se ~ 0.1 / (sd(d) sqrt(20))
}

TEST(CompareBoundModels, ConstantDimensionLeavesDUnidentified) {
  const std::vector<SampleComplexityPoint> pts =
      grid(poly_truth, 0.05, 9, /*dims=*/{16.0}, /*eps=*/{0.3, 0.1, 0.05, 0.03, 0.01});
  const BoundComparison c = compare_bound_models(pts, {300, 0.95, 1});
  EXPECT_TRUE(std::isnan(c.polynomial.d_coefficient));
  EXPECT_TRUE(std::isnan(c.polynomial.d_coefficient_interval.lo));
  EXPECT_EQ(c.polynomial.n_parameters, 2);
  ASSERT_FALSE(c.polynomial.notes.empty());
  EXPECT_NE(c.polynomial.notes[0].find("d = 16"), std::string::npos) << c.polynomial.notes[0];
  EXPECT_NEAR(c.polynomial.eps_exponent, 2.0, 0.1);  // 5 points, noise 0.05
  EXPECT_TRUE(covers(c.polynomial.eps_exponent_interval, 2.0));
  EXPECT_EQ(c.preferred, "undecided");
  EXPECT_NEAR(c.delta_aic, 0.0, 1e-9);
}

void expect_input_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    FAIL() << "expected InputError containing '" << needle << "'";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(CompareBoundModels, RejectsBadInputs) {
  std::vector<SampleComplexityPoint> pts = grid(poly_truth, 0.1, 1);
  pts[3].n_star = 0.0;
  expect_input_error([&] { fit_polynomial_bound(pts); }, "points[3].n_star = 0");
  pts[3].n_star = 10.0;
  pts[2].eps = std::nan("");
  expect_input_error([&] { fit_polynomial_bound(pts); }, "points[2].eps = nan");
  // eps tied to d: log(1/eps) = log d, so a and b cannot be told apart.
  std::vector<SampleComplexityPoint> tied;
  for (double d : kDims) tied.push_back({d, 1.0 / d, d * d * d});
  expect_input_error([&] { fit_polynomial_bound(tied); }, "collinear");
  expect_input_error(
      [&] {
        fit_polynomial_bound({{4, 0.1, 10}, {8, 0.05, 30}, {16, 0.1, 50}});
      },
      "needs at least 4 points");
  expect_input_error(
      [&] {
        fit_polynomial_bound(grid(poly_truth, 0.1, 1), {100, 1.0, 1});
      },
      "level = 1");
  expect_input_error(
      [&] {
        fit_polynomial_bound(grid(poly_truth, 0.1, 1), {-1, 0.9, 1});
      },
      "bootstrap_resamples = -1");
}

TEST(ReferenceBound, ClosedForms) {
  const ReferenceBound tm = ReferenceBound::truncated_moment(0.1);
  EXPECT_EQ(tm.name, "truncated_moment");
  EXPECT_NEAR(tm(64.0, 0.1), 1000.0, 1e-9);  // (1/0.1) * 0.1^-2, no d dependence
  EXPECT_NEAR(tm(4.0, 0.1), 1000.0, 1e-9);
  // Q(1) = 1 - Phi(1) = 0.15865525393145705 (tables; Abramowitz & Stegun 26.2).
  const ReferenceBound at_one = ReferenceBound::truncated_moment_at_threshold(1.0);
  EXPECT_NEAR(at_one.constant, 1.0 / 0.15865525393145705, 1e-12);
  EXPECT_NEAR(ReferenceBound::truncated_moment_at_threshold(0.0).constant, 2.0, 1e-15);
  const ReferenceBound sgda = ReferenceBound::sgda_one_layer();
  EXPECT_EQ(sgda.name, "sgda_one_layer");
  EXPECT_NEAR(sgda(10.0, 0.1), 1e4, 1e-8);
  EXPECT_NEAR(sgda.log_value(10.0, 0.1), std::log(1e4), 1e-12);
  const std::vector<ReferenceBound> builtin = reference_bounds();
  ASSERT_EQ(builtin.size(), 2u);
  EXPECT_EQ(builtin[0].name, "truncated_moment");
  EXPECT_EQ(builtin[1].d_exponent, 2.0);
  expect_input_error([] { ReferenceBound::truncated_moment(0.0); }, "active_probability = 0");
  expect_input_error([] { ReferenceBound::truncated_moment(1.5); }, "active_probability = 1.5");
  expect_input_error([&] { sgda(-1.0, 0.1); }, "d = -1");
  // A fit to points drawn from the reference recovers its exponents.
  std::vector<SampleComplexityPoint> pts;
  for (double d : kDims) {
    for (double e : kEps) pts.push_back({d, e, sgda(d, e)});
  }
  const BoundFit fit = fit_polynomial_bound(pts, {0, 0.95, 1});
  EXPECT_NEAR(fit.d_coefficient, sgda.d_exponent, 1e-10);
  EXPECT_NEAR(fit.eps_exponent, sgda.eps_exponent, 1e-10);
}

}  // namespace
}  // namespace fsr
