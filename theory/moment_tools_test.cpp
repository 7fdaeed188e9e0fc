#include "theory/moment_tools.h"

#include <gtest/gtest.h>

#include <cmath>
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

TEST(RandomUnitDirections, UnitColumnsSeededAndIsotropic) {
  const Eigen::MatrixXd u = random_unit_directions(3, 20000, 42);
  ASSERT_EQ(u.rows(), 3);
  ASSERT_EQ(u.cols(), 20000);
  for (int j = 0; j < u.cols(); ++j) ASSERT_NEAR(u.col(j).norm(), 1.0, 1e-15);
  EXPECT_EQ(u, random_unit_directions(3, 20000, 42));
  EXPECT_NE(u, random_unit_directions(3, 20000, 43));
  // Uniform on S²: E[u_i] = 0 (sd 1/sqrt(3 N) = 0.0041) and E[u_i²] = 1/3 (Var u_i² = 4/45,
  // sd 0.0021). Tolerances are 5 sd: flake budget ~1e-5 for 6 checks (and the seed is fixed).
  const Eigen::VectorXd mean = u.rowwise().mean();
  const Eigen::VectorXd second = u.array().square().rowwise().mean();
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(mean(i), 0.0, 0.021) << "coordinate " << i;
    EXPECT_NEAR(second(i), 1.0 / 3.0, 0.0106) << "coordinate " << i;
  }
  EXPECT_THROW(random_unit_directions(0, 5, 1), InputError);
  EXPECT_THROW(random_unit_directions(3, 0, 1), InputError);
}

// Raw moments of N(a, s²): a, a² + s², a³ + 3 a s², a⁴ + 6 a² s² + 3 s⁴.
double normal_raw_moment(int k, double a, double s) {
  const double s2 = s * s;
  switch (k) {
    case 1:
      return a;
    case 2:
      return a * a + s2;
    case 3:
      return a * a * a + 3 * a * s2;
    default:
      return a * a * a * a + 6 * a * a * s2 + 3 * s2 * s2;
  }
}

TEST(ProjectedMoments, GaussianBatchesMatchClosedForms) {
  // x = mu + sigma z, z standard normal in dim 6: u·x ~ N(u·mu, sigma²) for unit u.
  const int n = 100000, dim = 6, count = 8;
  Rng rng(2024);
  const Eigen::MatrixXd z = gaussian_matrix(n, dim, rng);
  Eigen::RowVectorXd mu(dim);
  mu << 0.5, -0.3, 0.0, 0.2, 0.0, 0.1;
  struct Case {
    double sigma;
    Eigen::RowVectorXd shift;
  };
  for (const Case& c : {Case{1.0, Eigen::RowVectorXd::Zero(dim)}, Case{0.5, mu}}) {
    const double sigma = c.sigma;
    const Eigen::MatrixXd x = (sigma * z).rowwise() + c.shift;
    const Eigen::MatrixXd u = random_unit_directions(dim, count, 9);
    const Eigen::MatrixXd m = projected_moments(x, u, 4);
    ASSERT_EQ(m.rows(), 4);
    ASSERT_EQ(m.cols(), count);
    for (int j = 0; j < count; ++j) {
      const double a = c.shift.dot(u.col(j).transpose());
      const Eigen::ArrayXd y = x * u.col(j);
      for (int k = 1; k <= 4; ++k) {
        // Tolerance: 5 standard errors of the sample mean of y^k, estimated from the sample
        // itself (the test computes it directly). 32 checks per sigma at 5 sd: flake budget
        // ~2e-5 (and the seed is fixed).
        const Eigen::ArrayXd yk = y.pow(k);
        const double se = std::sqrt((yk - yk.mean()).square().mean() / n);
        const double expected = normal_raw_moment(k, a, sigma);
        EXPECT_NEAR(m(k - 1, j), expected, 5 * se)
            << "sigma " << sigma << " direction " << j << " order " << k << ": sample "
            << m(k - 1, j) << " vs closed form " << expected;
      }
    }
  }
  // The headline number: E[(u·x)^4] = 3 for standard normal x; sd of the sample mean of
  // (u·x)^4 is sqrt((105 - 9) / N) = 0.031, and averaging over 8 directions does not increase it.
  const Eigen::MatrixXd m = projected_moments(z, random_unit_directions(dim, count, 9), 4);
  EXPECT_NEAR(m.row(3).mean(), 3.0, 5 * 0.031);
}

TEST(ProjectedMoments, RejectsBadShapes) {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(5, 3);
  try {
    projected_moments(x, Eigen::MatrixXd::Ones(4, 2), 4);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("directions shape = (4, 2): must have 3 rows"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(projected_moments(x, Eigen::MatrixXd::Ones(3, 2), 9), InputError);
  Eigen::MatrixXd bad = x;
  bad(2, 1) = std::nan("");
  EXPECT_THROW(projected_moments(bad, Eigen::MatrixXd::Ones(3, 2), 4), InputError);
}

TEST(MomentMismatch, ZeroForIdenticalBatchesAndGrowsWithMeanShift) {
  const int n = 50000, dim = 8;
  Rng rng(77);
  const Eigen::MatrixXd x = gaussian_matrix(n, dim, rng);
  const Eigen::MatrixXd y = gaussian_matrix(n, dim, rng);  // same law, independent
  const Eigen::MatrixXd u = random_unit_directions(dim, 64, 3);

  const MomentMismatch self = moment_mismatch(x, x, u, 4);
  ASSERT_EQ(self.per_order.size(), 4u);
  for (double g : self.per_order) EXPECT_EQ(g, 0.0);
  EXPECT_EQ(self.mean_gap, 0.0);
  EXPECT_EQ(self.second_moment_gap, 0.0);

  // Same law: gaps are sampling noise, O(1/sqrt(N)) times the moment's sd (<= 10 for order 4).
  const MomentMismatch noise = moment_mismatch(x, y, u, 4);
  EXPECT_NEAR(noise.scale, 1.0, 0.02);
  for (int k = 0; k < 4; ++k) EXPECT_LT(noise.per_order[k], 0.1) << "order " << k + 1;

  // Shift y along e_0: every order's gap grows monotonically with the shift.
  std::vector<double> previous = noise.per_order;
  for (const double shift : {0.2, 0.5, 1.0}) {
    Eigen::MatrixXd shifted = y;
    shifted.col(0).array() += shift;
    const MomentMismatch mm = moment_mismatch(x, shifted, u, 4);
    for (int k = 0; k < 4; ++k) {
      EXPECT_GT(mm.per_order[k], previous[k]) << "shift " << shift << " order " << k + 1;
    }
    // Order 1 exactly: ‖shift e_0‖ / scale, up to the sampling noise of the means (~0.01).
    EXPECT_NEAR(mm.mean_gap, shift / mm.scale, 0.03) << "shift " << shift;
    previous = mm.per_order;
  }
}

TEST(MomentMismatch, InvariantToCommonRescaling) {
  Rng rng(8);
  const Eigen::MatrixXd x = gaussian_matrix(2000, 5, rng);
  Eigen::MatrixXd y = gaussian_matrix(3000, 5, rng);  // different N is allowed
  y.col(2).array() += 0.4;
  const Eigen::MatrixXd u = random_unit_directions(5, 32, 1);
  const MomentMismatch a = moment_mismatch(x, y, u, 4);
  const MomentMismatch b = moment_mismatch(7.0 * x, 7.0 * y, u, 4);
  EXPECT_NEAR(b.scale, 7.0 * a.scale, 1e-12 * b.scale);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(a.per_order[k], b.per_order[k], 1e-12) << k;
  EXPECT_NEAR(a.mean_gap, b.mean_gap, 1e-12);
  EXPECT_NEAR(a.second_moment_gap, b.second_moment_gap, 1e-12);
  // The convenience overload draws its own directions.
  const MomentMismatch c = moment_mismatch(x, y, 4, 32, 1);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(a.per_order[k], c.per_order[k]);
  // All-zero batches: scale 0, every gap 0.
  const MomentMismatch zero =
      moment_mismatch(Eigen::MatrixXd::Zero(4, 5), Eigen::MatrixXd::Zero(6, 5), u, 3);
  EXPECT_EQ(zero.scale, 0.0);
  for (double g : zero.per_order) EXPECT_EQ(g, 0.0);
  EXPECT_THROW(moment_mismatch(x, Eigen::MatrixXd::Zero(3, 4), u, 4), InputError);
}

// Contracts a flattened tensor (first index fastest) with u^{⊗c}, by explicit multi-indices.
double contract(const Eigen::VectorXd& tensor, const Eigen::VectorXd& u, int order) {
  const int d = static_cast<int>(u.size());
  double total = 0.0;
  for (Eigen::Index flat = 0; flat < tensor.size(); ++flat) {
    double w = 1.0;
    Eigen::Index rest = flat;
    for (int k = 0; k < order; ++k) {
      w *= u(rest % d);
      rest /= d;
    }
    total += tensor(flat) * w;
  }
  return total;
}

// Codes with exactly one active unit per row (disjoint supports), positive values.
Eigen::MatrixXd one_hot_codes(int n, int m, Rng& rng) {
  Eigen::MatrixXd s = Eigen::MatrixXd::Zero(n, m);
  for (int r = 0; r < n; ++r) s(r, rng.uniform_int(m)) = 0.2 + rng.uniform();
  return s;
}

// Dense, positively correlated codes: ReLU(shared + own).
Eigen::MatrixXd correlated_codes(int n, int m, Rng& rng) {
  Eigen::MatrixXd s(n, m);
  for (int r = 0; r < n; ++r) {
    const double shared = rng.normal();
    for (int i = 0; i < m; ++i) s(r, i) = std::max(0.0, 0.8 * shared + 0.6 * rng.normal() + 0.5);
  }
  return s;
}

TEST(OutputMomentSplit, DisjointSupportsHaveNoCrossTerms) {
  Rng rng(31);
  const int d = 6, m = 9, n = 3000;
  const Eigen::MatrixXd dict = gaussian_matrix(d, m, rng);
  const Eigen::MatrixXd codes = one_hot_codes(n, m, rng);
  const Eigen::MatrixXd u = random_unit_directions(d, 50, 4);
  for (int order = 1; order <= 4; ++order) {
    const OutputMomentSplit p = output_moment_split(dict, codes, order, u);
    const OutputMomentSplit t = output_moment_split_tensor(dict, codes, order);
    // Mathematically 0; roundoff of means of 3000 terms: 1e-12 relative to the full moment.
    EXPECT_LE(p.cross_norm, 1e-12 * p.full_norm) << "order " << order;
    EXPECT_LE(t.cross_norm, 1e-12 * t.full_norm) << "order " << order;
    EXPECT_LE(p.cross_to_diagonal, 1e-12);
    EXPECT_GT(p.diagonal_norm, 0.0);
  }
}

TEST(OutputMomentSplit, CorrelatedDenseCodesHaveCrossTerms) {
  Rng rng(32);
  const int d = 6, m = 9, n = 3000;
  const Eigen::MatrixXd dict = gaussian_matrix(d, m, rng);
  const Eigen::MatrixXd codes = correlated_codes(n, m, rng);
  const Eigen::MatrixXd u = random_unit_directions(d, 50, 4);
  // Order 1 has no cross terms by definition.
  EXPECT_LE(output_moment_split(dict, codes, 1, u).cross_to_diagonal, 1e-12);
  for (int order = 2; order <= 4; ++order) {
    // 9 dense units correlated ~0.6: E[x^{⊗c}] has 9^c - 9 cross terms against 9 diagonal
    // ones. Dictionary columns of random sign partly cancel, so the ratio is O(1) rather than
    // huge (with this seed 0.54/2.7/5.0 projected, 1.4/4.8/10 tensor, orders 2/3/4); 0.25 is a
    // loose floor, 1e11 times the disjoint-support value.
    EXPECT_GT(output_moment_split(dict, codes, order, u).cross_to_diagonal, 0.25) << order;
    EXPECT_GT(output_moment_split_tensor(dict, codes, order).cross_to_diagonal, 0.25) << order;
  }
}

TEST(OutputMomentSplit, ConstantCodesMatchClosedForm) {
  // s = (1, ..., 1): E[x^{⊗c}] = (Σ m_i)^{⊗c} and the diagonal is Σ m_i^{⊗c}, so along u:
  // full = (u·Σ m_i)^c, diagonal = Σ (u·m_i)^c.
  Rng rng(33);
  const int d = 5, m = 4;
  const Eigen::MatrixXd dict = gaussian_matrix(d, m, rng);
  const Eigen::MatrixXd codes = Eigen::MatrixXd::Ones(10, m);
  const Eigen::MatrixXd u = random_unit_directions(d, 7, 5);
  const Eigen::VectorXd sum = dict.rowwise().sum();
  for (int order = 1; order <= 4; ++order) {
    const OutputMomentSplit p = output_moment_split(dict, codes, order, u);
    for (int j = 0; j < u.cols(); ++j) {
      const double full = std::pow(u.col(j).dot(sum), order);
      double diag = 0.0;
      for (int i = 0; i < m; ++i) diag += std::pow(u.col(j).dot(dict.col(i)), order);
      EXPECT_NEAR(p.full(j), full, 1e-12 * (1 + std::abs(full)));
      EXPECT_NEAR(p.diagonal(j), diag, 1e-12 * (1 + std::abs(diag)));
      EXPECT_NEAR(p.cross(j), full - diag, 1e-12 * (1 + std::abs(full)));
    }
  }
}

TEST(OutputMomentSplit, ProjectionEqualsTensorContraction) {
  Rng rng(34);
  const int d = 5, m = 7, n = 500;
  const Eigen::MatrixXd dict = gaussian_matrix(d, m, rng);
  const Eigen::MatrixXd codes = correlated_codes(n, m, rng);
  const Eigen::MatrixXd u = random_unit_directions(d, 6, 6);
  for (int order = 1; order <= 4; ++order) {
    const OutputMomentSplit p = output_moment_split(dict, codes, order, u);
    const OutputMomentSplit t = output_moment_split_tensor(dict, codes, order);
    ASSERT_EQ(t.full.size(), static_cast<Eigen::Index>(std::pow(d, order)));
    EXPECT_FALSE(t.projected);
    for (int j = 0; j < u.cols(); ++j) {
      // Different summation orders over <= 5^4 terms of size <= |T|: 1e-10 relative.
      const double tol = 1e-10 * (1 + t.full.cwiseAbs().sum());
      EXPECT_NEAR(p.full(j), contract(t.full, u.col(j), order), tol) << order << "," << j;
      EXPECT_NEAR(p.diagonal(j), contract(t.diagonal, u.col(j), order), tol) << order << "," << j;
      EXPECT_NEAR(p.cross(j), contract(t.cross, u.col(j), order), tol) << order << "," << j;
    }
  }
}

TEST(OutputMomentSplit, RejectsTooLargeTensorsAndBadShapes) {
  Rng rng(35);
  const Eigen::MatrixXd dict = gaussian_matrix(40, 3, rng);
  const Eigen::MatrixXd codes = Eigen::MatrixXd::Ones(4, 3);
  try {
    output_moment_split_tensor(dict, codes, 6);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("order = 6"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("max_entries"), std::string::npos) << e.what();
  }
  EXPECT_THROW(
      output_moment_split(dict, Eigen::MatrixXd::Ones(4, 2), 2, random_unit_directions(40, 3, 1)),
      InputError);
  EXPECT_THROW(output_moment_split(dict, codes, 0, random_unit_directions(40, 3, 1)), InputError);
  EXPECT_THROW(output_moment_split(dict, codes, 2, random_unit_directions(39, 3, 1)), InputError);
}

}  // namespace
}  // namespace fsr
