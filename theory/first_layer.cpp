#include "theory/first_layer.h"

#include <algorithm>
#include <boost/math/special_functions/owens_t.hpp>
#include <boost/math/tools/toms748_solve.hpp>
#include <cmath>
#include <limits>
#include <numbers>

#include "core/validate.h"
#include "theory/relu_moments.h"

namespace fsr {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Sufficient statistics of one unit: the moment and the censored-normal likelihood only need
// these, so fit_first_layer validates the matrix once and never re-reads a column.
struct UnitStats {
  std::int64_t n = 0;         // samples
  std::int64_t n_active = 0;  // samples with s > 0
  double sum = 0.0;           // sum of s
  double sum_sq = 0.0;        // sum of s^2
  double min_active = kInf;
  double max_active = 0.0;
};

UnitStats unit_stats(const Eigen::Ref<const Eigen::VectorXd>& s) {
  UnitStats st;
  st.n = s.size();
  for (Eigen::Index k = 0; k < s.size(); ++k) {
    const double v = s(k);
    if (v > 0) {
      ++st.n_active;
      st.sum += v;
      st.sum_sq += v * v;
      st.min_active = std::min(st.min_active, v);
      st.max_active = std::max(st.max_active, v);
    }
  }
  return st;
}

void validate_unit_samples(const Eigen::Ref<const Eigen::VectorXd>& s) {
  if (s.size() < 2) {
    fail_field("samples", "length " + std::to_string(s.size()), "must hold at least 2 samples");
  }
  for (Eigen::Index k = 0; k < s.size(); ++k) {
    const std::string field = "samples[" + std::to_string(k) + "]";
    if (!std::isfinite(s(k))) fail_field(field, s(k), "must be finite");
    if (s(k) < 0) fail_field(field, s(k), "must be >= 0 (a ReLU output)");
  }
}

UnitFit failed_unit(const UnitStats& st, std::string method, std::string status) {
  UnitFit fit;
  fit.alpha = fit.beta = fit.stderr_alpha = fit.stderr_beta = kNaN;
  fit.n_samples = st.n;
  fit.n_active = st.n_active;
  fit.method = std::move(method);
  fit.ok = false;
  fit.status = std::move(status);
  return fit;
}

// Shared preconditions of both estimators; empty string when the unit can be fitted.
std::string unit_precondition(const UnitStats& st, std::int64_t min_active) {
  if (st.n_active < std::max<std::int64_t>(min_active, 1)) {
    return "too few active samples: n_active = " + std::to_string(st.n_active) +
           " (need >= " + std::to_string(std::max<std::int64_t>(min_active, 1)) + ")";
  }
  if (st.n_active == st.n && st.min_active == st.max_active) {
    return "degenerate: every sample is active with the same value (alpha not identifiable)";
  }
  return {};
}

UnitFit moments_from_stats(const UnitStats& st, std::int64_t min_active) {
  const std::string why = unit_precondition(st, min_active);
  if (!why.empty()) return failed_unit(st, "moments", why);
  const double n = static_cast<double>(st.n);
  const double m1 = st.sum / n;
  const double m2 = st.sum_sq / n;
  const double ratio = m1 * m1 / m2;
  double t = 0.0;
  try {
    t = relu_t_from_moment_ratio(ratio);
  } catch (const InputError& e) {
    return failed_unit(st, "moments",
                       std::string("moment ratio outside the model's range: ") + e.what());
  }
  const std::vector<double> partial = normal_partial_moments(t, 4);
  const double alpha = std::sqrt(m2 / partial[2]);
  UnitFit fit{.alpha = alpha,
              .beta = alpha * t,
              .n_samples = st.n,
              .n_active = st.n_active,
              .method = "moments",
              .ok = true,
              .status = "ok"};

  // Delta method. (m1, m2) = (alpha I_1(t), alpha^2 I_2(t)) with dI_j/dt = -j I_{j-1}; the
  // covariance of the sample means of (s, s^2) comes from the fitted model's moments 1..4, which
  // is steadier than the sample fourth moment when few samples are active.
  Eigen::Matrix2d jac;  // d(m1, m2) / d(alpha, t)
  jac << partial[1], -alpha * partial[0], 2 * alpha * partial[2], -2 * alpha * alpha * partial[1];
  Eigen::Matrix2d to_beta;  // d(alpha, beta) / d(alpha, t)
  to_beta << 1.0, 0.0, t, alpha;
  const Eigen::Matrix2d grad = to_beta * jac.inverse();  // d(alpha, beta) / d(m1, m2)
  double model[5];
  double scale = 1.0;
  for (int j = 0; j <= 4; ++j, scale *= alpha) model[j] = scale * partial[j];
  Eigen::Matrix2d cov_means;
  cov_means << model[2] - model[1] * model[1], model[3] - model[1] * model[2],
      model[3] - model[1] * model[2], model[4] - model[2] * model[2];
  cov_means /= n;
  const Eigen::Matrix2d cov = grad * cov_means * grad.transpose();
  fit.stderr_alpha = std::sqrt(std::max(cov(0, 0), 0.0));
  fit.stderr_beta = std::sqrt(std::max(cov(1, 1), 0.0));
  return fit;
}

// The censored-normal (Tobit) log-likelihood per sample in Olsen's parameters
// gamma = 1/alpha > 0, delta = beta/alpha:
//   l = f0 log Phi(delta) + f1 log gamma - (gamma^2 a2 + 2 gamma delta a1 + f1 delta^2) / 2
// with f0, f1 the inactive / active fractions and a1, a2 the per-sample sums of s, s^2 over the
// active samples (constants dropped). It is globally concave (Olsen 1978).
struct TobitObjective {
  double f0, f1, a1, a2;

  double value(double gamma, double delta) const {
    double v = f1 * std::log(gamma) -
               0.5 * (gamma * gamma * a2 + 2 * gamma * delta * a1 + f1 * delta * delta);
    if (f0 > 0) v += f0 * log_normal_q(-delta);  // log Phi(delta)
    return v;
  }
  // Gradient and Hessian in (gamma, delta).
  void derivatives(double gamma, double delta, Eigen::Vector2d& g, Eigen::Matrix2d& h) const {
    double lambda = 0.0, dlambda = 0.0;  // phi/Phi at delta and its derivative (times f0)
    if (f0 > 0) {
      const double mills = inverse_mills_ratio(-delta);  // phi(delta) / Phi(delta)
      lambda = f0 * mills;
      dlambda = -f0 * mills * (delta + mills);
    }
    g(0) = f1 / gamma - (gamma * a2 + delta * a1);
    g(1) = lambda - (gamma * a1 + f1 * delta);
    h(0, 0) = -f1 / (gamma * gamma) - a2;
    h(0, 1) = h(1, 0) = -a1;
    h(1, 1) = dlambda - f1;
  }
};

UnitFit mle_from_stats(const UnitStats& st, std::int64_t min_active) {
  const std::string why = unit_precondition(st, min_active);
  if (!why.empty()) return failed_unit(st, "mle", why);
  const double n = static_cast<double>(st.n);
  const TobitObjective obj{static_cast<double>(st.n - st.n_active) / n,
                           static_cast<double>(st.n_active) / n, st.sum / n, st.sum_sq / n};

  // Start from the moment estimate; failing that, from the active fraction and active mean.
  double gamma = 0.0, delta = 0.0;
  const UnitFit start = moments_from_stats(st, min_active);
  if (start.ok) {
    gamma = 1.0 / start.alpha;
    delta = start.beta / start.alpha;
  } else {
    const double p = obj.f1;
    delta = p < 1.0 ? normal_q_inverse(p) : -3.0;
    const double mean_active = st.sum / static_cast<double>(st.n_active);
    // E[s | s > 0] = alpha (phi/Q - t) at t = delta.
    gamma = (inverse_mills_ratio(delta) - delta) / mean_active;
  }

  Eigen::Vector2d g;
  Eigen::Matrix2d h;
  double value = obj.value(gamma, delta);
  bool converged = false;
  int iter = 0;
  for (; iter < 100; ++iter) {
    obj.derivatives(gamma, delta, g, h);
    const Eigen::Vector2d step = h.ldlt().solve(-g);
    const double decrement = g.dot(step);  // Newton decrement^2, >= 0 by concavity
    if (!(decrement >= 0) || !std::isfinite(decrement)) break;
    // Per-sample log-likelihood units: 1e-20 is far below any statistical resolution.
    if (decrement < 1e-20) {
      converged = true;
      break;
    }
    // Close to the optimum the quadratic model is exact to rounding while the log-likelihood
    // itself can no longer resolve the gain (~1e-17): take the full Newton step.
    if (decrement < 1e-8 && gamma + step(0) > 0) {
      gamma += step(0);
      delta += step(1);
      value = obj.value(gamma, delta);
      continue;
    }
    double a = 1.0;
    bool accepted = false;
    for (int halving = 0; halving < 60; ++halving, a *= 0.5) {
      const double ng = gamma + a * step(0);
      const double nd = delta + a * step(1);
      if (!(ng > 0)) continue;
      const double nv = obj.value(ng, nd);
      if (std::isfinite(nv) && nv >= value + 1e-4 * a * decrement) {
        gamma = ng;
        delta = nd;
        value = nv;
        accepted = true;
        break;
      }
    }
    if (!accepted) break;
  }
  if (!converged) {
    return failed_unit(
        st, "mle",
        "maximum likelihood did not converge in " + std::to_string(iter) + " Newton iterations");
  }
  obj.derivatives(gamma, delta, g, h);
  UnitFit fit{.alpha = 1.0 / gamma,
              .beta = delta / gamma,
              .n_samples = st.n,
              .n_active = st.n_active,
              .method = "mle",
              .ok = true,
              .status = "ok",
              .iterations = iter};
  // Observed information of all N samples = -N h; delta method to (alpha, beta).
  const Eigen::Matrix2d cov_olsen = (-n * h).inverse();
  Eigen::Matrix2d grad;  // d(alpha, beta) / d(gamma, delta)
  grad << -1.0 / (gamma * gamma), 0.0, -delta / (gamma * gamma), 1.0 / gamma;
  const Eigen::Matrix2d cov = grad * cov_olsen * grad.transpose();
  fit.stderr_alpha = std::sqrt(std::max(cov(0, 0), 0.0));
  fit.stderr_beta = std::sqrt(std::max(cov(1, 1), 0.0));
  return fit;
}

// Owen's T with a = +-inf allowed: T(h, +-inf) = +-Q(|h|) / 2.
double owens_t_extended(double h, double a) {
  if (std::isinf(a)) return std::copysign(0.5 * normal_q(std::abs(h)), a);
  return boost::math::owens_t(h, a);
}

// Phi_2(x, y; rho) = P(X < x, Y < y), |rho| < 1, by Owen (1956):
//   Phi_2 = Phi(x)/2 + Phi(y)/2 - T(x, a_x) - T(y, a_y) - c,
//   a_x = (y - rho x) / (x sqrt(1 - rho^2)), a_y likewise, c = 0 when xy > 0 or (xy = 0 and
//   x + y >= 0), 1/2 otherwise.
double lower_orthant(double x, double y, double rho) {
  if (x == 0 && y == 0) return 0.25 + std::asin(rho) / (2 * std::numbers::pi);
  const double s = std::sqrt((1 - rho) * (1 + rho));
  // x == 0 (with either sign of zero) sends a_x to sign(y) * inf.
  const double ax = x == 0 ? std::copysign(kInf, y) : (y - rho * x) / (x * s);
  const double ay = y == 0 ? std::copysign(kInf, x) : (x - rho * y) / (y * s);
  const double c = (x * y > 0 || (x * y == 0 && x + y >= 0)) ? 0.0 : 0.5;
  const double phi_x = normal_q(-x), phi_y = normal_q(-y);
  const double p =
      0.5 * phi_x + 0.5 * phi_y - owens_t_extended(x, ax) - owens_t_extended(y, ay) - c;
  return std::clamp(p, 0.0, std::min(phi_x, phi_y));
}

template <class F>
double solve_increasing_in_rho(F f, double f_lo, double f_hi) {
  auto tolerance = [](double a, double b) {
    return std::abs(a - b) <= 4 * std::numeric_limits<double>::epsilon();
  };
  std::uintmax_t max_iter = 200;
  const auto [a, b] =
      boost::math::tools::toms748_solve(f, -1.0, 1.0, f_lo, f_hi, tolerance, max_iter);
  return 0.5 * (a + b);
}

}  // namespace

UnitFit fit_unit_moments(const Eigen::Ref<const Eigen::VectorXd>& samples,
                         std::int64_t min_active) {
  validate_unit_samples(samples);
  return moments_from_stats(unit_stats(samples), min_active);
}

UnitFit fit_unit_mle(const Eigen::Ref<const Eigen::VectorXd>& samples, std::int64_t min_active) {
  validate_unit_samples(samples);
  return mle_from_stats(unit_stats(samples), min_active);
}

double bivariate_orthant(double t_i, double t_j, double rho) {
  require_finite("t_i", t_i);
  require_finite("t_j", t_j);
  require_in_range("rho", rho, -1.0, 1.0, true, true);
  if (rho == 1.0) return normal_q(std::max(t_i, t_j));
  if (rho == -1.0) return std::max(0.0, normal_q(t_i) - normal_q(-t_j));
  // Owen's formula subtracts 1/2 when the thresholds have opposite signs, which costs an
  // absolute 1e-16 on a possibly tiny result. There P(X > h, Y > k) = Q(k) - P(Y > k, -X > -h)
  // with both thresholds >= 0 instead: the error is relative to Q(k) (to Q(h) when h > 0 > k).
  if (t_i < 0 && t_j >= 0) {
    return std::max(0.0, normal_q(t_j) - lower_orthant(-t_j, t_i, -rho));
  }
  if (t_j < 0 && t_i >= 0) {
    return std::max(0.0, normal_q(t_i) - lower_orthant(-t_i, t_j, -rho));
  }
  return lower_orthant(-t_i, -t_j, rho);
}

double relu_cross_moment(double alpha_i, double beta_i, double alpha_j, double beta_j, double rho) {
  require_positive("alpha_i", alpha_i);
  require_positive("alpha_j", alpha_j);
  require_finite("beta_i", beta_i);
  require_finite("beta_j", beta_j);
  require_in_range("rho", rho, -1.0, 1.0, true, true);
  const double h = beta_i / alpha_i, k = beta_j / alpha_j;
  const double scale = alpha_i * alpha_j;
  if (rho == 1.0) {
    // g_i = g_j = x: integrate (x - h)(x - k) above m = max(h, k), with u = x - m.
    const double m = std::max(h, k);
    const std::vector<double> p = normal_partial_moments(m, 2);
    return scale * (p[2] + (2 * m - h - k) * p[1] + (m - h) * (m - k) * p[0]);
  }
  if (rho == -1.0) {
    // g_j = -g_i: (x - h)(c - x) on h < x < c = -k.
    const double c = -k;
    if (!(c > h)) return 0.0;
    const double p0 = normal_q(h) - normal_q(c);
    const double p1 = normal_pdf(h) - normal_pdf(c);
    const double p2 = p0 + h * normal_pdf(h) - c * normal_pdf(c);
    return std::max(0.0, scale * (-p2 + (c + h) * p1 - h * c * p0));
  }
  // Truncated bivariate normal moments on {X > h, Y > k} (Rosenbaum 1961).
  const double s = std::sqrt((1 - rho) * (1 + rho));
  const double a = (k - rho * h) / s, b = (h - rho * k) / s;
  const double both = bivariate_orthant(h, k, rho);
  const double qa = normal_q(a), qb = normal_q(b);
  const double ph = normal_pdf(h), pk = normal_pdf(k);
  const double ex = ph * qa + rho * pk * qb;
  const double ey = pk * qb + rho * ph * qa;
  const double exy = rho * both + rho * h * ph * qa + rho * k * pk * qb + s * ph * normal_pdf(a);
  return std::max(0.0, scale * (exy - k * ex - h * ey + h * k * both));
}

double correlation_from_coactivation(double p_both, double t_i, double t_j, RhoFlag* flag) {
  require_in_range("p_both", p_both, 0.0, 1.0, true, true);
  require_finite("t_i", t_i);
  require_finite("t_j", t_j);
  const double lo = bivariate_orthant(t_i, t_j, -1.0);
  const double hi = bivariate_orthant(t_i, t_j, 1.0);
  RhoFlag local = RhoFlag::kOk;
  double rho = 0.0;
  if (p_both <= lo) {
    local = RhoFlag::kClampedLow;
    rho = -1.0;
  } else if (p_both >= hi) {
    local = RhoFlag::kClampedHigh;
    rho = 1.0;
  } else {
    rho = solve_increasing_in_rho([&](double r) { return bivariate_orthant(t_i, t_j, r) - p_both; },
                                  lo - p_both, hi - p_both);
  }
  if (flag) *flag = local;
  return rho;
}

double correlation_from_cross_moment(double cross_moment, double alpha_i, double beta_i,
                                     double alpha_j, double beta_j, RhoFlag* flag) {
  require_nonnegative("cross_moment", cross_moment);
  const double lo = relu_cross_moment(alpha_i, beta_i, alpha_j, beta_j, -1.0);
  const double hi = relu_cross_moment(alpha_i, beta_i, alpha_j, beta_j, 1.0);
  RhoFlag local = RhoFlag::kOk;
  double rho = 0.0;
  if (cross_moment <= lo) {
    local = RhoFlag::kClampedLow;
    rho = -1.0;
  } else if (cross_moment >= hi) {
    local = RhoFlag::kClampedHigh;
    rho = 1.0;
  } else {
    rho = solve_increasing_in_rho(
        [&](double r) {
          return relu_cross_moment(alpha_i, beta_i, alpha_j, beta_j, r) - cross_moment;
        },
        lo - cross_moment, hi - cross_moment);
  }
  if (flag) *flag = local;
  return rho;
}

namespace {

double min_eigenvalue(const Eigen::MatrixXd& a) {
  if (a.size() == 0) return 0.0;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(a, Eigen::EigenvaluesOnly);
  return es.eigenvalues().minCoeff();
}

Eigen::MatrixXd project_psd(const Eigen::MatrixXd& a) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(a);
  const Eigen::VectorXd clipped = es.eigenvalues().cwiseMax(0.0);
  Eigen::MatrixXd out = es.eigenvectors() * clipped.asDiagonal() * es.eigenvectors().transpose();
  return 0.5 * (out + out.transpose());
}

// Eigenvalue clipping, then D^{-1/2} X D^{-1/2} back to unit diagonal (a congruence: stays PSD).
Eigen::MatrixXd clip_and_rescale(const Eigen::MatrixXd& a) {
  Eigen::MatrixXd x = project_psd(a);
  Eigen::VectorXd d = x.diagonal().cwiseMax(std::numeric_limits<double>::min()).cwiseSqrt();
  x = d.cwiseInverse().asDiagonal() * x * d.cwiseInverse().asDiagonal();
  x.diagonal().setOnes();
  return x;
}

}  // namespace

PsdRepair repair_correlation_matrix(Eigen::MatrixXd& rho, const std::string& method,
                                    double tolerance) {
  if (method != "higham" && method != "clip" && method != "none") {
    fail_field("psd_repair", method, "must be one of higham, clip, none");
  }
  require_nonnegative("psd_tolerance", tolerance);
  if (rho.rows() != rho.cols()) {
    fail_field("rho", format_shape({rho.rows(), rho.cols()}), "must be square");
  }
  require_all_finite("rho", rho.data(), static_cast<std::size_t>(rho.size()));
  if (!rho.isApprox(rho.transpose(), 1e-12) && rho.size() > 0) {
    fail_field("rho", format_shape({rho.rows(), rho.cols()}), "must be symmetric");
  }
  PsdRepair report;
  report.method = method;
  report.min_eigenvalue_before = min_eigenvalue(rho);
  report.min_eigenvalue_after = report.min_eigenvalue_before;
  if (method == "none" || report.min_eigenvalue_before >= -tolerance) return report;

  const Eigen::MatrixXd before = rho;
  if (method == "clip") {
    rho = clip_and_rescale(before);
  } else {
    // Higham (2002), Algorithm 3.3: alternate the projections onto the PSD cone (with Dykstra's
    // correction) and onto unit-diagonal matrices.
    Eigen::MatrixXd y = before, x = before;
    Eigen::MatrixXd correction = Eigen::MatrixXd::Zero(before.rows(), before.cols());
    int it = 0;
    for (; it < 5000; ++it) {
      const Eigen::MatrixXd r = y - correction;
      const Eigen::MatrixXd x_new = project_psd(r);
      correction = x_new - r;
      Eigen::MatrixXd y_new = x_new;
      y_new.diagonal().setOnes();
      const double scale = std::max(1.0, y_new.norm());
      const bool done = (x_new - x).norm() <= 1e-12 * scale &&
                        (y_new - y).norm() <= 1e-12 * scale &&
                        (y_new - x_new).norm() <= 1e-12 * scale;
      x = x_new;
      y = y_new;
      if (done) break;
    }
    report.iterations = it + 1;
    // The nearest correlation matrix is singular, and the last unit-diagonal step leaves its
    // zero eigenvalues a rounding error (up to ~1e-12) either side of 0: clip those.
    if (min_eigenvalue(y) < 0) y = clip_and_rescale(y);
    rho = y;
  }
  report.repaired = true;
  report.min_eigenvalue_after = min_eigenvalue(rho);
  report.frobenius_change = (rho - before).norm();
  return report;
}

FirstLayerFit fit_first_layer(const Eigen::MatrixXd& samples, const FirstLayerOptions& options) {
  // ---- Options and input, checked once. ----
  const std::string& um = options.unit_method;
  if (um != "moments" && um != "mle" && um != "auto") {
    fail_field("unit_method", um, "must be one of moments, mle, auto");
  }
  const std::string& rm = options.rho_method;
  if (rm != "cross_moment" && rm != "coactivation") {
    fail_field("rho_method", rm, "must be one of cross_moment, coactivation");
  }
  const std::string& pm = options.psd_repair;
  if (pm != "higham" && pm != "clip" && pm != "none") {
    fail_field("psd_repair", pm, "must be one of higham, clip, none");
  }
  require_in_range("auto_mle_below", options.auto_mle_below, 0.0, 1.0, true, true);
  require_nonnegative("psd_tolerance", options.psd_tolerance);
  if (options.min_active < 1) fail_field("min_active", options.min_active, "must be >= 1");

  const Eigen::Index n = samples.rows(), m = samples.cols();
  const std::string shape = format_shape({n, m});
  if (n < 2) fail_field("samples", shape, "must have at least 2 rows (one row per sample)");
  if (m < 1) fail_field("samples", shape, "must have at least 1 column (one column per unit)");
  bool any_active = false;
  for (Eigen::Index i = 0; i < m; ++i) {
    for (Eigen::Index k = 0; k < n; ++k) {
      const double v = samples(k, i);
      if (!std::isfinite(v) || v < 0) {
        fail_field("samples[" + std::to_string(k) + ", " + std::to_string(i) + "]", v,
                   std::isfinite(v) ? "must be >= 0 (a ReLU output)" : "must be finite");
      }
      any_active = any_active || v > 0;
    }
  }
  if (!any_active) fail_field("samples", shape, "has no positive entry: no unit is ever active");

  // ---- Units. ----
  FirstLayerFit fit;
  fit.n_samples = n;
  fit.alpha.resize(m);
  fit.beta.resize(m);
  fit.stderr_alpha.resize(m);
  fit.stderr_beta.resize(m);
  fit.rho_method = rm;
  std::vector<bool> ok(static_cast<std::size_t>(m));
  for (Eigen::Index i = 0; i < m; ++i) {
    const UnitStats st = unit_stats(samples.col(i));
    const double active_fraction = static_cast<double>(st.n_active) / static_cast<double>(n);
    const bool use_mle = um == "mle" || (um == "auto" && active_fraction < options.auto_mle_below);
    const UnitFit u = use_mle ? mle_from_stats(st, options.min_active)
                              : moments_from_stats(st, options.min_active);
    fit.alpha(i) = u.alpha;
    fit.beta(i) = u.beta;
    fit.stderr_alpha(i) = u.stderr_alpha;
    fit.stderr_beta(i) = u.stderr_beta;
    fit.n_active.push_back(u.n_active);
    fit.method.push_back(u.method);
    fit.status.push_back(u.status);
    ok[i] = u.ok;
  }

  // ---- Pairs. ----
  fit.rho_raw = Eigen::MatrixXd::Constant(m, m, kNaN);
  fit.rho_flag = Eigen::MatrixXi::Constant(m, m, static_cast<int>(RhoFlag::kUndefined));
  std::vector<bool> defined = ok;
  Eigen::MatrixXd pair_stat;  // E[s_i s_j] or P(both active), sample versions
  Eigen::VectorXd thresholds(m);
  if (rm == "cross_moment") {
    pair_stat = samples.transpose() * samples / static_cast<double>(n);
  } else {
    const Eigen::MatrixXd active = (samples.array() > 0).cast<double>();
    pair_stat = active.transpose() * active / static_cast<double>(n);
    for (Eigen::Index i = 0; i < m; ++i) {
      // The tetrachoric thresholds: an always-active unit carries no co-activation information.
      if (fit.n_active[i] == n) defined[i] = false;
      thresholds(i) =
          defined[i]
              ? normal_q_inverse(static_cast<double>(fit.n_active[i]) / static_cast<double>(n))
              : kNaN;
    }
  }
  for (Eigen::Index i = 0; i < m; ++i) {
    fit.rho_raw(i, i) = 1.0;
    fit.rho_flag(i, i) = static_cast<int>(RhoFlag::kOk);
    if (!defined[i]) continue;
    for (Eigen::Index j = i + 1; j < m; ++j) {
      if (!defined[j]) continue;
      RhoFlag flag = RhoFlag::kOk;
      const double r =
          rm == "cross_moment"
              ? correlation_from_cross_moment(pair_stat(i, j), fit.alpha(i), fit.beta(i),
                                              fit.alpha(j), fit.beta(j), &flag)
              : correlation_from_coactivation(std::clamp(pair_stat(i, j), 0.0, 1.0), thresholds(i),
                                              thresholds(j), &flag);
      fit.rho_raw(i, j) = fit.rho_raw(j, i) = r;
      fit.rho_flag(i, j) = fit.rho_flag(j, i) = static_cast<int>(flag);
    }
  }

  // ---- Repair the block of defined units. ----
  std::vector<Eigen::Index> keep;
  for (Eigen::Index i = 0; i < m; ++i) {
    if (defined[i]) keep.push_back(i);
  }
  const Eigen::Index b = static_cast<Eigen::Index>(keep.size());
  Eigen::MatrixXd block(b, b);
  for (Eigen::Index a = 0; a < b; ++a) {
    for (Eigen::Index c = 0; c < b; ++c) block(a, c) = fit.rho_raw(keep[a], keep[c]);
  }
  fit.psd_repair = repair_correlation_matrix(block, pm, options.psd_tolerance);
  fit.rho = fit.rho_raw;
  for (Eigen::Index a = 0; a < b; ++a) {
    for (Eigen::Index c = 0; c < b; ++c) fit.rho(keep[a], keep[c]) = block(a, c);
  }
  return fit;
}

Json to_json(const FirstLayerFit& fit) {
  return Json{{"n_samples", fit.n_samples},
              {"alpha", to_json(fit.alpha)},
              {"beta", to_json(fit.beta)},
              {"stderr_alpha", to_json(fit.stderr_alpha)},
              {"stderr_beta", to_json(fit.stderr_beta)},
              {"n_active", fit.n_active},
              {"method", fit.method},
              {"status", fit.status},
              {"rho_method", fit.rho_method},
              {"rho", to_json(fit.rho)},
              {"rho_raw", to_json(fit.rho_raw)},
              {"rho_flag", to_json(Eigen::MatrixXd(fit.rho_flag.cast<double>()))},
              {"psd_repair",
               {{"repaired", fit.psd_repair.repaired},
                {"method", fit.psd_repair.method},
                {"min_eigenvalue_before", fit.psd_repair.min_eigenvalue_before},
                {"min_eigenvalue_after", fit.psd_repair.min_eigenvalue_after},
                {"frobenius_change", fit.psd_repair.frobenius_change},
                {"iterations", fit.psd_repair.iterations}}}};
}

}  // namespace fsr
