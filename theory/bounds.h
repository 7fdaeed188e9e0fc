// Sample-complexity exponents (docs/science.md §3, §5 "N*(d, ε) sweeps"): fit how the number of samples N*
// needed to reach error ε grows with the dimension d, put bootstrap intervals on the exponents,
// and test polynomial growth (what the theorem's poly(d, 1/ε) allows) against exponential growth
// in d. Reference bounds from the literature are provided to plot against.
//
//   std::vector<fsr::SampleComplexityPoint> pts = {{/*d=*/8, /*eps=*/0.1, /*n_star=*/4000}, ...};
//   fsr::BoundComparison c = fsr::compare_bound_models(pts);
//   // c.polynomial.d_coefficient ± its interval; c.preferred == "polynomial", c.delta_aic > 0
//
// Models (natural logarithms):
//   polynomial : log N* = a  log d + b log(1/ε) + c      (N* = e^c d^a ε^-b)
//   exponential: log N* = a' d     + b log(1/ε) + c'     (N* = e^c' exp(a' d) ε^-b)
// Both have k = 3 coefficients, so AIC = n log(RSS/n) + 2k compares them by their residuals
// alone. A coefficient whose feature does not vary over the points (all d equal, or all ε
// equal) is not identifiable: it is reported as NaN with a note, the other coefficients are
// fitted without it, and k counts only the fitted ones. See docs/theory_matching_and_bounds.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fsr {

struct SampleComplexityPoint {
  double d = 0.0;       // dimension (> 0)
  double eps = 0.0;     // target error (> 0)
  double n_star = 0.0;  // samples needed to reach eps (> 0)
};

struct BoundFitOptions {
  int bootstrap_resamples = 2000;  // 0: no intervals (NaN)
  double level = 0.95;             // two-sided percentile interval, in (0, 1)
  std::uint64_t seed = 1;          // resample b draws from fsr::Rng(seed, b)
};

struct Interval {
  double lo = 0.0;
  double hi = 0.0;
};

struct BoundFit {
  std::string model;  // "polynomial" or "exponential"
  // a (polynomial: exponent of d; exponential: rate per unit of d), b, c. NaN when not
  // identifiable (see notes).
  double d_coefficient = 0.0;
  double eps_exponent = 0.0;
  double log_constant = 0.0;
  // Bootstrap percentile intervals at `level` (case resampling); NaN when not available.
  Interval d_coefficient_interval, eps_exponent_interval, log_constant_interval;
  double level = 0.95;
  int bootstrap_used = 0;      // resamples that gave a fit
  int bootstrap_rejected = 0;  // resamples where a fitted coefficient was not identifiable
  int n_points = 0;
  int n_parameters = 0;            // k: fitted coefficients
  std::vector<double> residuals;   // log N* - fitted, per point, in input order
  double rss = 0.0;                // Σ residual²
  double aic = 0.0;                // n log(max(RSS, floor)/n) + 2k, floor: see docs
  std::vector<std::string> notes;  // why a coefficient or interval is NaN

  double predict_log(double d, double eps) const;  // fitted log N*; NaN terms count as 0
};

BoundFit fit_polynomial_bound(const std::vector<SampleComplexityPoint>& points,
                              const BoundFitOptions& options = {});
BoundFit fit_exponential_bound(const std::vector<SampleComplexityPoint>& points,
                               const BoundFitOptions& options = {});

struct BoundComparison {
  BoundFit polynomial, exponential;
  std::string preferred;           // "polynomial", "exponential" or "undecided" (see reason)
  double delta_aic = 0.0;          // AIC(exponential) - AIC(polynomial): > 0 favours polynomial
  double polynomial_weight = 0.5;  // Akaike weight 1 / (1 + exp(-delta_aic / 2))
  std::string evidence;            // |Δ| < 2 "weak", < 10 "moderate", otherwise "strong"
  // Over the bootstrap resamples (the same indices for both models), the fraction in which the
  // polynomial model has the lower RSS; NaN without resamples.
  double bootstrap_polynomial_fraction = 0.0;
  std::string reason;
};

// Throws InputError for a non-positive or non-finite d, eps or n_star (naming points[i].field),
// for too few points (fewer than k + 1), for collinear features (e.g. eps tied to d, so the
// exponents cannot be told apart), and for bad options.
BoundComparison compare_bound_models(const std::vector<SampleComplexityPoint>& points,
                                     const BoundFitOptions& options = {});

// N = constant · d^d_exponent · ε^-eps_exponent.
struct ReferenceBound {
  std::string name;
  double constant = 1.0;
  double d_exponent = 0.0;
  double eps_exponent = 2.0;

  double operator()(double d, double eps) const;  // InputError unless d > 0 and eps > 0
  double log_value(double d, double eps) const;

  // Truncated-moment estimator of one unit's (α, β) (Wu–Dimakis–Sanghavi 2019): error ∝ N^-1/2,
  // so N ∝ ε^-2 per unit with no d dependence, and only the active fraction Q(t) of samples
  // informs the estimate: constant = 1 / Q(t). Q(t) must be in (0, 1].
  static ReferenceBound truncated_moment(double active_probability = 1.0);
  static ReferenceBound truncated_moment_at_threshold(double t);  // Q(t) = 1 - Φ(t)
  // SGDA on one ReLU layer (Kontonis–Liu–Tzamos 2020): Õ(d²/ε²).
  static ReferenceBound sgda_one_layer(double constant = 1.0);
};

// The two built in: truncated_moment(1) ("truncated_moment") and sgda_one_layer(1).
std::vector<ReferenceBound> reference_bounds();

}  // namespace fsr
