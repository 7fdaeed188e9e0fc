#include "theory/match_columns.h"

#include <gtest/gtest.h>

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/validate.h"

namespace fsr {
namespace {

Eigen::MatrixXd gaussian_matrix(int rows, int cols, Rng& rng) {
  Eigen::MatrixXd a(rows, cols);
  for (int j = 0; j < cols; ++j) {
    for (int i = 0; i < rows; ++i) a(i, j) = rng.normal();
  }
  return a;
}

Eigen::MatrixXd uniform_matrix(int rows, int cols, Rng& rng, double lo, double hi) {
  Eigen::MatrixXd a(rows, cols);
  for (int j = 0; j < cols; ++j) {
    for (int i = 0; i < rows; ++i) a(i, j) = lo + (hi - lo) * rng.uniform();
  }
  return a;
}

std::vector<int> random_permutation(int n, Rng& rng) {
  std::vector<int> p(n);
  std::iota(p.begin(), p.end(), 0);
  for (int i = n - 1; i > 0; --i) std::swap(p[i], p[rng.uniform_int(i + 1)]);
  return p;
}

// Independent reference: the minimum over every injection rows -> columns, by depth-first search.
void brute_force(const Eigen::MatrixXd& cost, int row, std::vector<char>& taken, double partial,
                 double& best) {
  if (row == cost.rows()) {
    best = std::min(best, partial);
    return;
  }
  for (int j = 0; j < cost.cols(); ++j) {
    if (taken[j]) continue;
    taken[j] = 1;
    brute_force(cost, row + 1, taken, partial + cost(row, j), best);
    taken[j] = 0;
  }
}

double brute_force_min(const Eigen::MatrixXd& cost) {
  std::vector<char> taken(cost.cols(), 0);
  double best = std::numeric_limits<double>::infinity();
  brute_force(cost, 0, taken, 0.0, best);
  return best;
}

void expect_injective(const std::vector<int>& columns, int n, int m) {
  ASSERT_EQ(static_cast<int>(columns.size()), n);
  std::vector<char> seen(m, 0);
  for (int j : columns) {
    ASSERT_GE(j, 0);
    ASSERT_LT(j, m);
    EXPECT_FALSE(seen[j]) << "column " << j << " assigned twice";
    seen[j] = 1;
  }
}

double assignment_cost(const Eigen::MatrixXd& cost, const std::vector<int>& columns) {
  double s = 0.0;
  for (int i = 0; i < cost.rows(); ++i) s += cost(i, columns[i]);
  return s;
}

struct Shape {
  int n, m;
};
const Shape kSmallShapes[] = {{1, 1}, {1, 6}, {2, 2}, {3, 3}, {3, 7}, {4, 8},
                              {5, 5}, {5, 8}, {6, 6}, {7, 7}, {7, 8}, {8, 8}};

TEST(SolveAssignment, MatchesBruteForceOnSmallRandomCosts) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    Rng rng(seed);
    for (const Shape& s : kSmallShapes) {
      const Eigen::MatrixXd cost = uniform_matrix(s.n, s.m, rng, -3.0, 5.0);
      const std::vector<int> cols = solve_assignment(cost);
      expect_injective(cols, s.n, s.m);
      // Sums of <= 8 terms of size <= 5: roundoff far below 1e-12.
      EXPECT_NEAR(assignment_cost(cost, cols), brute_force_min(cost), 1e-12)
          << "seed " << seed << " shape " << s.n << "x" << s.m;
    }
  }
}

TEST(SolveAssignment, MatchesBruteForceWithManyTies) {
  // Integer costs in {0, 1, 2}: many optimal assignments; the total must still be optimal.
  for (std::uint64_t seed = 11; seed <= 14; ++seed) {
    Rng rng(seed);
    for (const Shape& s : kSmallShapes) {
      Eigen::MatrixXd cost(s.n, s.m);
      for (int i = 0; i < s.n; ++i) {
        for (int j = 0; j < s.m; ++j) cost(i, j) = static_cast<double>(rng.uniform_int(3));
      }
      const std::vector<int> cols = solve_assignment(cost);
      expect_injective(cols, s.n, s.m);
      EXPECT_EQ(assignment_cost(cost, cols), brute_force_min(cost));  // integers: exact
    }
  }
}

TEST(SolveAssignment, TiesAreBrokenDeterministically) {
  // Every assignment is optimal; the documented rule (rows in order, lowest free column at equal
  // reduced cost) gives the identity.
  const Eigen::MatrixXd constant = Eigen::MatrixXd::Constant(4, 6, 0.5);
  EXPECT_EQ(solve_assignment(constant), (std::vector<int>{0, 1, 2, 3}));
  // Two optimal assignments with different worst entries: both total 1.6.
  Eigen::MatrixXd cos(2, 2);
  cos << 0.9, 0.8, 0.8, 0.7;
  const Eigen::MatrixXd cost = -cos;
  const std::vector<int> first = solve_assignment(cost);
  EXPECT_NEAR(assignment_cost(cost, first), -1.6, 1e-15);
  EXPECT_EQ(solve_assignment(cost), first);
}

// Checks the LP-duality certificate: it proves optimality independently of how it was found.
void expect_certificate(const Eigen::MatrixXd& cost, const Assignment& a, double tol) {
  const int n = static_cast<int>(cost.rows()), m = static_cast<int>(cost.cols());
  expect_injective(a.column_of_row, n, m);
  std::vector<char> assigned(m, 0);
  for (int j : a.column_of_row) assigned[j] = 1;
  double min_reduced = std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < m; ++j) {
      min_reduced = std::min(min_reduced, cost(i, j) - a.row_potential(i) - a.column_potential(j));
    }
    const int j = a.column_of_row[i];
    EXPECT_NEAR(cost(i, j) - a.row_potential(i) - a.column_potential(j), 0.0, tol)
        << "complementary slackness, row " << i;
  }
  EXPECT_GE(min_reduced, -tol) << "dual feasibility";
  for (int j = 0; j < m; ++j) {
    EXPECT_LE(a.column_potential(j), tol) << "column " << j;
    if (!assigned[j]) {
      EXPECT_NEAR(a.column_potential(j), 0.0, tol) << "unassigned column " << j;
    }
  }
  const double dual = a.row_potential.sum() + a.column_potential.sum();
  EXPECT_NEAR(dual, assignment_cost(cost, a.column_of_row), tol * n);
  EXPECT_NEAR(a.total_cost, assignment_cost(cost, a.column_of_row), tol * n);
}

TEST(SolveAssignment, DualPotentialsCertifyOptimalityOnLargeCases) {
  const Shape shapes[] = {{50, 50}, {50, 80}, {120, 120}, {100, 200}, {200, 200}};
  std::uint64_t seed = 100;
  for (const Shape& s : shapes) {
    Rng rng(++seed);
    const Eigen::MatrixXd cost = uniform_matrix(s.n, s.m, rng, 0.0, 1.0);
    // Potentials accumulate up to ~n deltas of size <= 1: 1e-10 absolute is ample.
    expect_certificate(cost, solve_assignment_with_potentials(cost), 1e-10);
  }
  // Integer costs with heavy ties, and a |cos|-shaped cost from real dictionaries.
  Rng rng(7);
  Eigen::MatrixXd ties(150, 160);
  for (int i = 0; i < 150; ++i) {
    for (int j = 0; j < 160; ++j) ties(i, j) = static_cast<double>(rng.uniform_int(4));
  }
  expect_certificate(ties, solve_assignment_with_potentials(ties), 1e-10);
  const Eigen::MatrixXd abs_cos =
      abs_cosine_matrix(gaussian_matrix(32, 90, rng), gaussian_matrix(32, 120, rng));
  const Eigen::MatrixXd cos_cost = (1.0 - abs_cos.array()).matrix();
  expect_certificate(cos_cost, solve_assignment_with_potentials(cos_cost), 1e-10);
}

TEST(SolveAssignment, RejectsBadShapesAndValues) {
  EXPECT_THROW(solve_assignment(Eigen::MatrixXd::Zero(3, 2)), InputError);
  EXPECT_THROW(solve_assignment(Eigen::MatrixXd(0, 0)), InputError);
  Eigen::MatrixXd nan = Eigen::MatrixXd::Zero(2, 2);
  nan(1, 0) = std::numeric_limits<double>::quiet_NaN();
  try {
    solve_assignment(nan);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cost[1, 0] = nan"), std::string::npos) << e.what();
  }
}

TEST(MatchColumns, MatchesBruteForceIncludingWiderEstimates) {
  const Shape shapes[] = {{3, 3}, {3, 6}, {5, 5}, {5, 8}, {6, 7}, {8, 8}};
  for (std::uint64_t seed = 21; seed <= 24; ++seed) {
    Rng rng(seed);
    for (const Shape& s : shapes) {
      const Eigen::MatrixXd truth = gaussian_matrix(6, s.n, rng);
      const Eigen::MatrixXd estimate = gaussian_matrix(6, s.m, rng);
      const ColumnMatch r = match_columns(truth, estimate);
      expect_injective(r.permutation, s.n, s.m);
      // Reference |cos| computed independently of abs_cosine_matrix.
      Eigen::MatrixXd neg_cos(s.n, s.m);
      for (int i = 0; i < s.n; ++i) {
        for (int j = 0; j < s.m; ++j) {
          neg_cos(i, j) = -std::abs(truth.col(i).dot(estimate.col(j))) /
                          (truth.col(i).norm() * estimate.col(j).norm());
        }
      }
      EXPECT_NEAR(r.total_cosine, -brute_force_min(neg_cos), 1e-12);
      EXPECT_NEAR(r.mean_cosine * s.n, r.total_cosine, 1e-12);
      EXPECT_EQ(static_cast<int>(r.unmatched.size()), s.m - s.n);
      for (int i = 0; i < s.n; ++i) {
        EXPECT_NEAR(r.cosines[i], -neg_cos(i, r.permutation[i]), 1e-14);
        EXPECT_NEAR(std::abs(r.signed_cosines[i]), r.cosines[i], 1e-15);
        EXPECT_GE(r.best_cosines[i], r.cosines[i]);
      }
    }
  }
}

TEST(MatchColumns, RecoversPlantedPermutationUnderNoise) {
  for (const int m : {50, 120, 200}) {
    Rng rng(300 + m);
    const int d = 64, extra = m / 5;
    const Eigen::MatrixXd truth = gaussian_matrix(d, m, rng);  // overcomplete when m > d
    const std::vector<int> perm = random_permutation(m + extra, rng);
    Eigen::MatrixXd estimate = gaussian_matrix(d, m + extra, rng);  // unplanted columns: random
    for (int i = 0; i < m; ++i) {
      const double scale = 0.5 + rng.uniform();
      const double sign = (i % 3 == 0) ? -1.0 : 1.0;
      estimate.col(perm[i]) = sign * scale * truth.col(i) / truth.col(i).norm();
    }
    estimate += 0.01 / std::sqrt(d) * gaussian_matrix(d, m + extra, rng);  // ~1% relative noise
    const ColumnMatch r = match_columns(truth, estimate, 0.99);
    for (int i = 0; i < m; ++i) {
      EXPECT_EQ(r.permutation[i], perm[i]) << "m " << m << " column " << i;
      EXPECT_GT(r.cosines[i], 0.99);
      EXPECT_EQ(r.signed_cosines[i] < 0, i % 3 == 0);
      EXPECT_EQ(r.best_index[i], perm[i]);
    }
    EXPECT_EQ(r.fraction_above, 1.0);
    EXPECT_EQ(static_cast<int>(r.unmatched.size()), extra);
    // Random 64-d directions have |cos| ~ 0.1 with the truth: all unmatched columns are dead.
    EXPECT_EQ(r.dead_columns, r.unmatched);
    EXPECT_TRUE(r.duplicate_columns.empty());
  }
}

TEST(MatchColumns, ExactRecoveryOfPermutedOrthonormalDictionary) {
  Rng rng(5);
  const int d = 16, m = 12;
  const Eigen::MatrixXd q =
      Eigen::HouseholderQR<Eigen::MatrixXd>(gaussian_matrix(d, d, rng)).householderQ() *
      Eigen::MatrixXd::Identity(d, m);
  const std::vector<int> perm = random_permutation(m, rng);
  Eigen::MatrixXd estimate(d, m);
  for (int i = 0; i < m; ++i) estimate.col(perm[i]) = (1.0 + i) * q.col(i);
  const ColumnMatch r = match_columns(q, estimate);
  EXPECT_EQ(r.permutation, perm);
  for (int i = 0; i < m; ++i) {
    EXPECT_NEAR(r.cosines[i], 1.0, 1e-14);  // unit vectors of length 16: a few ulps
    EXPECT_NEAR(r.signed_cosines[i], 1.0, 1e-14);
  }
  EXPECT_NEAR(r.mean_cosine, 1.0, 1e-14);
  EXPECT_NEAR(r.min_cosine, 1.0, 1e-14);
  EXPECT_EQ(r.fraction_above, 1.0);
  EXPECT_TRUE(r.unmatched.empty());
}

TEST(MatchColumns, DuplicateAndDeadColumnsOfAWiderEstimate) {
  const Eigen::MatrixXd truth = Eigen::MatrixXd::Identity(4, 3);
  Eigen::MatrixXd estimate = Eigen::MatrixXd::Zero(4, 5);
  estimate(0, 0) = 2.0;   // e0
  estimate(0, 1) = 1.0;   // e0 again: a duplicate unit
  estimate(1, 2) = 1.0;   // e1
  estimate(2, 3) = -1.0;  // -e2
  estimate(3, 4) = 1.0;   // e3: no true column there
  const ColumnMatch r = match_columns(truth, estimate);
  // Exact tie between columns 0 and 1 for truth 0: the lowest index wins.
  EXPECT_EQ(r.permutation, (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(r.signed_cosines, (std::vector<double>{1.0, 1.0, -1.0}));
  EXPECT_EQ(r.best_index, (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(r.unmatched, (std::vector<int>{1, 4}));
  EXPECT_EQ(r.duplicate_columns, (std::vector<int>{1}));
  EXPECT_EQ(r.dead_columns, (std::vector<int>{4}));
  EXPECT_EQ(r.estimate_best_truth[1], 0);
  EXPECT_EQ(r.estimate_best_cosines[4], 0.0);
}

TEST(MatchColumns, OneToOneScoreAndBestScoreDifferWhenColumnsAreShared) {
  // Both true columns are closest to the same learned column; the assignment must give one of
  // them the second-best column, while best_cosines reuses column 0.
  Eigen::MatrixXd truth(2, 2);
  truth << 1.0, 0.8, 0.0, 0.6;  // columns e0 and (0.8, 0.6)
  Eigen::MatrixXd estimate(2, 2);
  estimate << 0.96, 0.0, 0.28, 1.0;  // (0.96, 0.28) and e1
  const ColumnMatch r = match_columns(truth, estimate, 0.9);
  // Options: 0.96 + 0.6 = 1.56 or 0.0 + 0.936 = 0.936.
  EXPECT_EQ(r.permutation, (std::vector<int>{0, 1}));
  EXPECT_NEAR(r.total_cosine, 1.56, 1e-12);
  EXPECT_EQ(r.best_index, (std::vector<int>{0, 0}));
  EXPECT_NEAR(r.best_cosines[1], 0.936, 1e-12);
  EXPECT_EQ(r.fraction_above, 0.5);
  EXPECT_EQ(r.fraction_best_above, 1.0);
}

// Cosines do not depend on the columns' scale: finite columns scaled by 1e160 (whose sum of
// squares overflows) or 1e-170 (whose sum of squares underflows to 0) match as the unscaled ones
// do. Reference: a column matched against a positive multiple of itself has cosine 1 (the
// tolerance is a few ulps of the normalisation).
TEST(MatchColumns, ScaleOfTheColumnsDoesNotMatter) {
  Rng rng(11);
  const Eigen::MatrixXd t = gaussian_matrix(6, 4, rng);
  const std::vector<int> perm = random_permutation(4, rng);
  Eigen::MatrixXd e(6, 4);
  for (int j = 0; j < 4; ++j) e.col(perm[j]) = t.col(j);
  for (const double scale : {1e160, 1e-170}) {
    SCOPED_TRACE(scale);
    const ColumnMatch r = match_columns(t * scale, e * scale, 0.99);
    EXPECT_EQ(r.permutation, perm);
    for (double c : r.cosines) EXPECT_NEAR(c, 1.0, 1e-14);
    const ColumnMatch mixed = match_columns(t, e * scale, 0.99);
    for (double c : mixed.cosines) EXPECT_NEAR(c, 1.0, 1e-14);
  }
}

void expect_input_error(const Eigen::MatrixXd& truth, const Eigen::MatrixXd& estimate,
                        double threshold, const std::string& needle) {
  try {
    match_columns(truth, estimate, threshold);
    FAIL() << "expected InputError containing '" << needle << "'";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(MatchColumns, RejectsBadInputsWithActionableMessages) {
  const Eigen::MatrixXd t = Eigen::MatrixXd::Identity(4, 3);
  expect_input_error(t, Eigen::MatrixXd::Identity(4, 2), 0.99,
                     "estimate shape = (4, 2): must have at least m = 3 columns like truth (4, 3)");
  expect_input_error(t, Eigen::MatrixXd::Identity(5, 3), 0.99,
                     "estimate shape = (5, 3): must have d = 4 rows");
  Eigen::MatrixXd zero_col = Eigen::MatrixXd::Identity(4, 3);
  zero_col.col(2).setZero();
  expect_input_error(t, zero_col, 0.99, "estimate[:, 2] norm = 0: must be > 0");
  Eigen::MatrixXd inf = t;
  inf(1, 1) = std::numeric_limits<double>::infinity();
  expect_input_error(inf, t, 0.99, "truth[1, 1] = inf: must be finite");
  expect_input_error(t, t, 1.5, "threshold = 1.5: must be in [0, 1]");
  expect_input_error(Eigen::MatrixXd(4, 0), t, 0.99, "truth shape = (4, 0)");
}

}  // namespace
}  // namespace fsr
