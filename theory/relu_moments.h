// Closed forms for one first-layer unit of G* (docs/science.md §3): s = ReLU(alpha * g - beta), g ~ N(0, 1).
// With t = beta / alpha the unit is active with probability Q(t) = 1 - Phi(t) and
// E[s^j] = alpha^j * I_j(t), where I_j(t) = E[(g - t)_+^j] are the partial moments of the
// standard normal above t. Everything here is accurate to a few ulps * j in relative terms for
// t up to ~37 (where Q(t) underflows), including the far tail where 1 - Phi(t) and
// phi(t) - t Q(t) would cancel; see docs/theory_estimators.md.
//
//   fsr::ReluMoments m = fsr::relu_moments(/*alpha=*/2.0, /*beta=*/1.0, /*k=*/4);
//   double p = m.p_active;                                 // Q(0.5)
//   double t = fsr::relu_t_from_moment_ratio(m.moments[0] * m.moments[0] / m.moments[1]);
#pragma once

#include <vector>

namespace fsr {

// Highest moment order relu_moments and normal_partial_moments accept.
inline constexpr int kMaxReluMomentOrder = 16;

struct ReluMoments {
  double p_active = 0.0;        // P(s > 0) = Q(beta / alpha)
  std::vector<double> moments;  // moments[j - 1] = E[s^j], j = 1..k
};

// The moments of s = ReLU(alpha g - beta) of orders 1..k.
// alpha: finite and > 0; beta: any finite real (negative means mostly active);
// k: 1..kMaxReluMomentOrder. Throws fsr::InputError naming the field otherwise.
ReluMoments relu_moments(double alpha, double beta, int k);

// I_j(t) = E[(g - t)_+^j] for j = 0..k (I_0 = Q(t)); t finite, k in 0..kMaxReluMomentOrder.
// Upward recursion I_j = (j - 1) I_{j-2} - t I_{j-1} for t <= 1 (no cancellation), the
// continued fraction for the ratios I_j / I_{j-1} (downward, Miller-style) for t > 1.
std::vector<double> normal_partial_moments(double t, int k);

double normal_pdf(double t);           // phi(t)
double normal_q(double t);             // Q(t) = 1 - Phi(t), accurate in the upper tail
double log_normal_q(double t);         // log Q(t), finite for every finite t
double normal_q_inverse(double p);     // t with Q(t) = p, p in (0, 1)
double inverse_mills_ratio(double t);  // phi(t) / Q(t), finite for every finite t

// E[s]^2 / E[s^2] as a function of t = beta / alpha alone: 1/pi at t = 0, strictly decreasing
// from 1 (t -> -inf) to 0 (t -> +inf). 0 once Q(t) underflows (t > ~38).
double relu_moment_ratio(double t);

// The t with relu_moment_ratio(t) = r, r in (0, 1), by a bracketed TOMS 748 root find on
// log(ratio). Throws fsr::InputError naming "r" when r is outside (0, 1) or so close to an end
// that |t| would exceed the representable range (t < -1e7 or t > 37).
double relu_t_from_moment_ratio(double r);

}  // namespace fsr
