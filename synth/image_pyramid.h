// Real images as a data source in a target's layout: crops of image files, average-pooled into L
// levels of sides r h_1 2^(l-1) (e.g. 4, 8, 16, 32), so that everything that reads a target's
// samples X_l — the structure analysis (experiments/image_structure.h), numpy — reads them the
// same way. The images are any PNG/JPEG files or folders a user names (core/image_io.h); the
// shipped suite reads sample photographs that Debian packages install, so nothing is downloaded.
//
//   fsr::PyramidGeometry g{.levels = 4, .grid = 2, .patch = 2, .colors = 3};   // sides 4..32
//   fsr::ImagePyramid p = fsr::build_image_pyramid(g, {.images = fsr::find_images("photos/"),
//                                                      .samples = 2000, .seed = 1});
//   fsr::save_pyramid("out/pyr", p);     // pyramid.json + X_1.npy ... X_4.npy
//   std::vector<fsr::RowMatrix> x = fsr::load_level_images("out/pyr");  // or a target directory
//
// Sample i is a crop of image i mod K (K images, so every image contributes equally whatever its
// size) at a position drawn from Rng(seed, i) — the same crop for any sample count or order.
// The image is first average-pooled by `image_scale` (a crop then covers more of the scene),
// converted to c colours (c = 3: RGB, grey replicated, alpha dropped; c = 1: luma 0.299 R +
// 0.587 G + 0.114 B), cropped to side r h_L, and X_{l-1} = 2x2 average pooling of X_l. Pixel
// values are the file's 8-bit samples / 255 (docs/real_images.md).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "synth/architecture.h"
#include "synth/sample.h"
#include "synth/target.h"

namespace fsr {

struct PyramidGeometry {
  int levels = 1, grid = 1, patch = 1, colors = 1;  // L, h_1, r, c as in a target
  int side_at(int level) const { return patch * (grid << (level - 1)); }
};
PyramidGeometry pyramid_geometry(const Target& target);

struct PyramidOptions {
  std::vector<std::filesystem::path> images;  // files (find_images expands folders)
  std::int64_t samples = 1000;
  int image_scale = 1;  // average-pool each image by this factor before cropping
  std::uint64_t seed = 0;
};

struct ImagePyramid {
  PyramidGeometry geometry;
  std::vector<RowMatrix> x;  // x[l - 1]: samples x (c side_l^2), (colour, y, x): as SampleBatch
  std::vector<std::string> images;        // the files, in sample order modulo K
  std::vector<std::array<int, 3>> crops;  // per sample: image index, top, left (scaled)
  int image_scale = 1;
  std::uint64_t seed = 0;
};

// Throws InputError naming the field: no images, an image smaller than one crop (after
// scaling; the message gives both sizes), colors other than 1 or 3, samples < 1.
ImagePyramid build_image_pyramid(const PyramidGeometry& geometry, const PyramidOptions& options);

// pyramid.json (kind "fsr-image-pyramid": architecture {levels, grid, patch, colors}, images,
// crops, image_scale, seed) and X_<l>.npy (samples, c, side_l, side_l) as float32 (8-bit
// pixels and their averages lose nothing). Atomic per file; `dir` is created.
void save_pyramid(const std::filesystem::path& dir, const ImagePyramid& pyramid);

// X_1..X_L of a folder in the target layout — an image pyramid (pyramid.json) or a target
// directory written with samples (target.json) — as rows, with the geometry of its
// architecture block. InputError naming the folder or file when one is missing or has the
// wrong shape.
std::vector<RowMatrix> load_level_images(const std::filesystem::path& dir,
                                         PyramidGeometry* geometry = nullptr);

// A fixed data set with no planted generator — an image pyramid written by `fsr pyramid` — as
// what a run learns: X_1..X_L of S samples. A run trains on its first
// data.train_samples and measures on the rest, the held-out part (gda/training_data.h
// check_data_set_run, experiments/analysis.h analyze_data_set).
struct DataSet {
  Architecture geometry;     // levels, grid, patch, colours (channels empty; kernel unused)
  std::vector<RowMatrix> x;  // x[l - 1]: S x (c side_l^2), (colour, y, x) as SampleBatch
  std::string source;        // the folder it was read from (messages)
  std::int64_t samples() const { return x.empty() ? 0 : x[0].rows(); }
};
// A folder written by `fsr pyramid` (pyramid.json + X_<l>.npy); InputError naming the folder or
// file when it is not one (a target directory is refused: it has a planted generator).
DataSet load_data_set(const std::filesystem::path& dir);
// Geometry and every value (bit-exact): the checkpoint's target fingerprint of a data-set run.
std::uint64_t fingerprint(const DataSet& data);

// A suite's target that is a pyramid of photographs rather than a planted generator
// (experiments/suite.h; docs/agnostic_bfc.md):
//   {"kind": "image_pyramid", "levels", "grid", "patch", "colors", "images": [files or folders],
//    "samples", "image_scale" (1), "seed" (0; a job reseeds it), "train_samples", "channels"}
// build_image_pyramid's options, plus what a learner needs of a target that has no planted
// generator: train_samples, the first samples it trains on (the rest, at least 4, are held
// out for the metrics), and channels, its m_l (generator.channels; one value or one per
// level).
struct PyramidTarget {
  PyramidGeometry geometry;
  std::vector<std::string> images;  // absolute, as normalised
  std::int64_t samples = 0, train_samples = 0;
  int image_scale = 1;
  std::uint64_t seed = 0;
  std::vector<int> channels;
};
inline constexpr const char* kPyramidTargetKind = "image_pyramid";
// A target config object with "kind": "image_pyramid".
bool is_pyramid_target(const Json& config);
// Validated (InputError naming field.key, the value and the rule; a missing image file or folder
// names the path); relative image paths resolve against base_dir.
PyramidTarget parse_pyramid_target(const Json& config, const std::filesystem::path& base_dir = {},
                                   const std::string& field = "target");
Json to_json(const PyramidTarget& target);  // normalised: every key, parse(to_json(t)) == t
// The pyramid of `target` (its images found, cropped with its seed).
ImagePyramid build_image_pyramid(const PyramidTarget& target);

}  // namespace fsr
