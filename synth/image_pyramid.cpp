#include "synth/image_pyramid.h"

#include <algorithm>
#include <cstring>

#include "core/image_io.h"
#include "core/json_read.h"
#include "core/npy.h"
#include "core/rng.h"
#include "core/validate.h"

namespace fsr {
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kTagCrop = 0x63726f7000000000ULL;

// One image as c planes (colour, y, x) after colour conversion and pooling by `scale`.
struct Planes {
  int width = 0, height = 0, colors = 0;
  std::vector<double> v;  // colors * height * width
  double at(int c, int y, int x) const { return v[(std::size_t(c) * height + y) * width + x]; }
};

Planes to_planes(const Image& im, int colors, int scale) {
  Planes p;
  p.colors = colors;
  p.width = im.width / scale, p.height = im.height / scale;
  p.v.assign(std::size_t(colors) * p.height * p.width, 0.0);
  const bool rgb = im.channels >= 3;
  auto colour = [&](int y, int x, int c) -> double {
    if (colors == 3) return im.at(y, x, rgb ? c : 0);
    return rgb ? 0.299 * im.at(y, x, 0) + 0.587 * im.at(y, x, 1) + 0.114 * im.at(y, x, 2)
               : im.at(y, x, 0);
  };
  const double inv = 1.0 / (double(scale) * scale);
  for (int c = 0; c < colors; ++c)
    for (int y = 0; y < p.height; ++y)
      for (int x = 0; x < p.width; ++x) {
        double s = 0;
        for (int dy = 0; dy < scale; ++dy)
          for (int dx = 0; dx < scale; ++dx) s += colour(y * scale + dy, x * scale + dx, c);
        p.v[(std::size_t(c) * p.height + y) * p.width + x] = s * inv;
      }
  return p;
}

}  // namespace

PyramidGeometry pyramid_geometry(const Target& t) {
  return PyramidGeometry{.levels = t.levels, .grid = t.grid, .patch = t.patch, .colors = t.colors};
}

ImagePyramid build_image_pyramid(const PyramidGeometry& g, const PyramidOptions& o) {
  require_int_in_range("levels", g.levels, 1, 8);
  require_int_in_range("grid", g.grid, 1, 1024);
  require_int_in_range("patch", g.patch, 1, 64);
  if (g.colors != 1 && g.colors != 3)
    fail_field("colors", g.colors, "must be 1 (grey) or 3 (RGB) for images");
  require_int_in_range("samples", o.samples, 1, std::int64_t{1} << 31);
  require_int_in_range("image_scale", o.image_scale, 1, 64);
  if (o.images.empty()) fail_field("images", "[]", "must name at least one image");

  const int side = g.side_at(g.levels), c = g.colors;
  std::vector<Planes> planes;
  ImagePyramid out;
  out.geometry = g;
  out.image_scale = o.image_scale;
  out.seed = o.seed;
  for (const fs::path& f : o.images) {
    planes.push_back(to_planes(read_image(f), c, o.image_scale));
    const Planes& p = planes.back();
    if (p.width < side || p.height < side)
      fail_field("images", f.string(),
                 "is " + std::to_string(p.width) + " x " + std::to_string(p.height) +
                     " pixels after image_scale " + std::to_string(o.image_scale) +
                     ", smaller than one crop (" + std::to_string(side) + " x " +
                     std::to_string(side) + ")");
    out.images.push_back(f.string());
  }

  out.x.resize(g.levels);
  for (int l = 1; l <= g.levels; ++l)
    out.x[l - 1].resize(o.samples, std::int64_t{c} * g.side_at(l) * g.side_at(l));
  out.crops.resize(o.samples);
  const int k = static_cast<int>(planes.size());
  for (std::int64_t i = 0; i < o.samples; ++i) {
    const int img = static_cast<int>(i % k);
    const Planes& p = planes[img];
    Rng rng(mix64(o.seed ^ kTagCrop), static_cast<std::uint64_t>(i));
    const int top = static_cast<int>(rng.uniform_int(p.height - side + 1));
    const int left = static_cast<int>(rng.uniform_int(p.width - side + 1));
    out.crops[i] = {img, top, left};
    double* fine = out.x[g.levels - 1].row(i).data();
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x)
          fine[(std::size_t(ch) * side + y) * side + x] = p.at(ch, top + y, left + x);
    for (int l = g.levels - 1; l >= 1; --l) {
      const int s = g.side_at(l), s2 = g.side_at(l + 1);
      const double* src = out.x[l].row(i).data();
      double* dst = out.x[l - 1].row(i).data();
      for (int ch = 0; ch < c; ++ch)
        for (int y = 0; y < s; ++y)
          for (int x = 0; x < s; ++x) {
            const double* a = src + (std::size_t(ch) * s2 + 2 * y) * s2 + 2 * x;
            dst[(std::size_t(ch) * s + y) * s + x] = 0.25 * (a[0] + a[1] + a[s2] + a[s2 + 1]);
          }
    }
  }
  return out;
}

void save_pyramid(const fs::path& dir, const ImagePyramid& p) {
  fs::create_directories(dir);
  const PyramidGeometry& g = p.geometry;
  Json crops = Json::array();
  for (const auto& cr : p.crops) crops.push_back({cr[0], cr[1], cr[2]});
  Json files = Json::object();
  const std::int64_t n = p.x.empty() ? 0 : p.x[0].rows();
  for (int l = 1; l <= g.levels; ++l) {
    const std::vector<std::int64_t> shape = {n, g.colors, g.side_at(l), g.side_at(l)};
    std::vector<float> v(p.x[l - 1].data(), p.x[l - 1].data() + p.x[l - 1].size());
    write_npy(dir / ("X_" + std::to_string(l) + ".npy"), v.data(), shape);
    files["X_" + std::to_string(l) + ".npy"] = shape;
  }
  Json payload{{"architecture",
                {{"levels", g.levels}, {"grid", g.grid}, {"patch", g.patch}, {"colors", g.colors}}},
               {"samples", n},
               {"images", p.images},
               {"image_scale", p.image_scale},
               {"crops", crops},
               {"files", files}};
  write_json_atomic(dir / "pyramid.json",
                    make_document("fsr-image-pyramid", payload, RunInfo{.seed = p.seed}));
}

std::vector<RowMatrix> load_level_images(const fs::path& dir, PyramidGeometry* geometry) {
  fs::path doc_path = dir / "pyramid.json";
  if (!fs::exists(doc_path)) doc_path = dir / "target.json";
  if (!fs::exists(doc_path))
    fail_field("images", dir.string(), "holds neither pyramid.json nor target.json");
  const Json doc = read_json(doc_path);
  if (!doc.contains("architecture") || !doc["architecture"].is_object())
    fail_field(doc_path.string(), "architecture", "is missing");
  const Json& a = doc["architecture"];
  PyramidGeometry g;
  try {
    g.levels = a.at("levels").get<int>(), g.grid = a.at("grid").get<int>();
    g.patch = a.at("patch").get<int>(), g.colors = a.at("colors").get<int>();
  } catch (const Json::exception& e) {
    fail_field(doc_path.string() + ": architecture", a.dump(), e.what());
  }
  std::vector<RowMatrix> out;
  std::int64_t n = -1;
  for (int l = 1; l <= g.levels; ++l) {
    const fs::path f = dir / ("X_" + std::to_string(l) + ".npy");
    if (!fs::exists(f))
      fail_field("images", f.string(), "is missing (a target needs fsr synth --samples N)");
    const NpyArray arr = read_npy(f);
    const std::int64_t s = g.side_at(l);
    if (arr.shape.size() != 4 || arr.shape[1] != g.colors || arr.shape[2] != s ||
        arr.shape[3] != s || (n >= 0 && arr.shape[0] != n))
      fail_field(f.string(), format_shape(arr.shape),
                 "must be (samples, " + std::to_string(g.colors) + ", " + std::to_string(s) + ", " +
                     std::to_string(s) + ") with the same samples at every level");
    n = arr.shape[0];
    RowMatrix m(n, std::int64_t{g.colors} * s * s);
    std::copy(arr.data.begin(), arr.data.end(), m.data());
    out.push_back(std::move(m));
  }
  if (geometry) *geometry = g;
  return out;
}

DataSet load_data_set(const std::filesystem::path& dir) {
  if (!std::filesystem::exists(dir / "pyramid.json")) {
    fail_field("--target", dir.string(),
               "holds no pyramid.json: a data-set target is a folder written by fsr pyramid");
  }
  PyramidGeometry g;
  DataSet d;
  d.x = load_level_images(dir, &g);
  d.geometry.levels = g.levels;
  d.geometry.grid = g.grid;
  d.geometry.patch = g.patch;
  d.geometry.colors = g.colors;
  d.source = dir.string();
  return d;
}

std::uint64_t fingerprint(const DataSet& data) {
  std::uint64_t h = mix64(0x64617461'73657400ULL);  // "dataset"
  auto add = [&h](std::uint64_t x) { h = mix64(h ^ x); };
  const Architecture& g = data.geometry;
  for (int v : {g.levels, g.grid, g.patch, g.colors}) add(static_cast<std::uint64_t>(v));
  for (const RowMatrix& x : data.x) {
    add(static_cast<std::uint64_t>(x.rows()));
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      std::uint64_t bits;
      std::memcpy(&bits, x.data() + i, sizeof bits);
      add(bits);
    }
  }
  return h;
}

bool is_pyramid_target(const Json& config) {
  return config.is_object() && config.contains("kind") && config["kind"] == kPyramidTargetKind;
}

PyramidTarget parse_pyramid_target(const Json& c, const fs::path& base_dir,
                                   const std::string& field) {
  require_object(c, field);
  require_known_keys(c, field,
                     {"kind", "levels", "grid", "patch", "colors", "images", "samples",
                      "image_scale", "seed", "train_samples", "channels"},
                     UnknownKey::kValue);
  if (!is_pyramid_target(c))
    fail_field(field + ".kind", c.value("kind", Json()).dump(), "must be \"image_pyramid\"");
  PyramidTarget t;
  auto required_int = [&](const char* key, std::int64_t lo, std::int64_t hi) {
    if (!c.contains(key)) fail_field(field + "." + key, "(missing)", "is required");
    return as_int(c[key], field + "." + key, lo, hi);
  };
  t.geometry.levels = static_cast<int>(required_int("levels", 1, kMaxLevels));
  t.geometry.grid = static_cast<int>(required_int("grid", 1, kMaxGrid));
  t.geometry.patch = static_cast<int>(required_int("patch", 1, kMaxPatch));
  t.geometry.colors = static_cast<int>(required_int("colors", 1, 3));
  if (t.geometry.colors != 1 && t.geometry.colors != 3)
    fail_field(field + ".colors", t.geometry.colors, "must be 1 (luma) or 3 (RGB)");
  t.samples = required_int("samples", 1, std::int64_t{1} << 40);
  t.train_samples = required_int("train_samples", 1, std::int64_t{1} << 40);
  if (t.train_samples > t.samples - 4) {
    fail_field(field + ".train_samples", t.train_samples,
               "must be <= samples - 4 = " + std::to_string(t.samples - 4) +
                   " (the rest is held out for the metrics: two disjoint halves)");
  }
  t.image_scale = static_cast<int>(read_int(c, "image_scale", field, 1, 1, 1024));
  if (c.contains("seed")) t.seed = as_uint(c["seed"], field + ".seed");
  const Json& images = read_list(c, "images", field);
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string f = field + ".images[" + std::to_string(i) + "]";
    if (!images[i].is_string()) fail_field(f, images[i].dump(), "must be a path");
    fs::path p = images[i].get<std::string>();
    if (p.is_relative() && !base_dir.empty()) p = fs::absolute(base_dir / p);
    if (!fs::exists(p))
      fail_field(f, p.string(),
                 "does not exist (the shipped suites read photographs installed by Debian's "
                 "python3-skimage and python3-matplotlib: run scripts/setup.sh)");
    t.images.push_back(p.lexically_normal().string());
  }
  const Json& channels = read_list(c, "channels", field);
  if (channels.size() != 1 && static_cast<int>(channels.size()) != t.geometry.levels) {
    fail_field(field + ".channels", channels.dump(),
               "must list one value or one per level (" + std::to_string(t.geometry.levels) + ")");
  }
  for (std::size_t i = 0; i < channels.size(); ++i)
    t.channels.push_back(static_cast<int>(
        as_int(channels[i], field + ".channels[" + std::to_string(i) + "]", 1, kMaxChannels)));
  return t;
}

Json to_json(const PyramidTarget& t) {
  return {{"kind", kPyramidTargetKind},
          {"levels", t.geometry.levels},
          {"grid", t.geometry.grid},
          {"patch", t.geometry.patch},
          {"colors", t.geometry.colors},
          {"images", t.images},
          {"samples", t.samples},
          {"image_scale", t.image_scale},
          {"seed", t.seed},
          {"train_samples", t.train_samples},
          {"channels", t.channels}};
}

ImagePyramid build_image_pyramid(const PyramidTarget& t) {
  std::vector<fs::path> files;
  for (const std::string& p : t.images) {
    const auto found = find_images(p, "images");
    files.insert(files.end(), found.begin(), found.end());
  }
  return build_image_pyramid(
      t.geometry,
      {.images = files, .samples = t.samples, .image_scale = t.image_scale, .seed = t.seed});
}

}  // namespace fsr
