// The architecture of an FSR generator (docs/science.md §1): how many levels, the coarsest grid, channels per
// level, the patch side, colours and the super-resolution kernel. One value type that a target's
// config, a target, the learner's networks, the fast SGDA step and the ReLU regression all are
// (they derive from it rather than copy its fields), with the geometry derived from it — grids,
// image sides, patch dimension, transposed-convolution padding, the index maps between images,
// patches and codes — and its validation, written once. Torch-free.
//
//   fsr::Architecture a{.levels = 2, .grid = 2, .channels = {8, 8}, .patch = 2, .colors = 3};
//   a.validate();                          // "kernel = 3: must be 2 (parent only) or 4 (...)"
//   int d = a.patch_dim();                 // r^2 c = 12; a.grid_at(2) = 4, a.side_at(2) = 8
//   std::int64_t px = a.image_index(2, /*colour=*/1, /*y=*/0, /*x=*/3, /*dy=*/1, /*dx=*/0);
//
// Conventions (docs/target_format.md): level 1 is the coarsest, h_l = h_1 2^(l-1); X_l is
// (c, r h_l, r h_l) in C order; patch (y, x) of X_l is the r x r block at (r y, r x), flattened in
// (colour, dy, dx) order — the row order of M_l; S_l is (m_l, h_l, h_l) in C order; S_l =
// ReLU(ConvTranspose2d(S_{l-1}; W_l, stride 2, padding p) - b_l) with p = 0 for kernel 2 (a child
// reads its parent only) and p = 1 for kernel 4 (a 2 x 2 block of parents).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fsr {

// Limits every architecture obeys (a target's config, a stored target, a learned model).
inline constexpr int kMaxLevels = 8;
inline constexpr int kMaxGrid = 1024;
inline constexpr int kMaxChannels = 4096;
inline constexpr int kMaxPatch = 64;
inline constexpr int kMaxColors = 64;

// The padding of the stride-2 transposed convolution with this kernel (2 or 4): kernel / 2 - 1.
constexpr int transposed_padding(int kernel) { return kernel / 2 - 1; }
// The one check of a super-resolution kernel: InputError
// "<field> = <kernel>: must be 2 (parent only) or 4 (padding 1, 2x2 parents)" otherwise.
void require_kernel(std::string_view field, std::int64_t kernel);

// The geometry of that stride-2 transposed convolution seen from a child: the parent positions
// child position (y, x) of an h x h child grid reads, each with the kernel tap it reads through
// (tap = ky * kernel + kx, so SuperResolutionLayer::w(i, j, tap / kernel, tap % kernel)); parent =
// py * (h / 2) + px. Kernel 2 gives one parent, kernel 4 (padding 1) up to four. For code that
// walks children (scoring, regression); synth/sample.cpp's hot loops walk parents and inline the
// same rule.
struct ParentTap {
  int parent = 0, tap = 0;
};
std::vector<ParentTap> parent_taps(int y, int x, int child_grid, int kernel);

struct Architecture {
  int levels = 1;             // L >= 1, level 1 coarsest
  int grid = 1;               // h_1; h_l = h_1 2^(l-1)
  std::vector<int> channels;  // m_l, l = 1..L
  int patch = 1;              // r: output pixels per hidden position along each side
  int colors = 1;             // c
  int kernel = 2;             // super-resolution kernel: 2 (padding 0) or 4 (padding 1)

  int grid_at(int level) const { return grid << (level - 1); }  // h_l, level 1-based
  int side_at(int level) const { return patch * grid_at(level); }
  int patches_at(int level) const { return grid_at(level) * grid_at(level); }  // P_l = h_l^2
  int patch_dim() const { return patch * patch * colors; }                     // d = r^2 c
  int first_layer_units() const { return grid * grid * channels[0]; }          // n_1 = h_1^2 m_1
  int padding() const { return transposed_padding(kernel); }

  // Index maps. Entry q of a patch vector (and row q of M_l) for colour, offset (dy, dx):
  int patch_entry(int colour, int dy, int dx) const { return (colour * patch + dy) * patch + dx; }
  // The pixel of X_l (c, side, side, C order) that entry (colour, dy, dx) of patch (y, x) is.
  std::int64_t image_index(int level, int colour, int y, int x, int dy, int dx) const {
    const std::int64_t side = side_at(level);
    return (colour * side + std::int64_t{patch} * y + dy) * side + std::int64_t{patch} * x + dx;
  }
  // The entry of S_l (m_l, h_l, h_l, C order) of channel j at grid position (y, x); at level 1
  // it is also the first-layer unit index (rows of A, alpha, beta).
  std::int64_t code_index(int level, int channel, int y, int x) const {
    const std::int64_t h = grid_at(level);
    return (channel * h + y) * h + x;
  }

  // Levels, grid, patch, colours within the k* limits, one channel count per level within
  // kMaxChannels, kernel 2 or 4. Field names are `prefix` + the member's name ("levels",
  // "channels[1]", ...). Throws InputError naming the first violation.
  void validate(const std::string& prefix = "") const;
};

}  // namespace fsr
