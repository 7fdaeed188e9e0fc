#include "theory/bounds.h"

#include <Eigen/Core>
#include <Eigen/QR>
#include <algorithm>
#include <array>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <limits>
#include <optional>

#include "core/rng.h"
#include "core/validate.h"

namespace fsr {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kMaxResamples = 1000000;

enum class Model { kPolynomial, kExponential };

const char* model_name(Model model) {
  return model == Model::kPolynomial ? "polynomial" : "exponential";
}

void validate_points(const std::vector<SampleComplexityPoint>& points) {
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::string prefix = "points[" + std::to_string(i) + "].";
    require_positive(prefix + "d", points[i].d);
    require_positive(prefix + "eps", points[i].eps);
    require_positive(prefix + "n_star", points[i].n_star);
  }
}

void validate_options(const BoundFitOptions& options) {
  require_int_in_range("bootstrap_resamples", options.bootstrap_resamples, 0, kMaxResamples);
  require_in_range("level", options.level, 0.0, 1.0);
}

// Features in the fixed order (d feature, log(1/eps)) and the response log N*.
struct Data {
  Eigen::MatrixXd features;  // n x 2
  Eigen::VectorXd response;  // n
};

Data make_data(const std::vector<SampleComplexityPoint>& points, Model model) {
  const Eigen::Index n = static_cast<Eigen::Index>(points.size());
  Data data{Eigen::MatrixXd(n, 2), Eigen::VectorXd(n)};
  for (Eigen::Index i = 0; i < n; ++i) {
    const SampleComplexityPoint& p = points[i];
    data.features(i, 0) = model == Model::kPolynomial ? std::log(p.d) : p.d;
    data.features(i, 1) = -std::log(p.eps);
    data.response(i) = std::log(p.n_star);
  }
  return data;
}

bool varies(const Eigen::VectorXd& v) {
  const double lo = v.minCoeff(), hi = v.maxCoeff();
  return hi - lo > 1e-12 * std::max({1.0, std::abs(lo), std::abs(hi)});
}

// Least squares of y on [1, the used features]: columns are centred and scaled first so that the
// rank test is about the design, not the units of d. Empty when the used features are collinear
// or one of them does not vary.
struct LeastSquares {
  std::array<double, 3> coef{kNaN, kNaN, kNaN};  // d feature, log(1/eps), log constant
  Eigen::VectorXd residuals;
  double rss = 0.0;
};

std::optional<LeastSquares> least_squares(const Eigen::MatrixXd& features, const Eigen::VectorXd& y,
                                          const std::array<bool, 2>& use) {
  const Eigen::Index n = y.size();
  std::vector<int> cols;
  for (int k = 0; k < 2; ++k) {
    if (use[k]) cols.push_back(k);
  }
  const int p = static_cast<int>(cols.size());
  Eigen::MatrixXd z(n, p);
  Eigen::VectorXd mean(p), sd(p);
  for (int c = 0; c < p; ++c) {
    const Eigen::VectorXd f = features.col(cols[c]);
    if (!varies(f)) return std::nullopt;
    mean(c) = f.mean();
    sd(c) = std::sqrt((f.array() - mean(c)).square().mean());
    z.col(c) = (f.array() - mean(c)) / sd(c);
  }
  const double y_mean = y.mean();
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(p);
  if (p > 0) {
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(z);
    qr.setThreshold(1e-9);  // standardised columns: a smaller pivot means collinear features
    if (qr.rank() < p) return std::nullopt;
    beta = qr.solve((y.array() - y_mean).matrix());
  }
  LeastSquares ls;
  double intercept = y_mean;
  for (int c = 0; c < p; ++c) {
    ls.coef[cols[c]] = beta(c) / sd(c);
    intercept -= beta(c) * mean(c) / sd(c);
  }
  ls.coef[2] = intercept;
  ls.residuals = (y.array() - y_mean).matrix() - z * beta;
  ls.rss = ls.residuals.squaredNorm();
  return ls;
}

// Case-resampling indices of resample b: independent of the other resamples and of B.
std::vector<Eigen::Index> resample_indices(Eigen::Index n, std::uint64_t seed, int b) {
  Rng rng(seed, static_cast<std::uint64_t>(b));
  std::vector<Eigen::Index> idx(n);
  for (Eigen::Index i = 0; i < n; ++i) idx[i] = static_cast<Eigen::Index>(rng.uniform_int(n));
  return idx;
}

Data take(const Data& data, const std::vector<Eigen::Index>& idx) {
  const Eigen::Index n = static_cast<Eigen::Index>(idx.size());
  Data out{Eigen::MatrixXd(n, 2), Eigen::VectorXd(n)};
  for (Eigen::Index i = 0; i < n; ++i) {
    out.features.row(i) = data.features.row(idx[i]);
    out.response(i) = data.response(idx[i]);
  }
  return out;
}

// Type-7 quantile of sorted values (linear interpolation between order statistics).
double quantile(const std::vector<double>& sorted, double q) {
  const double h = (static_cast<double>(sorted.size()) - 1.0) * q;
  const std::size_t lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// Below this RSS the fit is exact to roundoff, and log(RSS) would only measure roundoff (or be
// -inf): floor it at n (64 ε_machine max(1, max|log N*|))².
double rss_floor(const Eigen::VectorXd& y) {
  const double unit =
      64.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, y.cwiseAbs().maxCoeff());
  return static_cast<double>(y.size()) * unit * unit;
}

BoundFit fit_model(const std::vector<SampleComplexityPoint>& points, const BoundFitOptions& options,
                   Model model) {
  validate_options(options);
  validate_points(points);
  const Data data = make_data(points, model);
  const int n = static_cast<int>(points.size());

  BoundFit fit;
  fit.model = model_name(model);
  fit.level = options.level;
  fit.n_points = n;
  std::array<bool, 2> use{true, true};
  if (n > 0 && !varies(data.features.col(0))) {
    use[0] = false;
    fit.notes.push_back("d_coefficient: every point has d = " + format_value(points[0].d) +
                        "; the d dependence is not identifiable (NaN)");
  }
  if (n > 0 && !varies(data.features.col(1))) {
    use[1] = false;
    fit.notes.push_back("eps_exponent: every point has eps = " + format_value(points[0].eps) +
                        "; the eps dependence is not identifiable (NaN)");
  }
  fit.n_parameters = 1 + static_cast<int>(use[0]) + static_cast<int>(use[1]);
  if (n < fit.n_parameters + 1) {
    fail_field("points", std::to_string(n) + " given",
               std::string("the ") + fit.model + " fit has " + std::to_string(fit.n_parameters) +
                   " identifiable coefficients and needs at least " +
                   std::to_string(fit.n_parameters + 1) + " points");
  }
  const std::optional<LeastSquares> ls = least_squares(data.features, data.response, use);
  if (!ls) {
    fail_field("points", std::to_string(n) + " given",
               std::string(model == Model::kPolynomial ? "log d" : "d") +
                   " and log(1/eps) are collinear over the points (is eps tied to d?): the " +
                   fit.model + " coefficients cannot be told apart; vary d and eps independently");
  }
  fit.d_coefficient = ls->coef[0];
  fit.eps_exponent = ls->coef[1];
  fit.log_constant = ls->coef[2];
  fit.residuals.assign(ls->residuals.data(), ls->residuals.data() + n);
  fit.rss = ls->rss;
  fit.aic = n * std::log(std::max(fit.rss, rss_floor(data.response)) / n) + 2.0 * fit.n_parameters;

  fit.d_coefficient_interval = fit.eps_exponent_interval = fit.log_constant_interval = {kNaN, kNaN};
  if (options.bootstrap_resamples == 0) {
    fit.notes.push_back("intervals: bootstrap_resamples = 0 (NaN)");
    return fit;
  }
  std::array<std::vector<double>, 3> draws;
  for (int b = 0; b < options.bootstrap_resamples; ++b) {
    const Data r = take(data, resample_indices(n, options.seed, b));
    const std::optional<LeastSquares> rf = least_squares(r.features, r.response, use);
    if (!rf) {
      ++fit.bootstrap_rejected;
      continue;
    }
    for (int k = 0; k < 3; ++k) draws[k].push_back(rf->coef[k]);
  }
  fit.bootstrap_used = static_cast<int>(draws[2].size());
  if (fit.bootstrap_used < std::max(2, options.bootstrap_resamples / 2)) {
    fit.notes.push_back("intervals: only " + std::to_string(fit.bootstrap_used) + " of " +
                        std::to_string(options.bootstrap_resamples) +
                        " resamples kept every coefficient identifiable (NaN); add points");
    return fit;
  }
  const double tail = 0.5 * (1.0 - options.level);
  Interval* intervals[3] = {&fit.d_coefficient_interval, &fit.eps_exponent_interval,
                            &fit.log_constant_interval};
  for (int k = 0; k < 3; ++k) {
    if (k < 2 && !use[k]) continue;
    std::sort(draws[k].begin(), draws[k].end());
    *intervals[k] = {quantile(draws[k], tail), quantile(draws[k], 1.0 - tail)};
  }
  return fit;
}

}  // namespace

double BoundFit::predict_log(double d, double eps) const {
  const double d_feature = model == "polynomial" ? std::log(d) : d;
  double y = log_constant;
  if (std::isfinite(d_coefficient)) y += d_coefficient * d_feature;
  if (std::isfinite(eps_exponent)) y += eps_exponent * -std::log(eps);
  return y;
}

BoundFit fit_polynomial_bound(const std::vector<SampleComplexityPoint>& points,
                              const BoundFitOptions& options) {
  return fit_model(points, options, Model::kPolynomial);
}

BoundFit fit_exponential_bound(const std::vector<SampleComplexityPoint>& points,
                               const BoundFitOptions& options) {
  return fit_model(points, options, Model::kExponential);
}

BoundComparison compare_bound_models(const std::vector<SampleComplexityPoint>& points,
                                     const BoundFitOptions& options) {
  BoundComparison c;
  c.polynomial = fit_polynomial_bound(points, options);
  c.exponential = fit_exponential_bound(points, options);
  c.delta_aic = c.exponential.aic - c.polynomial.aic;
  c.polynomial_weight = 1.0 / (1.0 + std::exp(-0.5 * c.delta_aic));
  const double gap = std::abs(c.delta_aic);
  c.evidence = gap < 2.0 ? "weak" : gap < 10.0 ? "moderate" : "strong";
  c.bootstrap_polynomial_fraction = kNaN;

  if (!std::isfinite(c.polynomial.d_coefficient)) {
    c.preferred = "undecided";
    c.evidence = "none";
    c.reason = "d does not vary over the points, so the two models are the same fit";
    return c;
  }
  if (c.delta_aic == 0.0) {
    c.preferred = "undecided";
    c.reason = "equal AIC";
  } else {
    c.preferred = c.delta_aic > 0.0 ? "polynomial" : "exponential";
    c.reason = "lower AIC by " + format_value(gap) + " (" + c.evidence + " evidence)";
  }

  // Both models refitted on the same resamples; equal k, so lower RSS = lower AIC.
  const Data poly = make_data(points, Model::kPolynomial);
  const Data expo = make_data(points, Model::kExponential);
  const std::array<bool, 2> use{true, std::isfinite(c.polynomial.eps_exponent)};
  const Eigen::Index n = static_cast<Eigen::Index>(points.size());
  int kept = 0, poly_wins = 0;
  for (int b = 0; b < options.bootstrap_resamples; ++b) {
    const std::vector<Eigen::Index> idx = resample_indices(n, options.seed, b);
    const Data rp = take(poly, idx), re = take(expo, idx);
    const std::optional<LeastSquares> fp = least_squares(rp.features, rp.response, use);
    const std::optional<LeastSquares> fe = least_squares(re.features, re.response, use);
    if (!fp || !fe) continue;
    ++kept;
    if (fp->rss < fe->rss) ++poly_wins;
  }
  if (kept > 0) c.bootstrap_polynomial_fraction = static_cast<double>(poly_wins) / kept;
  return c;
}

double ReferenceBound::operator()(double d, double eps) const {
  return std::exp(log_value(d, eps));
}

double ReferenceBound::log_value(double d, double eps) const {
  require_positive("d", d);
  require_positive("eps", eps);
  return std::log(constant) + d_exponent * std::log(d) - eps_exponent * std::log(eps);
}

ReferenceBound ReferenceBound::truncated_moment(double active_probability) {
  require_in_range("active_probability", active_probability, 0.0, 1.0, /*closed_lo=*/false,
                   /*closed_hi=*/true);
  return {"truncated_moment", 1.0 / active_probability, 0.0, 2.0};
}

ReferenceBound ReferenceBound::truncated_moment_at_threshold(double t) {
  require_finite("t", t);
  const double q =
      boost::math::cdf(boost::math::complement(boost::math::normal_distribution<>(), t));
  if (!(q > 0.0)) fail_field("t", t, "must give Q(t) = 1 - Phi(t) > 0 in double precision");
  return truncated_moment(q);
}

ReferenceBound ReferenceBound::sgda_one_layer(double constant) {
  require_positive("constant", constant);
  return {"sgda_one_layer", constant, 2.0, 2.0};
}

std::vector<ReferenceBound> reference_bounds() {
  return {ReferenceBound::truncated_moment(1.0), ReferenceBound::sgda_one_layer(1.0)};
}

}  // namespace fsr
