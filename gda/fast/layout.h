// The data layout of the fast engine (gda/fast/cpu_engine.h): the model's sizes, the quadtree
// patch order in which every level's activations are stored, the conversion of real images into
// that layout, and the tap tables of the stride-2 transposed convolution.
//
//   fsr::fast::ModelShape s = ...;                             // levels, grid, patch, channels,
//   units std::vector<int> o = fsr::fast::patch_order(s, 2);         // raster (y, x) -> stored
//   patch fsr::fast::RealBatch<float> r = fsr::fast::real_patches<float>(s, sample(t, 0, B).x);
//
// Rows (sample, patch) with channels last: every linear map of the model is then one matrix
// product over the batch, and with the quadtree order the four children of a parent are four
// consecutive rows, so each parent's cross-scale terms are one product.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "synth/architecture.h"
#include "synth/sample.h"

namespace fsr::fast {

// The sizes the engine is built for (the learner's generator and theory discriminator): the
// architecture (synth/architecture.h) with channels = m_hat_l, the generator's channels per level,
// plus what only the learner has.
struct ModelShape : Architecture {
  std::vector<int> units;  // U_l, discriminator decoder units per level
  int latent_dim = 1;      // m0_hat
};

// Throws InputError naming the field for sizes the engine cannot run (the architecture's rules,
// one unit count per level, latent_dim >= 1).
void validate(const ModelShape& shape);

// Patch order: quadtree ("Morton") order, so that the four children of a level-l patch are the
// consecutive patches 4q..4q+3 of level l+1. Level 1 is raster order (p = y h_1 + x); at level
// l >= 2 the patch at (y, x) is 4 order(l-1)[(y/2) h_{l-1} + x/2] + 2 (y%2) + (x%2).
// patch_order(shape, l)[y h_l + x] is that index.
std::vector<int> patch_order(const ModelShape& shape, int level);

// Real batch: per level, B x P_l x d patch values in quadtree order, (colour, dy, dx) inside a
// patch.
template <typename T>
using RealBatch = std::vector<std::vector<T>>;

// Images (count x (c, side, side), as synth::sample returns) -> count x P x d patches, raster.
template <typename T>
std::vector<T> images_to_patches(const RowMatrix& images, int h, int patch, int colors);
// Images of levels 1..images.size() -> the engine's real batch (quadtree order).
template <typename T>
RealBatch<T> real_patches(const ModelShape& shape, const std::vector<RowMatrix>& images);
// The same values written straight into `out` (one pass, no raster copy), its vectors resized
// only when the batch size changes: a step's conversion allocates nothing. With a pool, the
// samples are split over its threads (the same values: each sample is copied on its own).
template <typename T>
void real_patches_into(const ModelShape& shape, const std::vector<RowMatrix>& images,
                       RealBatch<T>& out, ThreadPool* pool = nullptr);

// The stride-2 transposed convolution from an h x h grid to 2h x 2h, seen from an output
// coordinate: output y = 2 iy + ky - padding, so each y has one (kernel 2) or up to two
// (kernel 4) pairs (input coordinate iy, kernel index ky). in[2 y + a], k[2 y + a] for
// a < count[y].
struct ConvTaps {
  std::vector<int> in, k, count;
};
ConvTaps conv_taps(int input_grid, int kernel);

}  // namespace fsr::fast
