#include "gda/fast/layout.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "core/validate.h"

namespace fsr::fast {

void validate(const ModelShape& s) {
  s.validate();
  if (int(s.units.size()) != s.levels)
    fail_field("units.size", s.units.size(), "must equal levels = " + std::to_string(s.levels));
  require_int_in_range("latent_dim", s.latent_dim, 1, 1 << 20);
  for (int l = 1; l <= s.levels; ++l)
    require_int_in_range("units[" + std::to_string(l - 1) + "]", s.units[l - 1], 1, 1 << 16);
}

template <typename T>
std::vector<T> images_to_patches(const RowMatrix& images, int h, int r, int c) {
  const int side = h * r, d = r * r * c, P = h * h;
  if (images.cols() != std::int64_t(c) * side * side)
    fail_field("images.cols", images.cols(),
               "must be c * side^2 = " + std::to_string(c * side * side));
  std::vector<T> out(std::size_t(images.rows()) * P * d);
  for (Eigen::Index n = 0; n < images.rows(); ++n)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < h; ++x)
        for (int col = 0; col < c; ++col)
          for (int dy = 0; dy < r; ++dy)
            for (int dx = 0; dx < r; ++dx)
              out[(std::size_t(n) * P + y * h + x) * d + (col * r + dy) * r + dx] =
                  static_cast<T>(images(n, (col * side + y * r + dy) * side + x * r + dx));
  return out;
}

std::vector<int> patch_order(const ModelShape& s, int level) {
  const int h1 = s.grid;
  std::vector<int> order(std::size_t(h1) * h1);
  for (int p = 0; p < h1 * h1; ++p) order[p] = p;
  for (int l = 2; l <= level; ++l) {
    const int hi = s.grid_at(l - 1), ho = 2 * hi;
    std::vector<int> next(std::size_t(ho) * ho);
    for (int y = 0; y < ho; ++y)
      for (int x = 0; x < ho; ++x)
        next[y * ho + x] = 4 * order[(y / 2) * hi + x / 2] + 2 * (y % 2) + (x % 2);
    order = std::move(next);
  }
  return order;
}

template <typename T>
RealBatch<T> real_patches(const ModelShape& shape, const std::vector<RowMatrix>& images) {
  RealBatch<T> out;
  real_patches_into<T>(shape, images, out);
  return out;
}

template <typename T>
void real_patches_into(const ModelShape& shape, const std::vector<RowMatrix>& images,
                       RealBatch<T>& out, ThreadPool* pool) {
  if (int(images.size()) > shape.levels)
    fail_field("images.levels", images.size(),
               "must be <= levels = " + std::to_string(shape.levels));
  const int r = shape.patch, c = shape.colors, d = shape.patch_dim();
  out.resize(images.size());
  for (int l = 1; l <= int(images.size()); ++l) {
    const RowMatrix& im = images[l - 1];
    const int h = shape.grid_at(l), side = h * r, P = h * h;
    if (im.cols() != std::int64_t(c) * side * side)
      fail_field("images.cols", im.cols(),
                 "must be c * side^2 = " + std::to_string(c * side * side));
    const std::vector<int> order = patch_order(shape, l);
    std::vector<T>& q = out[l - 1];
    q.resize(std::size_t(im.rows()) * P * d);
    const auto rows = [&](Eigen::Index first, Eigen::Index last) {
      for (Eigen::Index n = first; n < last; ++n) {
        const double* src = im.row(n).data();  // (colour, y, x)
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < h; ++x) {
            T* dst = q.data() + (std::size_t(n) * P + order[y * h + x]) * d;  // (colour, dy, dx)
            for (int col = 0; col < c; ++col)
              for (int dy = 0; dy < r; ++dy)
                for (int dx = 0; dx < r; ++dx)
                  dst[(col * r + dy) * r + dx] =
                      static_cast<T>(src[(col * side + y * r + dy) * side + x * r + dx]);
          }
      }
    };
    if (pool && pool->size() > 1) {
      pool->run([&](int t) {
        const auto [a, b] = share(t, pool->size(), int(im.rows()));
        rows(a, b);
      });
    } else {
      rows(0, im.rows());
    }
  }
}

ConvTaps conv_taps(int hi, int k) {
  const int pad = k == 4 ? 1 : 0;
  ConvTaps t;
  t.count.assign(2 * hi, 0);
  for (int y = 0; y < 2 * hi; ++y) {
    for (int ky = 0; ky < k; ++ky) {
      const int v = y + pad - ky;
      if (v >= 0 && v % 2 == 0 && v / 2 < hi) {
        t.in.push_back(v / 2);
        t.k.push_back(ky);
        ++t.count[y];
      }
    }
    while (t.in.size() < std::size_t(2 * (y + 1))) {  // 2 slots per y
      t.in.push_back(0);
      t.k.push_back(0);
    }
  }
  return t;
}

template std::vector<float> images_to_patches<float>(const RowMatrix&, int, int, int);
template std::vector<double> images_to_patches<double>(const RowMatrix&, int, int, int);
template RealBatch<float> real_patches<float>(const ModelShape&, const std::vector<RowMatrix>&);
template RealBatch<double> real_patches<double>(const ModelShape&, const std::vector<RowMatrix>&);
template void real_patches_into<float>(const ModelShape&, const std::vector<RowMatrix>&,
                                       RealBatch<float>&, ThreadPool*);
template void real_patches_into<double>(const ModelShape&, const std::vector<RowMatrix>&,
                                        RealBatch<double>&, ThreadPool*);

}  // namespace fsr::fast
