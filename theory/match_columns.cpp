#include "theory/match_columns.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "core/validate.h"

namespace fsr {
namespace {

// Unit-norm copy of the columns; names the first zero column. Each column is divided by its
// largest |entry| before its norm is taken: the sum of squares of finite entries can overflow
// (columns scaled by 1e160) or underflow to 0 (1e-170), the scaled one lies in [1, d].
Eigen::MatrixXd normalised_columns(const std::string& field, const Eigen::MatrixXd& a) {
  require_all_finite(field, a);
  Eigen::MatrixXd out(a.rows(), a.cols());
  for (Eigen::Index j = 0; j < a.cols(); ++j) {
    const double largest = a.rows() > 0 ? a.col(j).cwiseAbs().maxCoeff() : 0.0;
    if (!(largest > 0.0)) {
      fail_field(field + "[:, " + std::to_string(j) + "] norm", 0.0,
                 "must be > 0 (a zero column has no direction to match)");
    }
    const Eigen::VectorXd scaled = a.col(j) / largest;
    out.col(j) = scaled / scaled.norm();
  }
  return out;
}

// Signed cosines, m x m_hat, clamped to [-1, 1] against roundoff.
Eigen::MatrixXd signed_cosine_matrix(const Eigen::MatrixXd& truth,
                                     const Eigen::MatrixXd& estimate) {
  if (truth.rows() == 0 || truth.cols() == 0) {
    fail_field("truth shape", matrix_shape(truth), "must have at least one row and one column");
  }
  if (estimate.rows() != truth.rows()) {
    fail_field("estimate shape", matrix_shape(estimate),
               "must have d = " + std::to_string(truth.rows()) + " rows like truth " +
                   matrix_shape(truth) + " (columns are features)");
  }
  if (estimate.cols() < truth.cols()) {
    fail_field("estimate shape", matrix_shape(estimate),
               "must have at least m = " + std::to_string(truth.cols()) + " columns like truth " +
                   matrix_shape(truth) + " (each true column needs its own learned column)");
  }
  const Eigen::MatrixXd t = normalised_columns("truth", truth);
  const Eigen::MatrixXd e = normalised_columns("estimate", estimate);
  Eigen::MatrixXd cosines = t.transpose() * e;
  return cosines.cwiseMax(-1.0).cwiseMin(1.0);
}

}  // namespace

Assignment solve_assignment_with_potentials(const Eigen::MatrixXd& cost) {
  const int n = static_cast<int>(cost.rows());
  const int m = static_cast<int>(cost.cols());
  if (n == 0 || m == 0 || n > m) {
    fail_field("cost shape", matrix_shape(cost), "must be n x m with 1 <= n <= m");
  }
  require_all_finite("cost", cost);

  // Row-major copy: the search scans one row at a time.
  std::vector<double> a(static_cast<std::size_t>(n) * m);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < m; ++j) a[static_cast<std::size_t>(i) * m + j] = cost(i, j);
  }

  // 1-based rows and columns; column 0 is the virtual source of each augmenting path.
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0), minv(m + 1);
  std::vector<int> p(m + 1, 0), way(m + 1, 0);
  std::vector<char> used(m + 1);
  std::vector<int> used_list;
  used_list.reserve(m + 1);
  for (int i = 1; i <= n; ++i) {
    p[0] = i;
    int j0 = 0;
    std::fill(minv.begin(), minv.end(), kInf);
    std::fill(used.begin(), used.end(), 0);
    used_list.clear();
    do {
      used[j0] = 1;
      used_list.push_back(j0);
      const int i0 = p[j0];
      const double* row = a.data() + static_cast<std::size_t>(i0 - 1) * m - 1;  // row[j], j >= 1
      const double ui0 = u[i0];
      double delta = kInf;
      int j1 = 0;
      for (int j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double reduced = row[j] - ui0 - v[j];
        if (reduced < minv[j]) {
          minv[j] = reduced;
          way[j] = j0;
        }
        if (minv[j] < delta) {  // strict: lowest column index wins exact ties
          delta = minv[j];
          j1 = j;
        }
      }
      for (const int j : used_list) {
        u[p[j]] += delta;
        v[j] -= delta;
      }
      for (int j = 1; j <= m; ++j) {
        if (!used[j]) minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {  // flip the augmenting path
      const int j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }

  Assignment result;
  result.column_of_row.assign(n, -1);
  for (int j = 1; j <= m; ++j) {
    if (p[j] != 0) result.column_of_row[p[j] - 1] = j - 1;
  }
  result.row_potential = Eigen::Map<const Eigen::VectorXd>(u.data() + 1, n);
  result.column_potential = Eigen::Map<const Eigen::VectorXd>(v.data() + 1, m);
  for (int i = 0; i < n; ++i) result.total_cost += cost(i, result.column_of_row[i]);
  return result;
}

std::vector<int> solve_assignment(const Eigen::MatrixXd& cost) {
  return solve_assignment_with_potentials(cost).column_of_row;
}

Eigen::MatrixXd abs_cosine_matrix(const Eigen::MatrixXd& truth, const Eigen::MatrixXd& estimate) {
  return signed_cosine_matrix(truth, estimate).cwiseAbs();
}

ColumnMatch match_columns(const Eigen::MatrixXd& truth, const Eigen::MatrixXd& estimate,
                          double threshold) {
  return match_cosines(signed_cosine_matrix(truth, estimate), threshold);
}

ColumnMatch match_cosines(const Eigen::MatrixXd& signed_cos, double threshold) {
  require_in_range("threshold", threshold, 0.0, 1.0, /*closed_lo=*/true, /*closed_hi=*/true);
  if (signed_cos.rows() == 0 || signed_cos.rows() > signed_cos.cols())
    fail_field("cosine shape", matrix_shape(signed_cos), "must be m x m_hat with 1 <= m <= m_hat");
  require_all_finite("cosines", signed_cos);
  const Eigen::MatrixXd abs_cos = signed_cos.cwiseAbs();
  const int m = static_cast<int>(abs_cos.rows());
  const int m_hat = static_cast<int>(abs_cos.cols());

  ColumnMatch r;
  r.threshold = threshold;
  // Maximising sum |cos| = minimising sum (1 - |cos|); the shift keeps costs in [0, 1].
  const Eigen::MatrixXd cost = (1.0 - abs_cos.array()).matrix();
  r.permutation = solve_assignment(cost);

  std::vector<char> assigned(m_hat, 0);
  r.cosines.resize(m);
  r.signed_cosines.resize(m);
  r.min_cosine = std::numeric_limits<double>::infinity();
  int above = 0;
  for (int i = 0; i < m; ++i) {
    const int j = r.permutation[i];
    assigned[j] = 1;
    r.cosines[i] = abs_cos(i, j);
    r.signed_cosines[i] = signed_cos(i, j);
    r.total_cosine += r.cosines[i];
    r.min_cosine = std::min(r.min_cosine, r.cosines[i]);
    if (r.cosines[i] >= threshold) ++above;
  }
  r.mean_cosine = r.total_cosine / m;
  r.fraction_above = static_cast<double>(above) / m;

  r.best_cosines.resize(m);
  r.best_index.resize(m);
  r.min_best_cosine = std::numeric_limits<double>::infinity();
  int best_above = 0;
  double best_sum = 0.0;
  for (int i = 0; i < m; ++i) {
    int j = 0;
    for (int k = 1; k < m_hat; ++k) {
      if (abs_cos(i, k) > abs_cos(i, j)) j = k;  // strict: lowest index wins exact ties
    }
    r.best_cosines[i] = abs_cos(i, j);
    r.best_index[i] = j;
    best_sum += r.best_cosines[i];
    r.min_best_cosine = std::min(r.min_best_cosine, r.best_cosines[i]);
    if (r.best_cosines[i] >= threshold) ++best_above;
  }
  r.mean_best_cosine = best_sum / m;
  r.fraction_best_above = static_cast<double>(best_above) / m;

  r.estimate_best_cosines.resize(m_hat);
  r.estimate_best_truth.resize(m_hat);
  for (int j = 0; j < m_hat; ++j) {
    int i = 0;
    for (int k = 1; k < m; ++k) {
      if (abs_cos(k, j) > abs_cos(i, j)) i = k;
    }
    r.estimate_best_cosines[j] = abs_cos(i, j);
    r.estimate_best_truth[j] = i;
    if (assigned[j]) continue;
    r.unmatched.push_back(j);
    (r.estimate_best_cosines[j] >= threshold ? r.duplicate_columns : r.dead_columns).push_back(j);
  }
  return r;
}

Json to_json(const ColumnMatch& r) {
  return Json{{"permutation", r.permutation},
              {"cosines", r.cosines},
              {"signed_cosines", r.signed_cosines},
              {"mean_cosine", r.mean_cosine},
              {"min_cosine", r.min_cosine},
              {"threshold", r.threshold},
              {"fraction_above", r.fraction_above},
              {"unmatched", r.unmatched},
              {"best_cosines", r.best_cosines},
              {"best_index", r.best_index},
              {"duplicate_columns", r.duplicate_columns},
              {"dead_columns", r.dead_columns}};
}

}  // namespace fsr
