// Matching learned dictionary columns to true ones (docs/science.md §2, "output columns"). Columns
// are features: the true output dictionary M is d x m, a learned one M̂ is d x m_hat with m_hat >= m
// (a generator may be wider than the target). Columns are normalised to unit norm and matched
// one-to-one by an exact maximum-weight assignment on |cos| (codes are >= 0, so the sign of a
// column carries information, but |cos| is what docs/science.md scores; the signed cosine of each
// matched pair is reported beside it).
//
//   fsr::ColumnMatch r = fsr::match_columns(M_true, M_learned, /*threshold=*/0.99);
//   // r.permutation[i] = learned column matched to true column i
//   std::printf("mean %.3f worst %.3f above %.2f\n", r.mean_cosine, r.min_cosine,
//   r.fraction_above);
//
// Scoring conventions (docs/theory_matching_and_bounds.md):
// * Exact ties between optimal assignments: the returned one is deterministic — true columns are
//   inserted in index order and the shortest-path search prefers the lowest learned index at
//   equal reduced cost. The total (hence mean_cosine) is the same for every optimum; min_cosine
//   and fraction_above may differ between tied optima.
// * Over-parameterised estimates (m_hat > m) are scored by the one-to-one assignment; beside it,
//   best_cosines / best_index give each true column's best learned column with reuse allowed,
//   and the m_hat - m unassigned learned columns are split into duplicate_columns (their best
//   |cos| with some true column is >= threshold: a second copy of a captured feature, whose code
//   adds to the matched unit's) and dead_columns (match no true column at that level).
#pragma once

#include <Eigen/Core>
#include <vector>

#include "core/json_io.h"

namespace fsr {

// Rectangular linear assignment: cost is n x m with n <= m; find an injective column choice per
// row minimising the summed cost. Exact, O(n^2 m) (shortest augmenting paths with potentials,
// Jonker–Volgenant / Kuhn–Munkres in the e-maxx formulation).
//
// The dual potentials certify optimality for the LP
//   min sum c_ij x_ij  s.t.  sum_j x_ij = 1 (rows), sum_i x_ij <= 1 (columns), x >= 0,
// whose dual is max sum_i u_i + sum_j v_j s.t. u_i + v_j <= c_ij, v_j <= 0. On return:
//   c_ij - u_i - v_j >= 0 everywhere (up to roundoff), = 0 on the assignment,
//   v_j <= 0, and v_j = 0 on unassigned columns, so sum u + sum v = total_cost.
struct Assignment {
  std::vector<int> column_of_row;    // size n, distinct entries in [0, m)
  Eigen::VectorXd row_potential;     // u, size n
  Eigen::VectorXd column_potential;  // v, size m
  double total_cost = 0.0;
};

// Throws InputError when n > m, the matrix is empty or an entry is not finite.
Assignment solve_assignment_with_potentials(const Eigen::MatrixXd& cost);
std::vector<int> solve_assignment(const Eigen::MatrixXd& cost);  // column_of_row only

struct ColumnMatch {
  double threshold = 0.99;
  // One-to-one assignment maximising sum_i |cos(truth_i, estimate_{permutation[i]})|.
  std::vector<int> permutation;        // size m: estimate column matched to truth column i
  std::vector<double> cosines;         // size m: |cos| of the matched pair
  std::vector<double> signed_cosines;  // size m: cos of the matched pair
  double total_cosine = 0.0;           // sum of cosines (the maximised objective)
  double mean_cosine = 0.0;
  double min_cosine = 0.0;
  double fraction_above = 0.0;  // fraction of truth columns with matched |cos| >= threshold
  std::vector<int> unmatched;   // estimate columns not in permutation, ascending (m_hat - m)

  // Per truth column, reuse allowed: max_j |cos(truth_i, estimate_j)| and its argmax (lowest
  // index on exact ties).
  std::vector<double> best_cosines;
  std::vector<int> best_index;
  double mean_best_cosine = 0.0;
  double min_best_cosine = 0.0;
  double fraction_best_above = 0.0;

  // Per estimate column: max_i |cos(truth_i, estimate_j)| and its argmax (lowest index on ties).
  std::vector<double> estimate_best_cosines;
  std::vector<int> estimate_best_truth;
  // Partition of `unmatched` by estimate_best_cosines >= threshold, both ascending.
  std::vector<int> duplicate_columns;
  std::vector<int> dead_columns;
};

// truth: d x m, estimate: d x m_hat, m_hat >= m >= 1. Throws InputError (naming "truth" or
// "estimate", the value and the rule) on mismatched d, m_hat < m, a non-finite entry or a
// zero-norm column; and on a threshold outside [0, 1].
ColumnMatch match_columns(const Eigen::MatrixXd& truth, const Eigen::MatrixXd& estimate,
                          double threshold = 0.99);

// The same match from the signed cosines themselves (m x m_hat, m <= m_hat, entries in [-1, 1]):
// for callers whose estimate has columns without a direction (score/recovery.h scores a missing
// column against a zero stand-in at cos 0), which match_columns refuses.
ColumnMatch match_cosines(const Eigen::MatrixXd& signed_cosines, double threshold = 0.99);

// The match as the document `fsr match` prints and `fsrlab.match_columns` returns: permutation,
// cosines, signed_cosines, mean_cosine, min_cosine, threshold, fraction_above, unmatched,
// best_cosines, best_index, duplicate_columns, dead_columns.
Json to_json(const ColumnMatch& match);

// |cos| matrix (m x m_hat) after normalising columns; validates as match_columns does.
Eigen::MatrixXd abs_cosine_matrix(const Eigen::MatrixXd& truth, const Eigen::MatrixXd& estimate);

}  // namespace fsr
