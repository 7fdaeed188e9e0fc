// cluster_units (units.prune_rule = "clusters") against clusters, weights and cuts worked out by
// hand for small dictionaries; the prune through a training run is exercised by trainer_test.
#include "gda/units.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fsr {
namespace {

// Columns of R^3: e1; a column at |cos| 0.95 to e1 with a negative sign (|cos| counts); e2; e3; a
// direction at |cos| 1/sqrt(3) ~ 0.577 to every axis (its own cluster at cosine 0.9).
Eigen::MatrixXd columns() {
  Eigen::MatrixXd c(3, 5);
  const double s = std::sqrt(1 - 0.95 * 0.95);
  c.col(0) << 2, 0, 0;  // scale is ignored
  c.col(1) << -0.95, s, 0;
  c.col(2) << 0, 1, 0;
  c.col(3) << 0, 0, 1;
  c.col(4) << 1, 1, 1;
  return c;
}

TEST(ClusterUnits, GroupsDuplicatesAndKeepsTheHeavyClusters) {
  // By energy: 0 (1.0), 2 (0.8), 3 (0.6), 1 (0.5) joins 0 with 0.5 * 0.95^2 = 0.45125, 4 (0.01).
  // Weights 1.45125, 0.8, 0.6, 0.01; floor 0.2 x 1.45125 = 0.29025 -> the first three are kept.
  const UnitClusters cl =
      cluster_units(columns(), {1.0, 0.5, 0.8, 0.6, 0.01}, {0, 1, 2, 3, 4}, 0.9, 0.2);
  ASSERT_EQ(cl.heads, (std::vector<int>{0, 2, 3, 4}));
  EXPECT_NEAR(cl.weights[0], 1.45125, 1e-12);  // round-off only
  EXPECT_DOUBLE_EQ(cl.weights[1], 0.8);
  EXPECT_DOUBLE_EQ(cl.weights[3], 0.01);
  EXPECT_EQ(cl.owner, (std::vector<int>{0, 0, 2, 3, 4}));
  EXPECT_EQ(cl.kept, 3);
  // Floor 0.5 x 1.45125 = 0.7256: clusters 0 and 2 stay; floor 0: all four.
  EXPECT_EQ(cluster_units(columns(), {1.0, 0.5, 0.8, 0.6, 0.01}, {0, 1, 2, 3, 4}, 0.9, 0.5).kept,
            2);
  EXPECT_EQ(cluster_units(columns(), {1.0, 0.5, 0.8, 0.6, 0.01}, {0, 1, 2, 3, 4}, 0.9, 0.0).kept,
            4);
}

TEST(ClusterUnits, MaskedChannelsAreIgnoredAndTheCosineDecidesMembership) {
  // Without channel 0, channel 1 heads its own cluster (weight 0.5); weights 0.8, 0.6, 0.5, 0.01.
  const UnitClusters b =
      cluster_units(columns(), {1.0, 0.5, 0.8, 0.6, 0.01}, {1, 2, 3, 4}, 0.9, 0.2);
  EXPECT_EQ(b.heads, (std::vector<int>{2, 3, 1, 4}));
  EXPECT_EQ(b.owner[0], -1);
  EXPECT_EQ(b.kept, 3);
  // At cosine 0.96 the 0.95 pair no longer merges.
  const UnitClusters c =
      cluster_units(columns(), {1.0, 0.5, 0.8, 0.6, 0.01}, {0, 1, 2, 3, 4}, 0.96, 0.2);
  EXPECT_EQ(c.heads.size(), 5u);
  EXPECT_DOUBLE_EQ(c.weights[0], 1.0);
  EXPECT_EQ(c.kept, 4);  // 1.0, 0.8, 0.6, 0.5 >= 0.2
}

TEST(ClusterUnits, DeadClustersAreNeverKept) {
  // Channel 4 silent heads a cluster of weight 0: not kept even with floor 0.
  const UnitClusters a =
      cluster_units(columns(), {0.3, 0.0, 0.2, 0.25, 0.0}, {0, 1, 2, 3, 4}, 0.9, 0.0);
  EXPECT_EQ(a.heads, (std::vector<int>{0, 3, 2, 4}));
  EXPECT_EQ(a.kept, 3);
  EXPECT_EQ(cluster_units(columns(), {0, 0, 0, 0, 0}, {0, 1, 2, 3, 4}, 0.9, 0.0).kept, 0);
}

}  // namespace
}  // namespace fsr
