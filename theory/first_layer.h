// Estimators of the first hidden layer of G* (docs/science.md §1, §3) from samples of its codes:
// S_{n,i} = ReLU(alpha_i g_{n,i} - beta_i), g_n ~ N(0, rho) with unit diagonal. Per unit,
// (alpha, beta) by moment inversion or by censored-normal (Tobit) maximum likelihood; per pair,
// rho_ij from co-activation frequencies (orthant probability, Owen's T) or from E[s_i s_j];
// then the rho matrix is repaired to a correlation matrix. Formulas, assumptions and edge cases:
// docs/theory_estimators.md.
//
//   Eigen::MatrixXd S = ...;                      // N x m: one row per sample, one column per unit
//   fsr::FirstLayerFit fit = fsr::fit_first_layer(S, {.unit_method = "auto"});
//   double a0 = fit.alpha(0), r01 = fit.rho(0, 1);   // NaN with fit.status[0] when unit 0 is dead
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "core/json_io.h"

namespace fsr {

// ---- Per unit ---------------------------------------------------------------------------------

// One unit's estimate. On failure (too few active samples, degenerate data) alpha, beta and the
// standard errors are NaN, ok is false and status says why; the fit of other units goes on.
struct UnitFit {
  double alpha = 0.0;
  double beta = 0.0;
  double stderr_alpha = 0.0;  // asymptotic standard errors (see docs for the method)
  double stderr_beta = 0.0;
  std::int64_t n_samples = 0;
  std::int64_t n_active = 0;  // samples with s > 0
  std::string method;         // "moments" | "mle"
  bool ok = false;
  std::string status;  // "ok" or the reason for NaN
  int iterations = 0;  // Newton iterations (mle), 0 for moments
};

// Moment inversion: r = mean(s)^2 / mean(s^2) -> t = relu_t_from_moment_ratio(r),
// alpha = sqrt(mean(s^2) / I_2(t)), beta = alpha t. Standard errors by the delta method with the
// covariance of (s, s^2) taken from the fitted model (moments up to order 4).
// samples: one unit's values (length N >= 2, every entry finite and >= 0: throws InputError
// naming "samples[n]" otherwise). Units with fewer than min_active active samples: NaN + status.
UnitFit fit_unit_moments(const Eigen::Ref<const Eigen::VectorXd>& samples,
                         std::int64_t min_active = 2);

// Censored-normal maximum likelihood: zeros contribute log Phi(t), active values the density
// phi((s + beta) / alpha) / alpha. Maximised by Newton's method with backtracking in Olsen's
// parameters (1/alpha, beta/alpha), where the log-likelihood is globally concave, started from
// the moment estimate. Standard errors from the observed information, mapped to (alpha, beta) by
// the delta method. Same validation and NaN rules as fit_unit_moments.
UnitFit fit_unit_mle(const Eigen::Ref<const Eigen::VectorXd>& samples, std::int64_t min_active = 2);

// ---- Per pair ---------------------------------------------------------------------------------

// P(g_i > t_i, g_j > t_j) for standard normals with correlation rho in [-1, 1] (Owen's T
// formula; exact limits at rho = +-1). Absolute accuracy ~1e-16.
double bivariate_orthant(double t_i, double t_j, double rho);

// E[s_i s_j] for s = ReLU(alpha g - beta) and corr(g_i, g_j) = rho in [-1, 1], by the closed
// form of the truncated bivariate normal's moments (Rosenbaum 1961).
double relu_cross_moment(double alpha_i, double beta_i, double alpha_j, double beta_j, double rho);

// Where an inverted correlation lies. kClampedLow/kClampedHigh: the observed statistic was at or
// beyond the value the model gives at rho = -1 / +1, so rho is set to that end.
enum class RhoFlag : int { kOk = 0, kClampedLow = -1, kClampedHigh = 1, kUndefined = 2 };

// rho with bivariate_orthant(t_i, t_j, rho) = p_both (TOMS 748 in rho on [-1, 1]; the orthant
// probability is strictly increasing in rho). p_both in [0, 1]; t_i, t_j finite.
double correlation_from_coactivation(double p_both, double t_i, double t_j,
                                     RhoFlag* flag = nullptr);

// rho with relu_cross_moment(alpha_i, beta_i, alpha_j, beta_j, rho) = cross_moment (strictly
// increasing in rho: d/drho E[s_i s_j] = alpha_i alpha_j P(both active) > 0).
double correlation_from_cross_moment(double cross_moment, double alpha_i, double beta_i,
                                     double alpha_j, double beta_j, RhoFlag* flag = nullptr);

// ---- Correlation-matrix repair ----------------------------------------------------------------

struct PsdRepair {
  bool repaired = false;  // false: the matrix already was PSD (to the tolerance)
  std::string method;     // "higham" | "clip" | "none"
  double min_eigenvalue_before = 0.0;
  double min_eigenvalue_after = 0.0;
  double frobenius_change = 0.0;  // ||after - before||_F
  int iterations = 0;             // Higham's alternating projections
};

// Makes a symmetric matrix with unit diagonal positive semi-definite with unit diagonal.
// "higham": nearest correlation matrix in the Frobenius norm (Higham 2002, alternating projections
// with Dykstra's correction); "clip": eigenvalues clipped at 0, then rescaled to unit diagonal;
// "none": only reports. Repairs only when the smallest eigenvalue is below -tolerance.
// The matrix must be square, symmetric and finite (InputError naming "rho" otherwise).
PsdRepair repair_correlation_matrix(Eigen::MatrixXd& rho, const std::string& method = "higham",
                                    double tolerance = 1e-12);

// ---- The whole layer --------------------------------------------------------------------------

struct FirstLayerOptions {
  // "moments" | "mle" | "auto": auto uses mle when the unit's active fraction is below
  // auto_mle_below, moments otherwise.
  std::string unit_method = "auto";
  double auto_mle_below = 0.3;
  // "cross_moment": invert the sample E[s_i s_j] given the fitted (alpha, beta);
  // "coactivation": invert the co-activation frequency with thresholds Q^{-1}(active fraction)
  // (the tetrachoric correlation of the activity indicators).
  std::string rho_method = "cross_moment";
  std::string psd_repair = "higham";  // "higham" | "clip" | "none"
  double psd_tolerance = 1e-12;
  std::int64_t min_active = 2;  // fewer active samples: that unit is NaN with a status
};

struct FirstLayerFit {
  std::int64_t n_samples = 0;
  Eigen::VectorXd alpha, beta, stderr_alpha, stderr_beta;  // length m; NaN for failed units
  std::vector<std::int64_t> n_active;
  std::vector<std::string> method;  // per unit: "moments" | "mle" (what was used)
  std::vector<std::string> status;  // per unit: "ok" or why it is NaN
  std::string rho_method;
  Eigen::MatrixXd rho_raw;   // m x m, before repair; NaN where undefined
  Eigen::MatrixXd rho;       // m x m, after repair (of the defined units' block)
  Eigen::MatrixXi rho_flag;  // m x m, static_cast<int>(RhoFlag)
  PsdRepair psd_repair;
};

// samples: N x m (rows = samples, columns = units), N >= 2, every entry finite and >= 0
// (InputError naming "samples[n, i]"). A unit without enough active samples gets NaN parameters
// and NaN correlations (flag kUndefined) but does not stop the fit; a matrix without any active
// entry is an InputError. The PSD repair acts on the block of units whose correlations are all
// defined; the other rows keep NaN off the diagonal.
FirstLayerFit fit_first_layer(const Eigen::MatrixXd& samples,
                              const FirstLayerOptions& options = {});

// The fit as the document `fsr fit-first-layer` prints and `fsrlab.fit_first_layer` returns:
// n_samples, alpha, beta, stderr_alpha, stderr_beta (NaN -> null), n_active, method, status,
// rho_method, rho, rho_raw (lists of rows), rho_flag, psd_repair.
Json to_json(const FirstLayerFit& fit);

}  // namespace fsr
