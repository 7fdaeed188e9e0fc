#include "core/image_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/validate.h"

namespace fsr {
namespace {
namespace fs = std::filesystem;

// A 3 x 2 RGB PNG written by Pillow 9.4 (Image.fromarray(a, "RGB").save(..., "PNG")), independent
// of the decoder under test, with
//   a = [[[0, 10, 20], [30, 40, 50], [60, 70, 80]], [[255, 128, 1], [2, 3, 4], [200, 100, 50]]].
const unsigned char kPng[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0x12,
    0x16, 0xf1, 0x4d, 0x00, 0x00, 0x00, 0x1c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x64,
    0xe0, 0x12, 0x91, 0x93, 0x93, 0x93, 0x93, 0x93, 0x63, 0xf8, 0xdf, 0xc0, 0xc8, 0xc4, 0xcc,
    0x72, 0x22, 0xc5, 0x08, 0x00, 0x1c, 0x29, 0x03, 0xbb, 0xae, 0x4f, 0x21, 0xc3, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
const int kPixels[2][3][3] = {{{0, 10, 20}, {30, 40, 50}, {60, 70, 80}},
                              {{255, 128, 1}, {2, 3, 4}, {200, 100, 50}}};

class ImageIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fsr_image_io_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sub");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
  }
  fs::path dir_;
};

TEST_F(ImageIoTest, DecodesAPngWrittenByPillow) {
  write(dir_ / "a.png", std::string(reinterpret_cast<const char*>(kPng), sizeof(kPng)));
  const Image im = read_image(dir_ / "a.png");
  ASSERT_EQ(im.width, 3);
  ASSERT_EQ(im.height, 2);
  ASSERT_EQ(im.channels, 3);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(im.at(y, x, c), kPixels[y][x][c] / 255.0f);
}

TEST_F(ImageIoTest, DecodesAHandWrittenGreyPgm) {
  // Binary PGM (P5): header, then one byte per pixel, row-major — a format simple enough to
  // write by hand here.
  std::string pgm = "P5\n2 2\n255\n";
  pgm += std::string{char(0), char(51), char(102), char(255)};
  write(dir_ / "g.pgm", pgm);
  const Image im = read_image(dir_ / "g.pgm");
  ASSERT_EQ(im.channels, 1);
  EXPECT_FLOAT_EQ(im.at(0, 1, 0), 0.2f);
  EXPECT_FLOAT_EQ(im.at(1, 0, 0), 0.4f);
  EXPECT_FLOAT_EQ(im.at(1, 1, 0), 1.0f);
}

TEST_F(ImageIoTest, FindsImagesRecursivelySortedAndCaseInsensitive) {
  const std::string png(reinterpret_cast<const char*>(kPng), sizeof(kPng));
  write(dir_ / "b.PNG", png);
  write(dir_ / "sub" / "a.jpeg", "not really");
  write(dir_ / "notes.txt", "text");
  const auto found = find_images(dir_);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].filename(), "b.PNG");
  EXPECT_EQ(found[1].filename(), "a.jpeg");
  // A file is taken as given.
  EXPECT_EQ(find_images(dir_ / "notes.txt").size(), 1u);
}

TEST_F(ImageIoTest, BadInputNamesTheFileAndTheRule) {
  write(dir_ / "bad.png", "this is not a png");
  try {
    read_image(dir_ / "bad.png");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.png"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot be decoded"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_image(dir_ / "missing.png"), InputError);
  EXPECT_THROW(find_images(dir_ / "missing"), InputError);
  fs::create_directories(dir_ / "empty");
  try {
    find_images(dir_ / "empty", "sources[0]");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("sources[0] = ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace fsr
