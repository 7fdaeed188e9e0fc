#include "theory/relu_moments.h"

#include <algorithm>
#include <boost/math/special_functions/erf.hpp>
#include <boost/math/tools/toms748_solve.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

#include "core/validate.h"

namespace fsr {
namespace {

// Above this t the upward recursion would cancel (its error grows like t^2 / j per step), so the
// ratios I_j / I_{j-1} come from their continued fraction instead. At t <= 1 the upward
// recursion, run in long double (64-bit mantissa), loses < 2 decimal digits up to j = 16.
constexpr double kUpwardRecursionMaxT = 1.0;

// The limits of relu_t_from_moment_ratio's bracket: beyond -1e6 the ratio differs from 1 by
// less than 1e-12, beyond 37 Q(t) is within a few powers of ten of underflow.
constexpr double kRatioBracketLo = -1e6;
constexpr double kRatioBracketHi = 37.0;

// rho_j = I_j / I_{j-1} for j = 1..k at t > 0, from rho_{j-1} = (j - 1) / (t + rho_j).
// The backward recursion is the stable direction for the minimal solution I_j (Miller's
// algorithm); it starts at a depth N from the asymptotic ratio and doubles N until the ratios
// that are returned stop changing. Every operation adds positive numbers: no cancellation.
std::vector<double> partial_moment_ratios(double t, int k) {
  std::vector<double> ratios(static_cast<std::size_t>(k) + 1, 0.0);  // ratios[j] = rho_j
  std::vector<double> previous;
  int depth = k + 32;
  for (int pass = 0; pass < 30; ++pass) {
    // rho_N ~ the positive root of rho (t + rho) = N - 1.
    double rho = 0.5 * (-t + std::sqrt(t * t + 4.0 * (depth - 1)));
    for (int j = depth; j >= 2; --j) {
      rho = (j - 1) / (t + rho);  // rho_{j-1}
      if (j - 1 <= k) ratios[j - 1] = rho;
    }
    if (!previous.empty()) {
      double change = 0.0;
      for (int j = 1; j <= k; ++j) {
        change = std::max(change, std::abs(ratios[j] - previous[j]) / ratios[j]);
      }
      if (change <= 2e-17) break;
    }
    previous = ratios;
    depth *= 2;
  }
  return ratios;
}

// I_0..I_k by the upward recursion in long double, for t <= kUpwardRecursionMaxT.
std::vector<long double> upward_partial_moments(long double t, int k) {
  std::vector<long double> moments(static_cast<std::size_t>(k) + 1);
  const long double q = 0.5L * boost::math::erfc(t / std::numbers::sqrt2_v<long double>);
  const long double pdf =
      std::exp(-0.5L * t * t) / std::sqrt(2.0L * std::numbers::pi_v<long double>);
  moments[0] = q;
  if (k >= 1) moments[1] = pdf - t * q;
  for (int j = 2; j <= k; ++j) moments[j] = (j - 1) * moments[j - 2] - t * moments[j - 1];
  return moments;
}

// log(E[s]^2 / E[s^2]) as a function of t; finite up to t ~ 1e150.
double log_moment_ratio(double t) {
  if (t <= kUpwardRecursionMaxT) {
    const std::vector<long double> m = upward_partial_moments(t, 2);
    return static_cast<double>(std::log(m[1] * m[1] / m[2]));
  }
  const std::vector<double> rho = partial_moment_ratios(t, 2);
  // I_1^2 / I_2 = Q rho_1 / rho_2.
  return log_normal_q(t) + std::log(rho[1]) - std::log(rho[2]);
}

}  // namespace

double normal_pdf(double t) { return std::exp(-0.5 * t * t) / std::sqrt(2.0 * std::numbers::pi); }

double normal_q(double t) { return 0.5 * boost::math::erfc(t / std::numbers::sqrt2); }

double inverse_mills_ratio(double t) {
  if (t <= kUpwardRecursionMaxT) return normal_pdf(t) / normal_q(t);
  // phi / Q = t + I_1 / I_0.
  return t + partial_moment_ratios(t, 1)[1];
}

double log_normal_q(double t) {
  if (t < 30.0) return std::log(normal_q(t));
  // log Q = log phi - log(phi / Q), both far from underflow.
  return -0.5 * t * t - 0.5 * std::log(2.0 * std::numbers::pi) - std::log(inverse_mills_ratio(t));
}

double normal_q_inverse(double p) {
  require_in_range("p", p, 0.0, 1.0);
  return std::numbers::sqrt2 * boost::math::erfc_inv(2.0 * p);
}

std::vector<double> normal_partial_moments(double t, int k) {
  require_finite("t", t);
  require_int_in_range("k", k, 0, kMaxReluMomentOrder);
  std::vector<double> moments(static_cast<std::size_t>(k) + 1);
  if (t <= kUpwardRecursionMaxT) {
    const std::vector<long double> m = upward_partial_moments(t, k);
    for (int j = 0; j <= k; ++j) moments[j] = static_cast<double>(m[j]);
    return moments;
  }
  const std::vector<double> rho = partial_moment_ratios(t, k);
  moments[0] = normal_q(t);
  for (int j = 1; j <= k; ++j) moments[j] = moments[j - 1] * rho[j];
  return moments;
}

ReluMoments relu_moments(double alpha, double beta, int k) {
  require_positive("alpha", alpha);
  require_finite("beta", beta);
  require_int_in_range("k", k, 1, kMaxReluMomentOrder);
  const double t = beta / alpha;
  if (!std::isfinite(t)) fail_field("beta / alpha", t, "must be finite");
  const std::vector<double> partial = normal_partial_moments(t, k);
  ReluMoments out;
  out.p_active = partial[0];
  out.moments.resize(static_cast<std::size_t>(k));
  double scale = 1.0;
  for (int j = 1; j <= k; ++j) {
    scale *= alpha;
    out.moments[j - 1] = scale * partial[j];
  }
  return out;
}

double relu_moment_ratio(double t) {
  require_finite("t", t);
  if (t > 1e150) return 0.0;
  return std::exp(log_moment_ratio(t));
}

double relu_t_from_moment_ratio(double r) {
  require_in_range("r", r, 0.0, 1.0);
  const double log_r = std::log(r);
  auto f = [log_r](double t) { return log_moment_ratio(t) - log_r; };
  const double f_lo = f(kRatioBracketLo);
  const double f_hi = f(kRatioBracketHi);
  if (f_lo < 0) {
    fail_field("r", r,
               "must be below " + format_value(relu_moment_ratio(kRatioBracketLo)) +
                   " (t would be below " + format_value(kRatioBracketLo) + ")");
  }
  if (f_hi > 0) {
    fail_field("r", r,
               "must be above " + format_value(relu_moment_ratio(kRatioBracketHi)) +
                   " (t would be above " + format_value(kRatioBracketHi) + ")");
  }
  if (f_lo == 0) return kRatioBracketLo;
  if (f_hi == 0) return kRatioBracketHi;
  // Stop at a few ulps of t (absolute near t = 0, where a relative test would never stop).
  auto tolerance = [](double a, double b) {
    return std::abs(a - b) <= 4 * std::numeric_limits<double>::epsilon() *
                                  std::max(1.0, std::min(std::abs(a), std::abs(b)));
  };
  std::uintmax_t max_iter = 300;
  const auto [a, b] = boost::math::tools::toms748_solve(f, kRatioBracketLo, kRatioBracketHi, f_lo,
                                                        f_hi, tolerance, max_iter);
  return 0.5 * (a + b);
}

}  // namespace fsr
