#include "synth/dictionary.h"

#include <cmath>

#include "core/validate.h"
#include "theory/sparse_coding.h"

namespace fsr {
namespace {

Eigen::MatrixXd gaussian(int rows, int cols, Rng& rng) {
  Eigen::MatrixXd G(rows, cols);
  for (int j = 0; j < cols; ++j) {
    for (int i = 0; i < rows; ++i) G(i, j) = rng.normal();
  }
  return G;
}

void normalize_columns(Eigen::MatrixXd& M) {
  for (int j = 0; j < M.cols(); ++j) M.col(j) /= M.col(j).norm();
}

}  // namespace

Eigen::MatrixXd orthonormal_dictionary(int d, int m, Rng& rng) {
  if (m > d)
    fail_field("channels", m,
               "must be <= d = " + std::to_string(d) + " for an orthonormal dictionary");
  Eigen::MatrixXd G = gaussian(d, m, rng);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(G);
  Eigen::MatrixXd Q = qr.householderQ() * Eigen::MatrixXd::Identity(d, m);
  const Eigen::MatrixXd R = qr.matrixQR().topLeftCorner(m, m);
  for (int j = 0; j < m; ++j) {
    if (R(j, j) < 0) Q.col(j) = -Q.col(j);
  }
  return Q;
}

double coherence(const Eigen::MatrixXd& M) { return coherence_stats(M).max; }

double welch_bound(int d, int m) {
  if (m <= d) return 0.0;
  return std::sqrt(double(m - d) / (double(d) * (m - 1)));
}

Eigen::MatrixXd incoherent_dictionary(int d, int m, double mu, Rng& rng, const std::string& field) {
  Eigen::MatrixXd M = gaussian(d, m, rng);
  normalize_columns(M);
  const double target = 0.98 * mu;  // aim a little inside the bound so rounding cannot break it
  const int max_iterations = 20000;
  double step = 0.2;
  double best = coherence(M);
  Eigen::MatrixXd best_M = M;
  for (int it = 0; it < max_iterations && best > mu; ++it) {
    Eigen::MatrixXd G = M.transpose() * M;
    Eigen::MatrixXd H = Eigen::MatrixXd::Zero(m, m);
    for (int j = 0; j < m; ++j) {
      for (int i = 0; i < m; ++i) {
        if (i == j) continue;
        const double excess = std::abs(G(i, j)) - target;
        if (excess > 0) H(i, j) = std::copysign(excess, G(i, j));
      }
    }
    M -= step * (M * H);
    normalize_columns(M);
    const double mu_now = coherence(M);
    if (mu_now < best) {
      best = mu_now;
      best_M = M;
    }
    if (it % 2000 == 1999) step *= 0.7;  // anneal: late iterations only polish
  }
  if (best > mu) {
    fail_field(field, mu,
               "not reached for m = " + std::to_string(m) + " columns in d = " + std::to_string(d) +
                   " (best " + format_value(best) + ", Welch bound " +
                   format_value(welch_bound(d, m)) + "); raise it or lower the channels");
  }
  return best_M;
}

}  // namespace fsr
