// A data-driven warm start for a super-resolution layer (docs/science.md §1: S_l = ReLU(ConvT_l(S_{l-1}) -
// b_l)): given codes of the parent level and of the child level for the same samples, fit the
// transposed-convolution weight and the per-channel bias by ReLU regression. The learner uses it
// (generator.up_init = "regression") on codes decoded from real images through its own frozen
// lower dictionaries and the level's warm-started columns; GDA then refines. Torch-free.
//
//   fsr::UpFit f = fsr::fit_super_resolution(parent, child, architecture, /*level=*/2);
//   // f.weight: C order (m_1, m_2, k, k) as torch ConvTranspose2d; f.bias: (m_2)
//
// Codes are rows per sample in channel-major order (channel, y, x), the flattening of a
// (N, m, h, h) tensor. The fit, per output channel j (all child positions share W[:, j] and
// b_j): least squares of the child value on [parent inputs seen through the kernel, -1] over
// the rows in R, where R starts as the rows with the child active in the data and is then, for
// up to `rounds` rounds, the rows the current fit predicts active (the alternating least-squares
// form of minimising sum (ReLU(pre) - child)^2: rows predicted active but silent in the data push
// their pre-activation toward 0; rows active in the data but predicted silent drop out, so a
// small spurious value — decoding leakage where the true child is off — cannot drag the fit).
// A ridge on the weights (relative to their mean diagonal) keeps weights that no active row
// exercises at 0; the default only keeps the system solvable, and exact codes give the exact
// layer (gda/code_regression_test prints the error).
//
// The codes themselves come from images through dictionaries: decode_codes is the learner's
// decoder (least squares through the columns, clamped at 0), and refine_dictionary polishes
// k-means columns by MOD (method of optimal directions, Engan et al. 1999: decode, then the
// least-squares dictionary for those codes, unit columns, repeat). On noiseless sparse patches
// MOD converges to the true columns, where k-means centres are pulled toward co-activation
// combinations; decoding through the polished columns is what makes the fit accurate
// (docs/learner.md "Level 2").
#pragma once

#include <Eigen/Dense>
#include <vector>

#include "synth/architecture.h"

namespace fsr {

struct UpFit {
  std::vector<double> weight;   // (in, out, k, k), C order
  Eigen::VectorXd bias;         // (out)
  Eigen::VectorXi active_rows;  // per output channel: rows with the child active in the data
};

struct UpFitOptions {
  double active_threshold = 1e-6;  // a child value above this counts as active
  int rounds = 20;
  // Relative to the mean diagonal of the weights' normal equations (see the header comment).
  double ridge = 1e-8;
};

// The layer from level - 1 to `level` of `architecture` (level >= 2): parent codes have
// m_{level-1} h_{level-1}^2 columns, child codes m_level h_level^2, both with one row per sample.
UpFit fit_super_resolution(const Eigen::MatrixXd& parent, const Eigen::MatrixXd& child,
                           const Architecture& architecture, int level,
                           const UpFitOptions& options = {});

// Codes of patches (rows, d columns) through columns (d, k): max(0, patches pinv(columns)^T),
// and values below floor_fraction times their channel's RMS (over the rows) set to 0 — decoding
// through imperfect columns leaks small values where a unit is off.
Eigen::MatrixXd decode_codes(const Eigen::MatrixXd& patches, const Eigen::MatrixXd& columns,
                             double floor_fraction = 0.0);

// `rounds` MOD steps from `columns` (d, k) on `patches` (rows, d), the decoding floor annealed
// geometrically from floor_from to floor_to of each channel's RMS; returns unit columns.
Eigen::MatrixXd refine_dictionary(const Eigen::MatrixXd& patches, const Eigen::MatrixXd& columns,
                                  int rounds, double floor_from = 0.5, double floor_to = 0.01);

}  // namespace fsr
