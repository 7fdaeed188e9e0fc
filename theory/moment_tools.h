// Moments of batches of vectors along random directions (docs/science.md §2 "distribution level") and the
// output-layer moment identity of docs/science.md §3:
//   E[x^{⊗c}] = Σ_i E[s_i^c] m_i^{⊗c}  +  cross terms (products of distinct units),
// which lets a run measure how far the sparse-coding picture (cross terms small) holds.
//
//   Eigen::MatrixXd U = fsr::random_unit_directions(/*dim=*/12, /*count=*/256, /*seed=*/7);
//   fsr::MomentMismatch mm = fsr::moment_mismatch(real_patches, fake_patches, U);
//   fsr::OutputMomentSplit split = fsr::output_moment_split(M, S, /*order=*/3, U);
//
// Orientation: a batch is N x dim, one row per vector (a patch flattened, a sample). A set of
// directions is dim x count, one unit column per direction. A dictionary is d x m (columns are
// features, as in match_columns.h) and codes are N x m, so the batch is X = S Mᵀ (N x d).
// Moments are raw (non-central): m_k(X, u) = (1/N) Σ_n (u·x_n)^k = <E[x^{⊗k}], u^{⊗k}>.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace fsr {

constexpr int kMaxMomentOrder = 8;

// dim x count, columns uniform on the unit sphere (normalised Gaussians drawn from
// fsr::Rng(seed, /*stream=*/0)); the same arguments give the same matrix on every platform.
Eigen::MatrixXd random_unit_directions(int dim, int count, std::uint64_t seed);

// max_order x count: entry (k-1, j) = (1/N) Σ_n (u_j·x_n)^k, k = 1..max_order (<= 8).
Eigen::MatrixXd projected_moments(const Eigen::MatrixXd& samples, const Eigen::MatrixXd& directions,
                                  int max_order = 4);

// Distance between the moments of two batches of the same dim (any N each).
//
// Normalisation, so that orders are comparable: scale² is the pooled second moment along the
// directions, scale² = ½ (mean_j m_2(X, u_j) + mean_j m_2(Y, u_j)) (the RMS length of a
// projection), and
//   per_order[k-1] = mean_j |m_k(X, u_j) - m_k(Y, u_j)| / scale^k.
// It is invariant to rescaling both batches together, 0 for identical batches, and for
// standard-normal data (scale = 1) it is the raw moment gap. When both batches project to 0
// (scale = 0) every gap is 0.
// Orders 1 and 2 are also reported exactly, without projections:
//   mean_gap          = ‖E[x] - E[y]‖₂ / scale,
//   second_moment_gap = ‖E[x xᵀ] - E[y yᵀ]‖_F / scale².
struct MomentMismatch {
  std::vector<double> per_order;  // size max_order
  double scale = 0.0;
  double mean_gap = 0.0;
  double second_moment_gap = 0.0;
  Eigen::MatrixXd moments_x, moments_y;  // projected_moments of each batch
};
MomentMismatch moment_mismatch(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
                               const Eigen::MatrixXd& directions, int max_order = 4);
// Convenience: `count` directions from random_unit_directions(dim, count, seed).
MomentMismatch moment_mismatch(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int max_order,
                               int count, std::uint64_t seed);

// The split of E[x^{⊗c}] for X = S Mᵀ into
//   diagonal = Σ_i E[s_i^c] m_i^{⊗c}   and   cross = E[x^{⊗c}] - diagonal.
// Cross terms are exactly 0 when no sample has two active units (disjoint supports), and for
// order 1 always. `full`, `diagonal` and `cross` hold either one value per direction (the
// projected version: <T, u_j^{⊗c}>) or the whole tensor, flattened with the first index fastest
// (entry (i_1, ..., i_c) at i_1 + d i_2 + ... + d^{c-1} i_c).
// Norms: the projected version reports the RMS over directions, sqrt(mean_j v_j²); the tensor
// version the Frobenius norm. The two are not equal to each other; compare ratios within one.
// cross_to_diagonal = cross_norm / diagonal_norm (0 when both are 0, +inf when only the diagonal
// is).
struct OutputMomentSplit {
  int order = 0;
  bool projected = true;
  Eigen::VectorXd full, diagonal, cross;
  double full_norm = 0.0, diagonal_norm = 0.0, cross_norm = 0.0, cross_to_diagonal = 0.0;
};

// Along directions (d x count): scales to any d; cost O(N (m + count) d).
OutputMomentSplit output_moment_split(const Eigen::MatrixXd& dictionary,
                                      const Eigen::MatrixXd& codes, int order,
                                      const Eigen::MatrixXd& directions);

// Exact tensors, d^c entries; refuses (InputError) when d^c > max_entries. Cost O((N + m) d^c).
OutputMomentSplit output_moment_split_tensor(const Eigen::MatrixXd& dictionary,
                                             const Eigen::MatrixXd& codes, int order,
                                             std::int64_t max_entries = std::int64_t{1} << 22);

}  // namespace fsr
