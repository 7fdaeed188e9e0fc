#include "theory/relu_moments.h"

#include <gtest/gtest.h>

#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "core/validate.h"

namespace fsr {
namespace {

// Independent reference: E[(alpha g - beta)_+^k] = alpha^k phi(t) * int_0^inf u^k e^{-t u - u^2/2}
// du (substituting g = t + u), by adaptive Gauss-Kronrod in long double. No recursion, no erfc.
long double reference_relu_moment(double alpha, double beta, int k, long double* rel_error) {
  const long double t = static_cast<long double>(beta) / alpha;
  auto f = [&](long double u) { return std::pow(u, k) * std::exp(-t * u - 0.5L * u * u); };
  long double error = 0;
  const long double integral = boost::math::quadrature::gauss_kronrod<long double, 61>::integrate(
      f, 0.0L, std::numeric_limits<long double>::infinity(), 30, 1e-17L, &error);
  if (rel_error) *rel_error = error / integral;
  const long double pdf =
      std::exp(-0.5L * t * t) / std::sqrt(2.0L * std::numbers::pi_v<long double>);
  return std::pow(static_cast<long double>(alpha), k) * pdf * integral;
}

TEST(ReluMoments, MatchesIndependentQuadratureOnGrid) {
  // Requirement: 1e-10 relative for t in [-3, 8], k <= 6 (checked up to 10). The implementation
  // is accurate to ~1e-14; the quadrature's own error estimate is checked below 1e-13.
  int checked = 0;
  for (double alpha : {0.5, 1.0, 2.5}) {
    for (double t = -3.0; t <= 8.0 + 1e-9; t += 0.25) {
      const double beta = alpha * t;
      const ReluMoments m = relu_moments(alpha, beta, 10);
      ASSERT_EQ(m.moments.size(), 10u);
      for (int k = 1; k <= 10; ++k) {
        long double quad_error = 0;
        const long double ref = reference_relu_moment(alpha, beta, k, &quad_error);
        ASSERT_LT(quad_error, 1e-13L) << "reference quadrature not converged at t=" << t;
        const double rel = static_cast<double>(std::abs((m.moments[k - 1] - ref) / ref));
        EXPECT_LE(rel, 1e-10) << "alpha=" << alpha << " t=" << t << " k=" << k
                              << " got=" << m.moments[k - 1]
                              << " expected=" << static_cast<double>(ref);
        ++checked;
      }
      // P(active) = Q(t) = the k = 0 integral.
      const long double q_ref = reference_relu_moment(1.0, t, 0, nullptr);
      EXPECT_LE(std::abs((m.p_active - q_ref) / q_ref), 1e-10L) << "t=" << t;
    }
  }
  EXPECT_EQ(checked, 3 * 45 * 10);
}

TEST(ReluMoments, AgreesWithSpecClosedFormsWhereTheyDoNotCancel) {
  // docs/science.md §3: E s = alpha (phi - t Q), E s^2 = alpha^2 ((1 + t^2) Q - t phi). For t <= 2 these
  // lose at most ~3 digits to cancellation: 1e-12 relative.
  for (double t = -3.0; t <= 2.0; t += 0.5) {
    const double alpha = 1.7, beta = alpha * t;
    const double q = 0.5 * std::erfc(t / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * t * t) / std::sqrt(2 * std::numbers::pi);
    const ReluMoments m = relu_moments(alpha, beta, 2);
    EXPECT_NEAR(m.p_active, q, 1e-15);
    EXPECT_NEAR(m.moments[0] / (alpha * (pdf - t * q)), 1.0, 1e-12) << "t=" << t;
    EXPECT_NEAR(m.moments[1] / (alpha * alpha * ((1 + t * t) * q - t * pdf)), 1.0, 1e-12)
        << "t=" << t;
  }
}

TEST(NormalTail, PublishedValuesAndSymmetry) {
  // Q(8) = 6.2209605742717841e-16 (erfc in 50-digit Boost.Multiprecision; also in the normal
  // tail tables, Abramowitz & Stegun 26.2). 1e-14 relative.
  EXPECT_NEAR(normal_q(8.0) / 6.220960574271784e-16, 1.0, 1e-14);
  EXPECT_NEAR(normal_q(0.0), 0.5, 1e-16);
  EXPECT_NEAR(normal_q(1.959963984540054), 0.025, 1e-15);
  for (double t : {-5.0, -1.0, 0.3, 2.0, 6.0}) {
    EXPECT_NEAR(normal_q(t) + normal_q(-t), 1.0, 1e-15) << "t=" << t;
  }
  // log Q beyond where Q itself underflows: log Q(40) = -804.6084420137538 (50-digit
  // Boost.Multiprecision erfc).
  EXPECT_NEAR(log_normal_q(40.0), -804.6084420137538, 1e-11);
  EXPECT_NEAR(log_normal_q(3.0), std::log(normal_q(3.0)), 1e-14);
  // phi / Q is continuous across the switch from the direct ratio to the continued fraction.
  EXPECT_NEAR(inverse_mills_ratio(1.0 - 1e-12) / inverse_mills_ratio(1.0 + 1e-12), 1.0, 1e-11);
  EXPECT_NEAR(inverse_mills_ratio(30.0), 30.0 + 1.0 / 30.0 - 2.0 / (30.0 * 30 * 30), 1e-6);
}

TEST(NormalTail, InverseRoundTrips) {
  for (double p : {1e-300, 1e-16, 1e-3, 0.2, 0.5, 0.8, 1 - 1e-9}) {
    const double t = normal_q_inverse(p);
    EXPECT_NEAR(normal_q(t) / p, 1.0, 1e-12) << "p=" << p << " t=" << t;
  }
}

TEST(MomentRatio, IsOneOverPiAtZeroAndStrictlyDecreasing) {
  // At t = 0: E s = 1/sqrt(2 pi), E s^2 = 1/2, so the ratio is exactly 1/pi.
  EXPECT_NEAR(relu_moment_ratio(0.0), 1.0 / std::numbers::pi, 1e-16);
  double previous = 1.0;
  for (double t = -50.0; t <= 35.0; t += 0.01) {
    const double r = relu_moment_ratio(t);
    ASSERT_LT(r, previous) << "not strictly decreasing at t=" << t;
    ASSERT_GT(r, 0.0) << "t=" << t;
    previous = r;
  }
  // Independent of alpha by construction: check against relu_moments at two scales.
  for (double alpha : {0.1, 10.0}) {
    const ReluMoments m = relu_moments(alpha, alpha * 0.7, 2);
    EXPECT_NEAR(m.moments[0] * m.moments[0] / m.moments[1] / relu_moment_ratio(0.7), 1.0, 1e-14);
  }
}

TEST(MomentRatio, InverseRoundTrips) {
  for (double t : {-1000.0, -30.0, -3.0, -0.5, 0.0, 0.999, 1.0, 1.001, 2.5, 8.0, 20.0}) {
    const double r = relu_moment_ratio(t);
    const double back = relu_t_from_moment_ratio(r);
    // The ratio's slope flattens as t -> -inf (1 - r ~ 1/t^2): the round trip is as good as
    // r's rounding allows, |dt| ~ eps |t|^3 / 2, plus a few ulps.
    const double tol = 1e-13 * std::max(1.0, std::abs(t)) +
                       4 * std::numeric_limits<double>::epsilon() * std::pow(std::abs(t), 3);
    EXPECT_NEAR(back, t, tol) << "r=" << r;
  }
}

// The message names the field, its value and the rule.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(ReluMomentsErrors, NameTheField) {
  EXPECT_EQ(error_of([] { relu_moments(-1.0, 0.0, 2); }), "alpha = -1: must be finite and > 0");
  EXPECT_EQ(error_of([] { relu_moments(0.0, 0.0, 2); }), "alpha = 0: must be finite and > 0");
  EXPECT_NE(error_of([] { relu_moments(1.0, std::nan(""), 2); }).find("beta = nan"),
            std::string::npos);
  EXPECT_NE(error_of([] { relu_moments(1.0, 0.0, 0); }).find("k = 0"), std::string::npos);
  EXPECT_NE(error_of([] { relu_moments(1.0, 0.0, kMaxReluMomentOrder + 1); }).find("k = 17"),
            std::string::npos);
  EXPECT_NE(error_of([] { relu_t_from_moment_ratio(1.0); }).find("r = 1"), std::string::npos);
  EXPECT_NE(error_of([] { relu_t_from_moment_ratio(0.0); }).find("r = 0"), std::string::npos);
  EXPECT_NE(error_of([] { relu_t_from_moment_ratio(1e-320); }).find("must be above"),
            std::string::npos);
  EXPECT_NE(error_of([] { normal_q_inverse(1.5); }).find("p = 1.5"), std::string::npos);
}

}  // namespace
}  // namespace fsr
