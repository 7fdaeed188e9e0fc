// Sampling a target: the images X_1..X_L of samples [first, first + count) and, on request, the
// hidden codes S_1..S_L. Sample i draws its latent z (then its output noise) from its own stream
// Rng(target.sample_seed, i) and is computed in a fixed aligned block of kSampleBlock samples,
// so it is bit-identical for any batch size, first index or thread count (on one build).
// sample_into() is the same draw into a caller's batch whose arrays are reused (a training loop
// draws one batch per step without allocating). With SampleOptions::normals the standard normals
// (z, then the output noise) come from the caller instead of the samples' streams, and the rest
// of the computation is the same: the images are those the streams would give with these draws.
// Given normals stand for Gaussian latents: refused ("normals") for a target whose
// first_layer_noise is not Gaussian (synth/latent.h draws its z from the streams).
//
//   fsr::SampleBatch b = fsr::sample(target, /*first_index=*/0, /*count=*/64,
//   /*with_hidden=*/true);
//   // b.x[l - 1].row(n) is sample first+n of X_l, laid out (colour, y, x): shape c x side x side
//   // b.s[l - 1].row(n) is its S_l, laid out (channel, y, x): shape m_l x h_l x h_l
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

#include "synth/target.h"

namespace fsr {

class ThreadPool;  // core/thread_pool.h

// One sample per row; row-major so that data() is the C-order array (count, c, side, side) or
// (count, m_l, h_l, h_l) that write_npy writes and numpy reads.
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

inline constexpr int kSampleBlock = 32;  // samples per aligned block (part of the definition)

// A batch's standard normals given by the caller (SampleOptions::normals): what sample i would
// otherwise draw from Rng(target.sample_seed, i). Row/column n is sample first_index + n.
struct GivenNormals {
  const Eigen::MatrixXd* z = nullptr;  // latent_dim() x count: column n is sample n's z
  // Only read when target.noise > 0 and outputs are asked for: one entry per level drawn (at
  // least), count x output_size(l), in (colour, y, x) order: x += target.noise * value.
  const std::vector<RowMatrix>* noise = nullptr;
};

struct SampleOptions {
  bool with_hidden = false;  // also return S_l
  bool with_outputs = true;  // return X_l (off: hidden codes only, for calibration)
  int threads = 1;           // blocks are split over threads; results do not depend on it
  // Non-null: the blocks are split over this pool's threads instead (threads is not used), so a
  // caller that owns a pool (the fast engine) draws its batches without starting threads.
  ThreadPool* pool = nullptr;
  // Levels 1..levels only (0: all). A level's values do not depend on the levels above it (its
  // noise is drawn before theirs), so they are those of a full draw.
  int levels = 0;
  // Non-null: the batch's normals from the caller, not the target's stream (GivenNormals).
  const GivenNormals* normals = nullptr;
};

struct SampleBatch {
  std::int64_t first_index = 0;
  std::int64_t count = 0;
  std::vector<RowMatrix> x;  // x[l - 1]: count x (c * side_l^2); empty without with_outputs
  std::vector<RowMatrix> s;  // s[l - 1]: count x (m_l * h_l^2); empty without with_hidden
};

// Bytes of the batch sample() returns for `count` samples (float64 arrays).
double sample_bytes(const Target& target, std::int64_t count, const SampleOptions& options = {});

// Throws InputError naming the field: "count" when the batch would not fit in the memory
// available, "levels" outside 0..target.levels, "threads" outside 1..1024, "normals.z" /
// "normals.noise" when given normals have the wrong shape (or noise is missing but needed).
SampleBatch sample(const Target& target, std::int64_t first_index, std::int64_t count,
                   const SampleOptions& options);
inline SampleBatch sample(const Target& target, std::int64_t first_index, std::int64_t count,
                          bool with_hidden = false) {
  return sample(target, first_index, count, SampleOptions{.with_hidden = with_hidden});
}
// sample() into `out`: its matrices are resized only when their shapes change, so drawing batch
// after batch of one size allocates nothing. The values are sample()'s, bit for bit.
void sample_into(const Target& target, std::int64_t first_index, std::int64_t count,
                 const SampleOptions& options, SampleBatch& out);

// The local super-resolution map of `layer` on a batch of codes: s_prev is count x
// (m_{l-1} * h^2) in (channel, y, x) order; returns count x (m_l * (2h)^2), with ReLU(. - b)
// applied when `activate` (else the pre-activations). Identical to the map sample() uses
// (up to rounding: sample() groups the sums differently), for analyzers (functional error).
RowMatrix super_resolve(const SuperResolutionLayer& layer, const RowMatrix& s_prev, int h,
                        bool activate = true);

// [X]_p = M [S]_p for a batch of codes (count x m h^2) -> count x (c (r h)^2), no noise.
RowMatrix render(const Eigen::MatrixXd& M, const RowMatrix& s, int h, int patch, int colors);

}  // namespace fsr
