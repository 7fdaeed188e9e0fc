// A data-driven warm start for a super-resolution layer (SPEC §1: S_l = ReLU(ConvT_l(S_{l-1}) -
// b_l)): given codes of the parent level and of the child level for the same samples, fit the
// transposed-convolution weight and the per-channel bias by ReLU regression. The learner uses it
// (generator.up_init = "regression") on codes decoded from real images through its own frozen
// lower dictionaries and the level's warm-started columns; GDA then refines. Torch-free.
//
//   fsr::UpFit f = fsr::fit_super_resolution(parent, child, {.in = 8, .out = 8, .kernel = 2,
//                                                            .child_grid = 4});
//   // f.weight: C order (in, out, k, k) as torch ConvTranspose2d; f.bias: (out)
//
// Codes are rows per sample in channel-major order (channel, y, x), the flattening of a
// (N, m, h, h) tensor. The fit, per output channel j (all child positions share W[:, j] and
// b_j): least squares of the child value on [parent inputs seen through the kernel, -1] over
// the rows in R, where R starts as the rows with the child active and is then, for `rounds`
// rounds, the rows active in the data or in the current prediction (a standard alternating
// scheme for ReLU regression: rows predicted active but silent in the data push their
// pre-activation toward 0). A ridge on the weights (relative to their mean diagonal) keeps
// weights that few active rows exercise near 0 instead of letting a handful of noisy rows set
// them. The default ridge only keeps the system solvable: exact codes give the exact layer
// (gda/code_regression_test prints the error). Codes decoded through imperfect columns need more:
// the learner passes 1e-3, which would visibly bias a fit on exact codes.
#pragma once

#include <Eigen/Dense>
#include <vector>

namespace fsr {

struct UpShape {
  int in = 1, out = 1;  // channels of the parent and child levels
  int kernel = 2;       // 2 (padding 0) or 4 (padding 1), stride 2
  int child_grid = 2;   // h of the child level (the parent's is h / 2)
};

struct UpFit {
  std::vector<double> weight;   // (in, out, k, k), C order
  Eigen::VectorXd bias;         // (out)
  Eigen::VectorXi active_rows;  // per output channel: rows with the child active in the data
};

struct UpFitOptions {
  double active_threshold = 1e-6;  // a child value above this counts as active
  int rounds = 10;
  // Relative to the mean diagonal of the weights' normal equations (see the header comment).
  double ridge = 1e-8;
};

UpFit fit_super_resolution(const Eigen::MatrixXd& parent, const Eigen::MatrixXd& child,
                           const UpShape& shape, const UpFitOptions& options = {});

}  // namespace fsr
