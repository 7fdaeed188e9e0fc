// Reading image files (PNG, JPEG, BMP, GIF's first frame, ... — whatever Debian's stb_image
// decodes) into plain float arrays, and finding the images of a folder. The real-image data
// source (synth/image_pyramid.h) builds its pyramids from these; nothing here knows about levels.
//
//   fsr::Image im = fsr::read_image("photo.jpg");     // im.at(y, x, c) in [0, 1]
//   for (const auto& p : fsr::find_images("photos/")) ...   // sorted, recursive
//
// Pixels are stored row-major with the channels interleaved (height, width, channels), values
// = 8-bit sample / 255 (no gamma conversion: the numbers are the file's). Grey images have one
// channel, grey + alpha two, RGB three, RGBA four; alpha is kept as decoded.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fsr {

struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<float> pixels;  // height * width * channels
  float at(int y, int x, int c) const {
    return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c];
  }
};

// Throws InputError naming `path` when the file is missing or cannot be decoded (with stb's
// reason).
Image read_image(const std::filesystem::path& path);

// File extensions find_images() accepts (lower case, with the dot).
const std::vector<std::string>& image_extensions();

// `path` is an image file (returned as is, whatever its extension) or a folder: every file under
// it (recursively) whose lower-cased extension is in image_extensions(), sorted by path. A
// missing path, or a folder without images, is an InputError naming `field` and the path.
std::vector<std::filesystem::path> find_images(const std::filesystem::path& path,
                                               const std::string& field = "images");

}  // namespace fsr
