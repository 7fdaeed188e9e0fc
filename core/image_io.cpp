#include "core/image_io.h"

#include <stb_image.h>  // Debian's libstb-dev: the implementation lives in libstb.so

#include <algorithm>
#include <cctype>
#include <memory>

#include "core/validate.h"

namespace fsr {
namespace fs = std::filesystem;

Image read_image(const fs::path& path) {
  if (!fs::is_regular_file(path)) fail_field("image", path.string(), "is not a readable file");
  int w = 0, h = 0, c = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load(path.c_str(), &w, &h, &c, 0),
                                                 stbi_image_free);
  if (!data) {
    const char* why = stbi_failure_reason();
    fail_field("image", path.string(),
               std::string("cannot be decoded (") + (why ? why : "unknown reason") + ")");
  }
  Image im;
  im.width = w, im.height = h, im.channels = c;
  const std::size_t n = std::size_t(w) * h * c;
  im.pixels.resize(n);
  for (std::size_t i = 0; i < n; ++i) im.pixels[i] = float(data.get()[i]) / 255.0f;
  return im;
}

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> kExt = {".png", ".jpg", ".jpeg", ".bmp",
                                                ".gif", ".tga", ".ppm",  ".pgm"};
  return kExt;
}

std::vector<fs::path> find_images(const fs::path& path, const std::string& field) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return {path};
  if (!fs::is_directory(path, ec)) fail_field(field, path.string(), "is not a file or folder");
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(path, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const auto& known = image_extensions();
    if (std::find(known.begin(), known.end(), ext) != known.end()) out.push_back(entry.path());
  }
  if (ec) fail_field(field, path.string(), "cannot be listed (" + ec.message() + ")");
  if (out.empty())
    fail_field(field, path.string(), "holds no image file (.png, .jpg, .jpeg, .bmp, .gif, ...)");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace fsr
