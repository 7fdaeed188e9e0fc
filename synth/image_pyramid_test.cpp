#include "synth/image_pyramid.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/validate.h"

namespace fsr {
namespace {
namespace fs = std::filesystem;

// Binary PPM (P6) / PGM (P5) written by hand: the pixel values are known exactly.
void write_pnm(const fs::path& p, int w, int h, int channels, int (*value)(int y, int x, int c)) {
  std::ofstream f(p, std::ios::binary);
  f << (channels == 3 ? "P6" : "P5") << "\n" << w << " " << h << "\n255\n";
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) f.put(static_cast<char>(value(y, x, c)));
}

int texture(int y, int x, int c) { return (7 * y + 13 * x + 61 * c + (x * y) % 17) % 256; }
int grey(int y, int x, int) { return (3 * y + 5 * x) % 256; }

class ImagePyramidTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fsr_image_pyramid_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write_pnm(dir_ / "a.ppm", 40, 36, 3, texture);
    write_pnm(dir_ / "b.pgm", 20, 24, 1, grey);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ImagePyramidTest, LevelsAreCropsAveragedOverBlocksOfTheImage) {
  const PyramidGeometry g{.levels = 3, .grid = 2, .patch = 2, .colors = 3};  // sides 4, 8, 16
  const ImagePyramid p =
      build_image_pyramid(g, {.images = {dir_ / "a.ppm", dir_ / "b.pgm"}, .samples = 6, .seed = 3});
  ASSERT_EQ(p.x.size(), 3u);
  for (std::int64_t i = 0; i < 6; ++i) {
    const auto [img, top, left] = p.crops[i];
    EXPECT_EQ(img, i % 2);  // round robin over images
    for (int l = 1; l <= 3; ++l) {
      const int s = g.side_at(l), block = 16 / s;  // pixels of the image per pixel of X_l
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < s; ++y)
          for (int x = 0; x < s; ++x) {
            // Reference: the mean of the block of the image file, from the pixel formula.
            double sum = 0;
            for (int dy = 0; dy < block; ++dy)
              for (int dx = 0; dx < block; ++dx) {
                const int yy = top + y * block + dy, xx = left + x * block + dx;
                sum += img == 0 ? texture(yy, xx, c) : grey(yy, xx, 0);  // grey replicated
              }
            ASSERT_NEAR(p.x[l - 1](i, (c * s + y) * s + x), sum / (block * block) / 255.0,
                        1e-6)  // float32 decoding of 8-bit values
                << "sample " << i << " level " << l;
          }
    }
  }
  // The same seed draws the same crops for a longer run.
  const ImagePyramid q =
      build_image_pyramid(g, {.images = {dir_ / "a.ppm", dir_ / "b.pgm"}, .samples = 9, .seed = 3});
  for (int i = 0; i < 6; ++i) EXPECT_EQ(q.crops[i], p.crops[i]);
}

TEST_F(ImagePyramidTest, ScaleAndLumaAndRoundTrip) {
  const PyramidGeometry g{.levels = 2, .grid = 2, .patch = 2, .colors = 1};  // sides 4, 8
  const ImagePyramid p = build_image_pyramid(
      g, {.images = {dir_ / "a.ppm"}, .samples = 4, .image_scale = 2, .seed = 1});
  for (int i = 0; i < 4; ++i) {
    const auto [img, top, left] = p.crops[i];
    EXPECT_LE(top + 8, 36 / 2);
    EXPECT_LE(left + 8, 40 / 2);
    // Fine pixel (0, 0) = mean over the 2x2 image block of the luma.
    double sum = 0;
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) {
        const int yy = 2 * top + dy, xx = 2 * left + dx;
        sum += 0.299 * texture(yy, xx, 0) + 0.587 * texture(yy, xx, 1) + 0.114 * texture(yy, xx, 2);
      }
    EXPECT_NEAR(p.x[1](i, 0), sum / 4 / 255.0, 1e-6);
  }
  save_pyramid(dir_ / "pyr", p);
  PyramidGeometry back;
  const std::vector<RowMatrix> x = load_level_images(dir_ / "pyr", &back);
  EXPECT_EQ(back.levels, 2);
  EXPECT_EQ(back.colors, 1);
  for (int l = 0; l < 2; ++l) EXPECT_LT((x[l] - p.x[l]).cwiseAbs().maxCoeff(), 1e-7);  // float32
}

TEST_F(ImagePyramidTest, BadInputNamesTheRule) {
  const PyramidGeometry big{.levels = 4, .grid = 2, .patch = 2, .colors = 3};  // side 32 > 24
  try {
    build_image_pyramid(big, {.images = {dir_ / "b.pgm"}, .samples = 1});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("smaller than one crop (32 x 32)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(build_image_pyramid({.levels = 1, .grid = 2, .patch = 2, .colors = 2},
                                   {.images = {dir_ / "a.ppm"}}),
               InputError);
  EXPECT_THROW(build_image_pyramid({.levels = 1, .grid = 2, .patch = 2, .colors = 3}, {}),
               InputError);
  EXPECT_THROW(load_level_images(dir_), InputError);  // no pyramid.json / target.json
}

// A pyramid folder loads as a data set with its geometry and the very values saved; the
// fingerprint changes with one value; a target directory is not a data set.
TEST_F(ImagePyramidTest, DataSetLoadsThePyramidAndItsFingerprintSeesEveryValue) {
  const PyramidGeometry g{.levels = 2, .grid = 2, .patch = 2, .colors = 3};
  const ImagePyramid p =
      build_image_pyramid(g, {.images = {dir_ / "a.ppm"}, .samples = 12, .seed = 3});
  save_pyramid(dir_ / "pyr", p);
  const DataSet d = load_data_set(dir_ / "pyr");
  EXPECT_EQ(d.samples(), 12);
  EXPECT_EQ(d.geometry.levels, 2);
  EXPECT_EQ(d.geometry.grid, 2);
  EXPECT_EQ(d.geometry.patch, 2);
  EXPECT_EQ(d.geometry.colors, 3);
  ASSERT_EQ(d.x.size(), 2u);
  EXPECT_EQ(d.x[1], p.x[1]);  // float32 on disk: 8-bit pixels and their block means are exact
  EXPECT_EQ(d.x[0].cols(), 3 * 4 * 4);
  DataSet e = d;
  EXPECT_EQ(fingerprint(e), fingerprint(d));
  e.x[0](5, 7) += 1.0 / 255;
  EXPECT_NE(fingerprint(e), fingerprint(d));
  try {
    load_data_set(dir_);
    FAIL();
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("holds no pyramid.json"), std::string::npos)
        << err.what();
  }
}

// The suite's image-pyramid target: normalised round trip, and each bad key named with its value
// and rule.
TEST_F(ImagePyramidTest, PyramidTargetConfigNamesBadKeys) {
  Json j = {{"kind", "image_pyramid"},
            {"levels", 2},
            {"grid", 2},
            {"patch", 2},
            {"colors", 3},
            {"images", {"a.ppm"}},
            {"samples", 20},
            {"train_samples", 16},
            {"channels", {4}}};
  const PyramidTarget t = parse_pyramid_target(j, dir_, "targets.photos");
  EXPECT_EQ(t.images, std::vector<std::string>{(dir_ / "a.ppm").lexically_normal().string()});
  EXPECT_EQ(t.image_scale, 1);
  EXPECT_EQ(to_json(parse_pyramid_target(to_json(t))), to_json(t));
  EXPECT_EQ(build_image_pyramid(t).x[1].rows(), 20);
  auto error = [&](const char* key, Json value) {
    Json k = j;
    k[key] = std::move(value);
    try {
      parse_pyramid_target(k, dir_, "targets.photos");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error("train_samples", 17),
            "targets.photos.train_samples = 17: must be <= samples - 4 = 16 (the rest is held out "
            "for the metrics: two disjoint halves)");
  EXPECT_EQ(error("channels", {4, 4, 4}),
            "targets.photos.channels = [4,4,4]: must list one value or one per level (2)");
  EXPECT_EQ(error("colors", 2), "targets.photos.colors = 2: must be 1 (luma) or 3 (RGB)");
  EXPECT_NE(error("images", {"missing.png"}).find("missing.png: does not exist"),
            std::string::npos);
  EXPECT_NE(error("bogus", 1).find("targets.photos.bogus = 1: unknown key"), std::string::npos);
  EXPECT_TRUE(is_pyramid_target(j));
  EXPECT_FALSE(is_pyramid_target(Json{{"levels", 2}}));
}

}  // namespace
}  // namespace fsr
