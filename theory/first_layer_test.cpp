#include "theory/first_layer.h"

#include <gtest/gtest.h>

#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <boost/math/special_functions/erf.hpp>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <tuple>

#include "core/rng.h"
#include "core/validate.h"
#include "theory/relu_moments.h"

namespace fsr {
namespace {

// ---- Independent references (long double, no Owen's T, no closed forms) -----------------------

long double q_ld(long double x) { return 0.5L * boost::math::erfc(x / std::sqrt(2.0L)); }
long double phi_ld(long double x) {
  return std::exp(-0.5L * x * x) / std::sqrt(2.0L * std::numbers::pi_v<long double>);
}

template <class F>
long double integrate_above(F f, long double lo, long double* rel_error) {
  long double error = 0;
  const long double v = boost::math::quadrature::gauss_kronrod<long double, 61>::integrate(
      f, lo, std::numeric_limits<long double>::infinity(), 30, 1e-16L, &error);
  if (rel_error) *rel_error = v > 0 ? error / v : error;
  return v;
}

// P(X > h, Y > k) = int_h^inf phi(x) P(Y > k | X = x) dx, Y | x ~ N(rho x, 1 - rho^2).
long double reference_orthant(double h, double k, double rho, long double* rel_error) {
  const long double s = std::sqrt(1.0L - static_cast<long double>(rho) * rho);
  return integrate_above([&](long double x) { return phi_ld(x) * q_ld((k - rho * x) / s); }, h,
                         rel_error);
}

// E[(X - h)_+ (Y - k)_+] = int_h^inf (x - h) phi(x) s E[(Z - c)_+] dx, c = (k - rho x) / s.
long double reference_cross(double h, double k, double rho, long double* rel_error) {
  const long double s = std::sqrt(1.0L - static_cast<long double>(rho) * rho);
  return integrate_above(
      [&](long double x) {
        const long double c = (k - rho * x) / s;
        return (x - h) * phi_ld(x) * s * (phi_ld(c) - c * q_ld(c));
      },
      h, rel_error);
}

// Codes of G*'s first layer: g = A z (rows of A unit norm), S = ReLU(alpha g - beta).
Eigen::MatrixXd draw_codes(const Eigen::MatrixXd& a, const Eigen::VectorXd& alpha,
                           const Eigen::VectorXd& beta, int n, std::uint64_t seed) {
  Rng rng(seed);
  Eigen::MatrixXd s(n, a.rows());
  Eigen::VectorXd z(a.cols());
  for (int r = 0; r < n; ++r) {
    for (Eigen::Index c = 0; c < a.cols(); ++c) z(c) = rng.normal();
    const Eigen::VectorXd g = a * z;
    for (Eigen::Index i = 0; i < a.rows(); ++i) s(r, i) = std::max(0.0, alpha(i) * g(i) - beta(i));
  }
  return s;
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

double min_eig(const Eigen::MatrixXd& a) {
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(a).eigenvalues().minCoeff();
}

// ---- Bivariate orthant ------------------------------------------------------------------------

TEST(BivariateOrthant, ZeroCorrelationIsTheProduct) {
  for (double h : {-2.0, 0.0, 0.4, 3.0}) {
    for (double k : {-1.0, 0.0, 1.5}) {
      // Rounding only: 1e-15 absolute.
      EXPECT_NEAR(bivariate_orthant(h, k, 0.0), normal_q(h) * normal_q(k), 1e-15)
          << "h=" << h << " k=" << k;
    }
  }
}

TEST(BivariateOrthant, ArcsineLawAtZeroThresholds) {
  for (double rho = -1.0; rho <= 1.0 + 1e-12; rho += 0.125) {
    const double r = std::clamp(rho, -1.0, 1.0);
    EXPECT_NEAR(bivariate_orthant(0.0, 0.0, r), 0.25 + std::asin(r) / (2 * std::numbers::pi), 1e-15)
        << "rho=" << r;
  }
}

TEST(BivariateOrthant, ContinuousAtTheEndsOfRho) {
  // P(rho=1) = Q(max(h, k)), P(rho=-1) = max(0, Q(h) + Q(k) - 1); the distance to the end is
  // O(sqrt(1 - rho^2)) = O(1.4e-6) at 1 - rho = 1e-12 (up to a phi factor): 1e-5 absolute.
  for (double h : {-1.5, -0.2, 0.0, 0.8, 2.0}) {
    for (double k : {-0.7, 0.0, 1.1}) {
      EXPECT_DOUBLE_EQ(bivariate_orthant(h, k, 1.0), normal_q(std::max(h, k)));
      EXPECT_NEAR(bivariate_orthant(h, k, -1.0), std::max(0.0, normal_q(h) + normal_q(k) - 1.0),
                  1e-15);
      EXPECT_NEAR(bivariate_orthant(h, k, 1.0 - 1e-12), bivariate_orthant(h, k, 1.0), 1e-5)
          << "h=" << h << " k=" << k;
      EXPECT_NEAR(bivariate_orthant(h, k, -1.0 + 1e-12), bivariate_orthant(h, k, -1.0), 1e-5)
          << "h=" << h << " k=" << k;
    }
  }
}

TEST(BivariateOrthant, MatchesConditionalQuadrature) {
  // Owen's T evaluation in double: ~1e-16 absolute; the reference is long double.
  // Tolerance 2e-15 absolute + 1e-12 relative.
  for (double h : {-2.5, -1.0, 0.0, 0.7, 2.0, 3.5}) {
    for (double k : {-1.8, 0.0, 0.3, 1.2, 3.0}) {
      for (double rho : {-0.95, -0.5, -0.1, 0.0, 0.3, 0.8, 0.99}) {
        long double quad_error = 0;
        const long double ref = reference_orthant(h, k, rho, &quad_error);
        ASSERT_LT(quad_error, 1e-12L) << "reference not converged";
        const double got = bivariate_orthant(h, k, rho);
        EXPECT_NEAR(got, static_cast<double>(ref), 2e-15 + 1e-12 * static_cast<double>(ref))
            << "h=" << h << " k=" << k << " rho=" << rho;
      }
    }
  }
}

// ---- E[s_i s_j] -------------------------------------------------------------------------------

TEST(ReluCrossMoment, MatchesConditionalQuadrature) {
  // The closed form subtracts terms up to ~h k P(both); at |t| <= 3 that costs <= 3 digits:
  // 1e-11 relative + 1e-16 absolute.
  for (double h : {-2.0, -0.5, 0.0, 1.0, 2.5}) {
    for (double k : {-1.0, 0.4, 2.0}) {
      for (double rho : {-0.9, -0.3, 0.0, 0.45, 0.95}) {
        const double ai = 1.3, aj = 0.6;
        long double quad_error = 0;
        const long double ref = ai * aj * reference_cross(h, k, rho, &quad_error);
        ASSERT_LT(quad_error, 1e-12L);
        const double got = relu_cross_moment(ai, ai * h, aj, aj * k, rho);
        EXPECT_NEAR(got, static_cast<double>(ref), 1e-16 + 1e-11 * static_cast<double>(ref))
            << "h=" << h << " k=" << k << " rho=" << rho;
      }
    }
  }
}

TEST(ReluCrossMoment, SpecialCases) {
  // rho = 0: independent, E[s_i] E[s_j]; rho = 1 with the same unit: E[s^2]. Rounding: 1e-14.
  const double e1 = relu_moments(1.0, 0.5, 1).moments[0];
  const double e2 = relu_moments(2.0, -0.3, 1).moments[0];
  EXPECT_NEAR(relu_cross_moment(1.0, 0.5, 2.0, -0.3, 0.0) / (e1 * e2), 1.0, 1e-14);
  EXPECT_NEAR(relu_cross_moment(1.5, 0.5, 1.5, 0.5, 1.0) / relu_moments(1.5, 0.5, 2).moments[1],
              1.0, 1e-14);
  // Continuity at the ends (distance O(sqrt(1 - rho^2)) ~ 1.4e-6): 1e-5 relative.
  for (double rho_end : {-1.0, 1.0}) {
    const double end = relu_cross_moment(1.0, -0.5, 0.8, -0.2, rho_end);
    const double near = relu_cross_moment(1.0, -0.5, 0.8, -0.2, rho_end * (1 - 1e-12));
    EXPECT_NEAR(near, end, 1e-5 * end) << "rho_end=" << rho_end;
  }
  // Disjoint supports at rho = -1: g_i > 1 and -g_i > 1 never hold together.
  EXPECT_EQ(relu_cross_moment(1.0, 1.0, 1.0, 1.0, -1.0), 0.0);
}

// ---- Inverting for rho ------------------------------------------------------------------------

TEST(CorrelationInversion, RoundTripsAndFlags) {
  for (double h : {-1.0, 0.0, 1.3}) {
    for (double k : {-0.4, 0.9, 2.0}) {
      for (double rho : {-0.9, -0.4, 0.0, 0.5, 0.95}) {
        // The inversion is as good as its conditioning: an error of ~1e-16 in the statistic
        // moves rho by 1e-16 / slope. dP/drho = phi_2(h, k; rho) (the bivariate density) and
        // dE[s_i s_j]/drho = alpha_i alpha_j P(both active); tolerance 1e-11 + 1e-15 / slope.
        const double s2 = 1 - rho * rho;
        const double density = std::exp(-(h * h - 2 * rho * h * k + k * k) / (2 * s2)) /
                               (2 * std::numbers::pi * std::sqrt(s2));
        RhoFlag flag = RhoFlag::kUndefined;
        const double p = bivariate_orthant(h, k, rho);
        EXPECT_NEAR(correlation_from_coactivation(p, h, k, &flag), rho, 1e-11 + 1e-15 / density)
            << "h=" << h << " k=" << k;
        EXPECT_NE(flag, RhoFlag::kUndefined);
        const double m = relu_cross_moment(1.2, 1.2 * h, 0.7, 0.7 * k, rho);
        EXPECT_NEAR(correlation_from_cross_moment(m, 1.2, 1.2 * h, 0.7, 0.7 * k, &flag), rho,
                    1e-11 + 1e-15 / bivariate_orthant(h, k, rho))
            << "h=" << h << " k=" << k;
        EXPECT_NE(flag, RhoFlag::kUndefined);
      }
    }
  }
  RhoFlag flag = RhoFlag::kOk;
  // Two units active 16% of the time that never co-activate: at or below the rho = -1 value.
  EXPECT_EQ(correlation_from_coactivation(0.0, 1.0, 1.0, &flag), -1.0);
  EXPECT_EQ(flag, RhoFlag::kClampedLow);
  EXPECT_EQ(correlation_from_coactivation(normal_q(1.0), 1.0, 1.0, &flag), 1.0);
  EXPECT_EQ(flag, RhoFlag::kClampedHigh);
  EXPECT_EQ(correlation_from_cross_moment(10.0, 1.0, 0.0, 1.0, 0.0, &flag), 1.0);
  EXPECT_EQ(flag, RhoFlag::kClampedHigh);
  EXPECT_NE(error_of([] { correlation_from_coactivation(1.5, 0.0, 0.0); }).find("p_both = 1.5"),
            std::string::npos);
  EXPECT_NE(error_of([] { bivariate_orthant(0.0, 0.0, 1.2); }).find("rho = 1.2"),
            std::string::npos);
}

// ---- Planted recovery -------------------------------------------------------------------------

struct Planted {
  Eigen::MatrixXd a;  // 4 x 3, unit rows: rho = a a^T
  Eigen::VectorXd alpha, beta;
};

Planted planted() {
  Planted p;
  p.a.resize(4, 3);
  p.a << 1, 0, 0, 0.6, 0.8, 0, 0.3, -0.5, 0.5, -0.2, 0.4, 0.7;
  p.a.rowwise().normalize();
  p.alpha.resize(4);
  p.alpha << 1.0, 0.7, 2.0, 1.3;
  Eigen::VectorXd t(4);
  t << 0.0, 0.5, 1.0, 1.5;  // active 50%, 31%, 16%, 6.7%
  p.beta = p.alpha.cwiseProduct(t);
  return p;
}

using MethodPair = std::tuple<std::string, std::string>;  // unit_method, rho_method

class PlantedRecovery : public ::testing::TestWithParam<MethodPair> {};

TEST_P(PlantedRecovery, WithinThreeStandardErrors) {
  // Flake budget: the seeds are fixed, so the test is deterministic. With other seeds each of
  // the 24 (alpha, beta) checks fails with probability ~0.3%, i.e. ~6% per run of the whole
  // case. rho has no standard error: its RMSE over 50 seeds at N = 2e4 is 0.008-0.021 for
  // either method, so 0.07 (> 3 RMSE) is the tolerance.
  const auto& [unit_method, rho_method] = GetParam();
  const Planted p = planted();
  const Eigen::MatrixXd rho_true = p.a * p.a.transpose();
  for (std::uint64_t seed : {11u, 12u, 13u}) {
    const Eigen::MatrixXd s = draw_codes(p.a, p.alpha, p.beta, 20000, seed);
    FirstLayerOptions options;
    options.unit_method = unit_method;
    options.rho_method = rho_method;
    const FirstLayerFit fit = fit_first_layer(s, options);
    ASSERT_EQ(fit.rho_method, rho_method);
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(fit.status[i], "ok") << "unit " << i;
      const std::string expected_method =
          unit_method != "auto"
              ? unit_method
              : (static_cast<double>(fit.n_active[i]) / 20000 < 0.3 ? "mle" : "moments");
      EXPECT_EQ(fit.method[i], expected_method) << "unit " << i;
      EXPECT_LE(std::abs(fit.alpha(i) - p.alpha(i)), 3 * fit.stderr_alpha(i))
          << "seed " << seed << " unit " << i << ": alpha " << fit.alpha(i) << " +- "
          << fit.stderr_alpha(i) << " vs planted " << p.alpha(i);
      EXPECT_LE(std::abs(fit.beta(i) - p.beta(i)), 3 * fit.stderr_beta(i))
          << "seed " << seed << " unit " << i << ": beta " << fit.beta(i) << " +- "
          << fit.stderr_beta(i) << " vs planted " << p.beta(i);
    }
    EXPECT_LE((fit.rho - rho_true).cwiseAbs().maxCoeff(), 0.07)
        << "seed " << seed << "\nestimated\n"
        << fit.rho << "\nplanted\n"
        << rho_true;
    EXPECT_TRUE((fit.rho_flag.array() == 0).all());
    EXPECT_GE(fit.psd_repair.min_eigenvalue_after, -1e-10);
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, PlantedRecovery,
                         ::testing::Combine(::testing::Values("moments", "mle", "auto"),
                                            ::testing::Values("cross_moment", "coactivation")),
                         [](const ::testing::TestParamInfo<MethodPair>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

// ---- Statistical behaviour of the estimators --------------------------------------------------

// RMSE of alpha and beta over `repeats` draws of one unit.
struct Spread {
  double rmse_alpha = 0, rmse_beta = 0, mean_se_alpha = 0, mean_se_beta = 0;
};

template <class Fit>
Spread spread(Fit fit, double alpha, double beta, int n, int repeats, std::uint64_t seed0) {
  Eigen::MatrixXd one(1, 1);
  one << 1.0;
  Spread out;
  for (int r = 0; r < repeats; ++r) {
    const Eigen::MatrixXd s = draw_codes(one, Eigen::VectorXd::Constant(1, alpha),
                                         Eigen::VectorXd::Constant(1, beta), n, seed0 + r);
    const UnitFit u = fit(s.col(0));
    EXPECT_TRUE(u.ok) << u.status;
    out.rmse_alpha += (u.alpha - alpha) * (u.alpha - alpha);
    out.rmse_beta += (u.beta - beta) * (u.beta - beta);
    out.mean_se_alpha += u.stderr_alpha;
    out.mean_se_beta += u.stderr_beta;
  }
  out.rmse_alpha = std::sqrt(out.rmse_alpha / repeats);
  out.rmse_beta = std::sqrt(out.rmse_beta / repeats);
  out.mean_se_alpha /= repeats;
  out.mean_se_beta /= repeats;
  return out;
}

auto moments_fit = [](const Eigen::VectorXd& s) { return fit_unit_moments(s); };
auto mle_fit = [](const Eigen::VectorXd& s) { return fit_unit_mle(s); };

TEST(MomentEstimator, ErrorScalesAsInverseSqrtN) {
  // docs/science.md §3: error ∝ N^{-1/2}, so RMSE(N) / RMSE(16 N) ~ 4. With 200 repeats each RMSE has a
  // relative sd of ~5%, the ratio ~7%: the band [3.2, 5.0] is about 3 sd wide on each side.
  const Spread small = spread(moments_fit, 1.0, 0.5, 1000, 200, 5000);
  const Spread large = spread(moments_fit, 1.0, 0.5, 16000, 200, 6000);
  const double ratio_alpha = small.rmse_alpha / large.rmse_alpha;
  const double ratio_beta = small.rmse_beta / large.rmse_beta;
  EXPECT_GT(ratio_alpha, 3.2) << "RMSE(alpha) " << small.rmse_alpha << " -> " << large.rmse_alpha;
  EXPECT_LT(ratio_alpha, 5.0) << "RMSE(alpha) " << small.rmse_alpha << " -> " << large.rmse_alpha;
  EXPECT_GT(ratio_beta, 3.2) << "RMSE(beta) " << small.rmse_beta << " -> " << large.rmse_beta;
  EXPECT_LT(ratio_beta, 5.0) << "RMSE(beta) " << small.rmse_beta << " -> " << large.rmse_beta;
}

TEST(UnitEstimators, StandardErrorsMatchTheSpreadOverRepeats) {
  // The asymptotic standard errors should match the RMSE over 200 repeats (its own relative sd
  // ~5%, plus O(1/N) bias of the plug-in): accept a ratio in [0.8, 1.25].
  for (double t : {0.0, 1.0}) {
    const double alpha = 1.4, beta = 1.4 * t;
    const Spread mom = spread(moments_fit, alpha, beta, 4000, 200, 7000);
    const Spread mle = spread(mle_fit, alpha, beta, 4000, 200, 7000);
    for (const auto& [name, sp] : {std::pair{"moments", mom}, std::pair{"mle", mle}}) {
      EXPECT_NEAR(sp.mean_se_alpha / sp.rmse_alpha, 1.0, 0.25)
          << name << " t=" << t << ": mean se " << sp.mean_se_alpha << " rmse " << sp.rmse_alpha;
      EXPECT_NEAR(sp.mean_se_beta / sp.rmse_beta, 1.0, 0.25)
          << name << " t=" << t << ": mean se " << sp.mean_se_beta << " rmse " << sp.rmse_beta;
    }
  }
}

TEST(UnitEstimators, MleBeatsMomentsOnASparseUnit) {
  // t = 2 (2.3% active, ~90 active samples of 4000). Measured over 200 repeats: the MLE's RMSE
  // is ~20% below the moment estimator's for both parameters; the paired comparison on the same
  // draws has far less noise than that gap.
  const Spread mom = spread(moments_fit, 1.3, 2.6, 4000, 200, 9000);
  const Spread mle = spread(mle_fit, 1.3, 2.6, 4000, 200, 9000);
  EXPECT_LT(mle.rmse_alpha, mom.rmse_alpha)
      << "mle " << mle.rmse_alpha << " moments " << mom.rmse_alpha;
  EXPECT_LT(mle.rmse_beta, mom.rmse_beta)
      << "mle " << mle.rmse_beta << " moments " << mom.rmse_beta;
}

// ---- PSD repair -------------------------------------------------------------------------------

TEST(PsdRepair, HighamsPublishedExample) {
  // Higham (2002), IMA J. Numer. Anal. 22, §4: the nearest correlation matrix to
  // [[1 1 0] [1 1 1] [0 1 1]] is [[1 .7607 .1573] [.7607 1 .7607] [.1573 .7607 1]] (4 digits).
  Eigen::MatrixXd a(3, 3);
  a << 1, 1, 0, 1, 1, 1, 0, 1, 1;
  const Eigen::MatrixXd before = a;
  const PsdRepair report = repair_correlation_matrix(a, "higham");
  EXPECT_TRUE(report.repaired);
  EXPECT_NEAR(report.min_eigenvalue_before, 1 - std::sqrt(2.0), 1e-14);
  EXPECT_GE(report.min_eigenvalue_after, -1e-12);
  EXPECT_NEAR(a(0, 1), 0.7607, 1e-4);
  EXPECT_NEAR(a(1, 2), 0.7607, 1e-4);
  EXPECT_NEAR(a(0, 2), 0.1573, 1e-4);
  EXPECT_NEAR((a.diagonal().array() - 1).abs().maxCoeff(), 0.0, 1e-15);
  EXPECT_NEAR(report.frobenius_change, (a - before).norm(), 1e-15);

  // Clipping also gives a correlation matrix, never nearer than Higham's.
  Eigen::MatrixXd c = before;
  const PsdRepair clipped = repair_correlation_matrix(c, "clip");
  EXPECT_TRUE(clipped.repaired);
  EXPECT_GE(min_eig(c), -1e-12);
  EXPECT_NEAR((c.diagonal().array() - 1).abs().maxCoeff(), 0.0, 1e-15);
  EXPECT_GE(clipped.frobenius_change, report.frobenius_change - 1e-9);

  // "none" only reports; an already-PSD matrix is left alone.
  Eigen::MatrixXd n = before;
  EXPECT_FALSE(repair_correlation_matrix(n, "none").repaired);
  EXPECT_EQ(n, before);
  Eigen::MatrixXd ok = Eigen::MatrixXd::Identity(3, 3);
  ok(0, 1) = ok(1, 0) = 0.5;
  const PsdRepair untouched = repair_correlation_matrix(ok);
  EXPECT_FALSE(untouched.repaired);
  EXPECT_EQ(untouched.frobenius_change, 0.0);
}

TEST(PsdRepair, FitRepairsAnIndefiniteEstimate) {
  // Six units driven by a 2-dim latent: the true rho has rank 2, so the noisy pairwise estimates
  // from 300 samples are indefinite.
  Eigen::MatrixXd a(6, 2);
  a << 1, 0, 0, 1, 0.6, 0.8, 0.8, -0.6, -0.6, 0.8, 0.7, 0.7;
  a.rowwise().normalize();
  const Eigen::VectorXd alpha = Eigen::VectorXd::Ones(6);
  const Eigen::VectorXd beta = Eigen::VectorXd::Constant(6, 0.2);
  const FirstLayerFit fit = fit_first_layer(draw_codes(a, alpha, beta, 300, 3));
  ASSERT_TRUE(fit.psd_repair.repaired) << "raw rho\n" << fit.rho_raw;
  EXPECT_EQ(fit.psd_repair.method, "higham");
  EXPECT_LT(fit.psd_repair.min_eigenvalue_before, 0.0);
  EXPECT_NEAR(fit.psd_repair.min_eigenvalue_before, min_eig(fit.rho_raw), 1e-12);
  EXPECT_GE(min_eig(fit.rho), -1e-12);
  EXPECT_NEAR((fit.rho.diagonal().array() - 1).abs().maxCoeff(), 0.0, 1e-15);
  EXPECT_NEAR(fit.psd_repair.frobenius_change, (fit.rho - fit.rho_raw).norm(), 1e-12);
}

// ---- Edge cases and errors --------------------------------------------------------------------

TEST(FitFirstLayer, DeadUnitIsFlaggedNotFatal) {
  const Planted p = planted();
  Eigen::MatrixXd s = draw_codes(p.a, p.alpha, p.beta, 5000, 21);
  s.col(2).setZero();  // never active
  for (const char* rho_method : {"cross_moment", "coactivation"}) {
    FirstLayerOptions options;
    options.rho_method = rho_method;
    const FirstLayerFit fit = fit_first_layer(s, options);
    EXPECT_TRUE(std::isnan(fit.alpha(2)));
    EXPECT_TRUE(std::isnan(fit.stderr_beta(2)));
    EXPECT_EQ(fit.n_active[2], 0);
    EXPECT_NE(fit.status[2].find("too few active samples"), std::string::npos) << fit.status[2];
    EXPECT_EQ(fit.status[0], "ok");
    EXPECT_TRUE(std::isfinite(fit.alpha(3)));
    EXPECT_TRUE(std::isnan(fit.rho(2, 0)));
    EXPECT_EQ(fit.rho(2, 2), 1.0);
    EXPECT_EQ(fit.rho_flag(2, 0), static_cast<int>(RhoFlag::kUndefined));
    EXPECT_TRUE(std::isfinite(fit.rho(0, 3)));
  }
}

TEST(FitFirstLayer, AlwaysActiveUnitHasNoCoactivationInformation) {
  Eigen::MatrixXd a(2, 2);
  a << 1, 0, 0.6, 0.8;
  Eigen::VectorXd alpha(2), beta(2);
  alpha << 1.0, 1.0;
  beta << -8.0, 0.0;  // unit 0 is active unless g < -8: always, in practice
  const Eigen::MatrixXd s = draw_codes(a, alpha, beta, 4000, 5);
  FirstLayerOptions options;
  options.rho_method = "coactivation";
  FirstLayerFit fit = fit_first_layer(s, options);
  EXPECT_EQ(fit.n_active[0], 4000);
  EXPECT_EQ(fit.status[0], "ok");
  EXPECT_EQ(fit.rho_flag(0, 1), static_cast<int>(RhoFlag::kUndefined));
  // The magnitudes still carry it: 0.1 ~ 5 sd of the estimate at N = 4000.
  options.rho_method = "cross_moment";
  fit = fit_first_layer(s, options);
  EXPECT_NEAR(fit.rho(0, 1), 0.6, 0.1);
}

TEST(FitFirstLayer, ErrorsNameTheField) {
  Eigen::MatrixXd s = Eigen::MatrixXd::Ones(4, 3);
  s(3, 1) = -0.5;
  EXPECT_EQ(error_of([&] { fit_first_layer(s); }),
            "samples[3, 1] = -0.5: must be >= 0 (a ReLU output)");
  s(3, 1) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(error_of([&] { fit_first_layer(s); }), "samples[3, 1] = nan: must be finite");
  s(3, 1) = std::numeric_limits<double>::infinity();
  EXPECT_EQ(error_of([&] { fit_first_layer(s); }), "samples[3, 1] = inf: must be finite");
  EXPECT_EQ(error_of([] { fit_first_layer(Eigen::MatrixXd::Ones(1, 3)); }),
            "samples = (1, 3): must have at least 2 rows (one row per sample)");
  EXPECT_EQ(error_of([] { fit_first_layer(Eigen::MatrixXd::Zero(10, 3)); }),
            "samples = (10, 3): has no positive entry: no unit is ever active");
  FirstLayerOptions bad;
  bad.unit_method = "median";
  EXPECT_EQ(error_of([&] { fit_first_layer(Eigen::MatrixXd::Ones(4, 2), bad); }),
            "unit_method = median: must be one of moments, mle, auto");
  bad = {};
  bad.rho_method = "pearson";
  EXPECT_NE(error_of([&] {
              fit_first_layer(Eigen::MatrixXd::Ones(4, 2), bad);
            }).find("rho_method = pearson"),
            std::string::npos);
  bad = {};
  bad.psd_repair = "nearest";
  EXPECT_NE(error_of([&] {
              fit_first_layer(Eigen::MatrixXd::Ones(4, 2), bad);
            }).find("psd_repair = nearest"),
            std::string::npos);

  Eigen::VectorXd v = Eigen::VectorXd::Ones(5);
  v(2) = -1.0;
  EXPECT_EQ(error_of([&] { fit_unit_moments(v); }),
            "samples[2] = -1: must be >= 0 (a ReLU output)");
  EXPECT_EQ(error_of([&] { fit_unit_mle(v); }), "samples[2] = -1: must be >= 0 (a ReLU output)");
  EXPECT_NE(error_of([] { relu_cross_moment(-1.0, 0.0, 1.0, 0.0, 0.5); }).find("alpha_i = -1"),
            std::string::npos);
}

TEST(UnitEstimators, DegenerateUnitsAreFlagged) {
  Eigen::VectorXd one_active = Eigen::VectorXd::Zero(100);
  one_active(7) = 2.0;
  for (const UnitFit& u : {fit_unit_moments(one_active), fit_unit_mle(one_active)}) {
    EXPECT_FALSE(u.ok);
    EXPECT_TRUE(std::isnan(u.alpha));
    EXPECT_EQ(u.n_active, 1);
    EXPECT_EQ(u.status, "too few active samples: n_active = 1 (need >= 2)");
  }
  const UnitFit constant = fit_unit_mle(Eigen::VectorXd::Constant(50, 3.0));
  EXPECT_FALSE(constant.ok);
  EXPECT_NE(constant.status.find("degenerate"), std::string::npos) << constant.status;
}

}  // namespace
}  // namespace fsr
