#include "synth/dictionary.h"

#include <gtest/gtest.h>

#include "core/validate.h"

namespace fsr {
namespace {

TEST(Dictionary, OrthonormalColumns) {
  for (int m : {1, 5, 12}) {
    Rng rng(1, m);
    const Eigen::MatrixXd M = orthonormal_dictionary(12, m, rng);
    // Householder QR in float64 on a 12 x m Gaussian matrix: 1e-13 absolute.
    EXPECT_LE((M.transpose() * M - Eigen::MatrixXd::Identity(m, m)).cwiseAbs().maxCoeff(), 1e-13)
        << "m = " << m;
    EXPECT_LE(coherence(M), 1e-13);
  }
  Rng rng(1, 0);
  EXPECT_THROW(orthonormal_dictionary(12, 13, rng), InputError);
}

struct IncoherentCase {
  int d, m;
  double mu;
};

class Incoherent : public ::testing::TestWithParam<IncoherentCase> {};

TEST_P(Incoherent, WithinMuAndUnitNorm) {
  const auto [d, m, mu] = GetParam();
  Rng rng(7, 0);
  const Eigen::MatrixXd M = incoherent_dictionary(d, m, mu, rng);
  ASSERT_EQ(M.rows(), d);
  ASSERT_EQ(M.cols(), m);
  const double achieved = coherence(M);
  EXPECT_LE(achieved, mu) << "d = " << d << ", m = " << m << ": asked " << mu << ", got "
                          << achieved;
  EXPECT_GE(achieved, welch_bound(d, m) - 1e-12);  // no dictionary beats the Welch bound
  // One normalisation in float64: 1e-12.
  EXPECT_LE((M.colwise().norm().array() - 1.0).abs().maxCoeff(), 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Sizes, Incoherent,
                         ::testing::Values(IncoherentCase{12, 8, 0.2}, IncoherentCase{12, 24, 0.4},
                                           IncoherentCase{12, 32, 0.5},
                                           IncoherentCase{27, 64, 0.35}),
                         [](const auto& info) {
                           return "d" + std::to_string(info.param.d) + "_m" +
                                  std::to_string(info.param.m);
                         });

TEST(Dictionary, UnreachableCoherenceNamesTheField) {
  Rng rng(7, 0);
  try {
    incoherent_dictionary(4, 40, 0.3, rng);  // Welch bound sqrt(36/156) = 0.48
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dictionary.coherence = 0.3"), std::string::npos)
        << e.what();
  }
}

TEST(Dictionary, CoherenceAndWelchClosedForms) {
  Eigen::MatrixXd M(2, 3);
  M << 1, 0, 3, 0, 2, 4;  // normalised: (1,0), (0,1), (0.6,0.8)
  EXPECT_NEAR(coherence(M), 0.8, 1e-15);
  EXPECT_DOUBLE_EQ(welch_bound(12, 8), 0.0);
  EXPECT_NEAR(welch_bound(2, 3), 0.5, 1e-15);  // three lines at 60 degrees in the plane
}

}  // namespace
}  // namespace fsr
