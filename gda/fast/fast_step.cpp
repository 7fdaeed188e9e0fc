#include "gda/fast/fast_step.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/validate.h"

namespace fsr::fast {
namespace {

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using Mat = Eigen::Map<RowMat<T>>;
template <typename T>
using CMat = Eigen::Map<const RowMat<T>>;
// A B x cols slice of a (B, P, cols) buffer at one patch: rows are P * cols apart.
template <typename T>
using Slice = Eigen::Map<RowMat<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using CSlice = Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>>;

}  // namespace

StepShape step_shape(const Target& t, int batch, double width) {
  if (batch < 1) fail_field("batch", batch, "must be >= 1");
  if (!(width > 0)) fail_field("width", width, "must be > 0");
  StepShape s;
  static_cast<Architecture&>(s) = t;
  for (int m : t.channels)
    s.units.push_back(std::max(1, static_cast<int>(std::ceil(width * m - 1e-9))));
  s.latent_dim = std::max(t.latent_dim(), s.first_layer_units());
  s.batch = batch;
  return s;
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

std::vector<int> patch_order(const StepShape& s, int level) {
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
RealBatch<T> real_patches(const StepShape& shape, const std::vector<RowMatrix>& images) {
  if (int(images.size()) < shape.levels)
    fail_field("images.levels", images.size(), "must hold every level of the step");
  RealBatch<T> out;
  const int d = shape.patch_dim();
  for (int l = 1; l <= shape.levels; ++l) {
    const std::vector<T> raster =
        images_to_patches<T>(images[l - 1], shape.grid_at(l), shape.patch, shape.colors);
    const std::vector<int> order = patch_order(shape, l);
    const std::size_t P = order.size();
    std::vector<T> q(raster.size());
    for (std::size_t n = 0; n < raster.size() / (P * d); ++n)
      for (std::size_t p = 0; p < P; ++p)
        std::copy_n(raster.begin() + (n * P + p) * d, d, q.begin() + (n * P + order[p]) * d);
    out.push_back(std::move(q));
  }
  return out;
}

// Multiply-adds per sample of each pass (the matrix products only):
//   gen_fwd  = m0 n1 + sum_{l>=2} P_{l-1} m_{l-1} k^2 m_l + sum_l P_l m_l d
//   gen_bwd  = m0 n1 + 2 sum_{l>=2} P_{l-1} m_{l-1} k^2 m_l + 2 sum_l P_l m_l d   (dA; dW, dS; dM,
//   dS) d_fwd    = sum_l P_l d U_l + sum_{l>=2} P_l U_l U_{l-1} d_bwd_p  = sum_l P_l d U_l + 2
//   sum_{l>=2} P_l U_l U_{l-1}                     (dV; dC, du') d_bwd_x  = sum_l P_l d U_l +
//   sum_{l>=2} P_l U_l U_{l-1}                       (dX; du')
// step = 2 B [ (gen_fwd + 2 d_fwd + 2 d_bwd_p)  +  (gen_fwd + d_fwd + d_bwd_x + gen_bwd) ]
//          D step: fake G(z_d), D on 2B rows            G step
double flops_per_step(const StepShape& s) {
  const double d = s.patch_dim(), k2 = double(s.kernel) * s.kernel;
  double conv = 0, render = 0, dec = 0, cross = 0;
  for (int l = 1; l <= s.levels; ++l) {
    const double P = s.patches_at(l), m = s.channels[l - 1], U = s.units[l - 1];
    render += P * m * d;
    dec += P * d * U;
    if (l >= 2) {
      conv += s.patches_at(l - 1) * double(s.channels[l - 2]) * k2 * m;
      cross += P * U * s.units[l - 2];
    }
  }
  const double a = double(s.latent_dim) * s.first_layer_units();
  const double gen_fwd = a + conv + render, gen_bwd = a + 2 * conv + 2 * render;
  const double d_fwd = dec + cross, d_bwd_p = dec + 2 * cross, d_bwd_x = dec + cross;
  return 2.0 * s.batch * (gen_fwd + 2 * d_fwd + 2 * d_bwd_p + gen_fwd + d_fwd + d_bwd_x + gen_bwd);
}

template <typename T>
FastSgda<T>::FastSgda(const StepShape& s, const StepOptions& options)
    : shape_(s), options_(options) {
  s.validate();
  if (int(s.units.size()) != s.levels)
    fail_field("units.size", s.units.size(), "must equal levels");
  require_int_in_range("batch", s.batch, 1, 1 << 20);
  require_int_in_range("latent_dim", s.latent_dim, 1, 1 << 20);
  const int L = s.levels, B = s.batch, d = s.patch_dim(), k = s.kernel, kk = k * k;
  std::size_t pos = 0;
  auto take = [&](std::size_t n) {
    const std::size_t o = pos;
    pos += n;
    return o;
  };
  off_.A = take(std::size_t(s.first_layer_units()) * s.latent_dim);
  off_.b1 = take(s.first_layer_units());
  off_.W.assign(L, 0);
  off_.bW.assign(L, 0);
  off_.M.assign(L, 0);
  for (int l = 1; l <= L; ++l) {
    if (l >= 2) {
      off_.W[l - 1] = take(std::size_t(s.channels[l - 2]) * kk * s.channels[l - 1]);
      off_.bW[l - 1] = take(s.channels[l - 1]);
    }
    off_.M[l - 1] = take(std::size_t(d) * s.channels[l - 1]);
  }
  g_end_ = pos;
  off_.V.assign(L, 0);
  off_.tau.assign(L, 0);
  off_.lin.assign(L, 0);
  off_.quad.assign(L, 0);
  off_.cross.assign(L, 0);
  for (int l = 1; l <= L; ++l) {
    const std::size_t P = s.patches_at(l), U = s.units[l - 1];
    off_.V[l - 1] = take(U * d);
    off_.tau[l - 1] = take(U);
    off_.lin[l - 1] = take(P * U);
    off_.quad[l - 1] = take(P * U);
    if (l >= 2) off_.cross[l - 1] = take(P * U * s.units[l - 2]);
  }
  theta_.assign(pos, T(0));
  grad_.assign(pos, T(0));

  for (int l = 1; l <= L; ++l) order_.push_back(patch_order(s, l));
  tap_in_.resize(L);
  tap_k_.resize(L);
  tap_count_.resize(L);
  const int pad = s.padding();
  int umax = 1;
  for (int l = 1; l <= L; ++l) {
    const std::size_t P = s.patches_at(l), m = s.channels[l - 1], U = s.units[l - 1];
    umax = std::max(umax, s.units[l - 1]);
    S_.emplace_back(B * P * m);
    dS_.emplace_back(B * P * m);
    X_.emplace_back(2 * B * P * d);
    dX_.emplace_back(B * P * d);
    u_.emplace_back(2 * B * P * U);
    du_.emplace_back(2 * B * P * U);
    t_.emplace_back(l >= 2 ? 2 * B * P * U : 0);
    col_.emplace_back(l >= 2 ? B * s.patches_at(l - 1) * std::size_t(kk) * m : 0);
    if (l >= 2) {
      // Output y = 2 iy + ky - pad: for each y the (iy, ky) pairs with 0 <= iy < h_{l-1}.
      const int hi = s.grid_at(l - 1);
      for (int y = 0; y < 2 * hi; ++y) {
        for (int ky = 0; ky < k; ++ky) {
          const int t = y + pad - ky;
          if (t >= 0 && t % 2 == 0 && t / 2 < hi) {
            tap_in_[l - 1].push_back(t / 2);
            tap_k_[l - 1].push_back(ky);
          }
        }
        while (tap_in_[l - 1].size() < std::size_t(2 * (y + 1))) {  // 2 slots per y
          tap_in_[l - 1].push_back(0);
          tap_k_[l - 1].push_back(0);
        }
      }
      // tap_count_[y]: the valid taps of y (1 for kernel 2; 1 or 2 for kernel 4).
      tap_count_[l - 1].assign(2 * hi, 0);
      for (int y = 0; y < 2 * hi; ++y)
        for (int ky = 0; ky < k; ++ky) {
          const int t = y + pad - ky;
          if (t >= 0 && t % 2 == 0 && t / 2 < hi) ++tap_count_[l - 1][y];
        }
    }
  }
  z_.resize(2 * std::size_t(B) * s.latent_dim);
  f_.resize(2 * B);
  w_.resize(2 * B);
  wu_.resize(2 * 2 * std::size_t(B) * umax);
}

template <typename T>
void FastSgda<T>::init(std::uint64_t seed) {
  const StepShape& s = shape_;
  std::uint64_t stream = 0;
  auto fill = [&](std::size_t off, std::size_t n, double scale, double shift = 0.0) {
    Rng rng(seed, 1000 + stream++);
    for (std::size_t i = 0; i < n; ++i) theta_[off + i] = T(shift + scale * rng.normal());
  };
  const int d = s.patch_dim(), k = s.kernel;
  fill(off_.A, std::size_t(s.first_layer_units()) * s.latent_dim,
       1.0 / std::sqrt(double(s.latent_dim)));
  fill(off_.b1, s.first_layer_units(), 0.0, 0.5);  // P(unit active) = Q(0.5) ~ 0.31 at init
  for (int l = 1; l <= s.levels; ++l) {
    const int m = s.channels[l - 1];
    if (l >= 2) {
      const int mi = s.channels[l - 2];
      fill(off_.W[l - 1], std::size_t(mi) * k * k * m,
           std::sqrt(2.0 / (mi * (k / 2.0) * (k / 2.0))));
      fill(off_.bW[l - 1], m, 0.0, 0.1);
    }
    fill(off_.M[l - 1], std::size_t(d) * m, 1.0 / std::sqrt(double(d)));
  }
  for (int l = 1; l <= s.levels; ++l) {
    const std::size_t P = s.patches_at(l), U = s.units[l - 1];
    fill(off_.V[l - 1], U * d, 1.0 / std::sqrt(double(d)));
    fill(off_.tau[l - 1], U, 0.0, 0.05);
    fill(off_.lin[l - 1], P * U, 0.1 / std::sqrt(double(P * U)));
    fill(off_.quad[l - 1], P * U, 0.1 / std::sqrt(double(P * U)));
    if (l >= 2) fill(off_.cross[l - 1], P * U * s.units[l - 2], 0.1 / std::sqrt(double(P * U)));
  }
}

template <typename T>
std::vector<NamedTensor<T>> FastSgda<T>::parameters() const {
  const StepShape& s = shape_;
  const int n1 = s.first_layer_units(), m0 = s.latent_dim, P1 = s.patches_at(1), m1 = s.channels[0],
            k = s.kernel;
  const int d = s.patch_dim();
  std::vector<NamedTensor<T>> out;
  auto plain = [&](const std::string& name, std::vector<std::int64_t> shape, std::size_t off) {
    std::size_t n = 1;
    for (auto e : shape) n *= e;
    out.push_back({name, shape, std::vector<T>(theta_.begin() + off, theta_.begin() + off + n)});
  };
  NamedTensor<T> a{"A", {n1, m0}, std::vector<T>(std::size_t(n1) * m0)};
  NamedTensor<T> b{"b1", {n1}, std::vector<T>(n1)};
  for (int c = 0; c < m1; ++c)
    for (int p = 0; p < P1; ++p) {
      const int canon = c * P1 + p, internal = p * m1 + c;
      std::copy_n(theta_.begin() + off_.A + std::size_t(internal) * m0, m0,
                  a.data.begin() + std::size_t(canon) * m0);
      b.data[canon] = theta_[off_.b1 + internal];
    }
  out.push_back(std::move(a));
  out.push_back(std::move(b));
  for (int l = 1; l <= s.levels; ++l) {
    const std::string n = std::to_string(l);
    const int m = s.channels[l - 1];
    if (l >= 2) {
      const int mi = s.channels[l - 2];
      NamedTensor<T> w{"W" + n, {mi, m, k, k}, std::vector<T>(std::size_t(mi) * m * k * k)};
      for (int i = 0; i < mi; ++i)
        for (int o = 0; o < m; ++o)
          for (int t = 0; t < k * k; ++t)
            w.data[(std::size_t(i) * m + o) * k * k + t] =
                theta_[off_.W[l - 1] + std::size_t(i) * k * k * m + t * m + o];
      out.push_back(std::move(w));
      plain("bW" + n, {m}, off_.bW[l - 1]);
    }
    plain("M" + n, {d, m}, off_.M[l - 1]);
  }
  for (int l = 1; l <= s.levels; ++l) {
    const std::string n = std::to_string(l);
    const int P = s.patches_at(l), U = s.units[l - 1];
    plain("V" + n, {U, d}, off_.V[l - 1]);
    plain("tau" + n, {U}, off_.tau[l - 1]);
    // Per-patch read-outs: canonical row p (raster) is internal row order_[l - 1][p].
    auto by_patch = [&](const std::string& name, std::vector<std::int64_t> shape, std::size_t off) {
      const std::size_t width = std::size_t(shape[1]) * (shape.size() > 2 ? shape[2] : 1);
      NamedTensor<T> t{name, shape, std::vector<T>(std::size_t(P) * width)};
      for (int p = 0; p < P; ++p)
        std::copy_n(theta_.begin() + off + order_[l - 1][p] * width, width,
                    t.data.begin() + p * width);
      out.push_back(std::move(t));
    };
    by_patch("lin" + n, {P, U}, off_.lin[l - 1]);
    by_patch("quad" + n, {P, U}, off_.quad[l - 1]);
    if (l >= 2) by_patch("cross" + n, {P, U, s.units[l - 2]}, off_.cross[l - 1]);
  }
  return out;
}

template <typename T>
void FastSgda<T>::set_parameters(const std::vector<NamedTensor<T>>& params) {
  const std::vector<NamedTensor<T>> mine = parameters();
  if (params.size() != mine.size())
    fail_field("parameters.size", params.size(), "must be " + std::to_string(mine.size()));
  for (std::size_t i = 0; i < mine.size(); ++i) {
    if (params[i].name != mine[i].name)
      fail_field("parameters[" + std::to_string(i) + "].name", params[i].name,
                 "must be " + mine[i].name);
    if (params[i].shape != mine[i].shape || params[i].data.size() != mine[i].data.size())
      fail_field(params[i].name + ".shape", format_shape(params[i].shape),
                 "must be " + format_shape(mine[i].shape));
  }
  // Inverse of parameters(): walk the same order.
  const StepShape& s = shape_;
  const int m0 = s.latent_dim, P1 = s.patches_at(1), m1 = s.channels[0], k = s.kernel;
  std::size_t i = 0;
  auto plain = [&](std::size_t off) {
    std::copy(params[i].data.begin(), params[i].data.end(), theta_.begin() + off);
    ++i;
  };
  for (int c = 0; c < m1; ++c)
    for (int p = 0; p < P1; ++p) {
      const int canon = c * P1 + p, internal = p * m1 + c;
      std::copy_n(params[0].data.begin() + std::size_t(canon) * m0, m0,
                  theta_.begin() + off_.A + std::size_t(internal) * m0);
      theta_[off_.b1 + internal] = params[1].data[canon];
    }
  i = 2;
  for (int l = 1; l <= s.levels; ++l) {
    const int m = s.channels[l - 1];
    if (l >= 2) {
      const int mi = s.channels[l - 2];
      for (int a = 0; a < mi; ++a)
        for (int o = 0; o < m; ++o)
          for (int t = 0; t < k * k; ++t)
            theta_[off_.W[l - 1] + std::size_t(a) * k * k * m + t * m + o] =
                params[i].data[(std::size_t(a) * m + o) * k * k + t];
      ++i;
      plain(off_.bW[l - 1]);
    }
    plain(off_.M[l - 1]);
  }
  for (int l = 1; l <= s.levels; ++l) {
    const std::size_t P = s.patches_at(l);
    auto by_patch = [&](std::size_t off) {
      const std::size_t width = params[i].data.size() / P;
      for (std::size_t p = 0; p < P; ++p)
        std::copy_n(params[i].data.begin() + p * width, width,
                    theta_.begin() + off + order_[l - 1][p] * width);
      ++i;
    };
    plain(off_.V[l - 1]);
    plain(off_.tau[l - 1]);
    by_patch(off_.lin[l - 1]);
    by_patch(off_.quad[l - 1]);
    if (l >= 2) by_patch(off_.cross[l - 1]);
  }
}

template <typename T>
void FastSgda<T>::load_real(const RealBatch<T>& real) {
  const StepShape& s = shape_;
  if (int(real.size()) != s.levels) fail_field("real.levels", real.size(), "must equal levels");
  for (int l = 1; l <= s.levels; ++l) {
    const std::size_t n = std::size_t(s.batch) * s.patches_at(l) * s.patch_dim();
    if (real[l - 1].size() != n)
      fail_field("real[" + std::to_string(l - 1) + "].size", real[l - 1].size(),
                 "must be B P_l d = " + std::to_string(n));
    std::memcpy(X_[l - 1].data(), real[l - 1].data(), n * sizeof(T));
  }
}

template <typename T>
void FastSgda<T>::generate_into(const T* z, int row0) {
  const StepShape& s = shape_;
  const int B = s.batch, d = s.patch_dim(), k = s.kernel, kk = k * k, n1 = s.first_layer_units();
  const T* th = theta_.data();
  {
    Mat<T> S1(S_[0].data(), B, n1);
    S1.noalias() = CMat<T>(z, B, s.latent_dim) * CMat<T>(th + off_.A, n1, s.latent_dim).transpose();
    const T* b1 = th + off_.b1;
    for (int n = 0; n < B; ++n) {
      T* row = S_[0].data() + std::size_t(n) * n1;
      for (int j = 0; j < n1; ++j) row[j] = std::max(row[j] - b1[j], T(0));
    }
  }
  for (int l = 2; l <= s.levels; ++l) {
    const int mi = s.channels[l - 2], mo = s.channels[l - 1], hi = s.grid_at(l - 1), ho = 2 * hi;
    const int kmo = kk * mo;
    T* col = col_[l - 1].data();
    Mat<T>(col, std::size_t(B) * hi * hi, kmo).noalias() =
        CMat<T>(S_[l - 2].data(), std::size_t(B) * hi * hi, mi) *
        CMat<T>(th + off_.W[l - 1], mi, kmo);
    // Fused col2im (as a gather: each output pixel sums its <= 4 taps) + bias + ReLU.
    const T* bias = th + off_.bW[l - 1];
    const int* tin = tap_in_[l - 1].data();
    const int* tk = tap_k_[l - 1].data();
    const int* tc = tap_count_[l - 1].data();
    const int* oin = order_[l - 2].data();   // (iy, ix) -> row of the input
    const int* oout = order_[l - 1].data();  // (y, x) -> row of the output
    const std::size_t Pi = std::size_t(hi) * hi, Po = std::size_t(ho) * ho;
    T* out = S_[l - 1].data();
    for (int n = 0; n < B; ++n)
      for (int y = 0; y < ho; ++y)
        for (int x = 0; x < ho; ++x) {
          T* o = out + (n * Po + oout[y * ho + x]) * mo;
          for (int c = 0; c < mo; ++c) o[c] = -bias[c];
          for (int a = 0; a < tc[y]; ++a)
            for (int b = 0; b < tc[x]; ++b) {
              const T* src = col + (n * Pi + oin[tin[2 * y + a] * hi + tin[2 * x + b]]) * kmo +
                             (tk[2 * y + a] * k + tk[2 * x + b]) * mo;
              for (int c = 0; c < mo; ++c) o[c] += src[c];
            }
          for (int c = 0; c < mo; ++c) o[c] = std::max(o[c], T(0));
        }
  }
  for (int l = 1; l <= s.levels; ++l) {
    const std::size_t rows = std::size_t(B) * s.patches_at(l);
    const int m = s.channels[l - 1];
    Mat<T>(X_[l - 1].data() + std::size_t(row0) * s.patches_at(l) * d, rows, d).noalias() =
        CMat<T>(S_[l - 1].data(), rows, m) * CMat<T>(th + off_.M[l - 1], d, m).transpose();
  }
}

template <typename T>
void FastSgda<T>::discriminate(int n) {
  const StepShape& s = shape_;
  const int d = s.patch_dim();
  const T* th = theta_.data();
  std::fill_n(f_.begin(), n, T(0));
  for (int l = 1; l <= s.levels; ++l) {
    const int P = s.patches_at(l), U = s.units[l - 1];
    T* u = u_[l - 1].data();
    Mat<T>(u, std::size_t(n) * P, U).noalias() = CMat<T>(X_[l - 1].data(), std::size_t(n) * P, d) *
                                                 CMat<T>(th + off_.V[l - 1], U, d).transpose();
    const T* tau = th + off_.tau[l - 1];
    const T* lin = th + off_.lin[l - 1];
    const T* quad = th + off_.quad[l - 1];
    // u = ReLU(pre - tau) in place, then f_i += sum lin u + quad u^2 as an Eigen reduction
    // (vectorised; a plain `acc +=` loop is not without -ffast-math).
    using Arr = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
    using CArr = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
    const std::size_t row = std::size_t(P) * U;
    const CArr la(lin, row), qa(quad, row);
    for (int i = 0; i < n; ++i) {
      T* ui = u + i * row;
      for (int p = 0; p < P; ++p) {
        T* r = ui + std::size_t(p) * U;
        for (int j = 0; j < U; ++j) r[j] = std::max(r[j] - tau[j], T(0));
      }
      const Arr a(ui, row);
      f_[i] += (a * (la + qa * a)).sum();
    }
  }
  for (int l = 2; l <= s.levels; ++l) {
    const int P = s.patches_at(l), U = s.units[l - 1], Pp = s.patches_at(l - 1),
              Up = s.units[l - 2];
    T* t = t_[l - 1].data();
    const T* u = u_[l - 1].data();
    // The children 4q..4q+3 of parent q: t[:, 4q..4q+3, :] = u'_q [C_4q; ..; C_4q+3]^T.
    for (int q = 0; q < Pp; ++q)
      Slice<T>(t + std::size_t(4 * q) * U, n, 4 * U, Eigen::OuterStride<>(P * U)).noalias() =
          CSlice<T>(u_[l - 2].data() + std::size_t(q) * Up, n, Up, Eigen::OuterStride<>(Pp * Up)) *
          CMat<T>(th + off_.cross[l - 1] + std::size_t(4 * q) * U * Up, 4 * U, Up).transpose();
    const std::size_t row = std::size_t(P) * U;
    for (int i = 0; i < n; ++i)
      f_[i] += (Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(u + i * row, row) *
                Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(t + i * row, row))
                   .sum();
  }
}

template <typename T>
T FastSgda<T>::weighted_score(int n) const {
  T acc = 0;
  for (int i = 0; i < n; ++i) acc += w_[i] * f_[i];
  return acc;
}

template <typename T>
T FastSgda<T>::penalty() const {
  T acc = 0;
  for (int l = 1; l <= shape_.levels; ++l) {
    const std::size_t P = shape_.patches_at(l), U = shape_.units[l - 1];
    auto sq = [&](std::size_t off, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) acc += theta_[off + i] * theta_[off + i];
    };
    sq(off_.lin[l - 1], P * U);
    sq(off_.quad[l - 1], P * U);
    if (l >= 2) sq(off_.cross[l - 1], P * U * shape_.units[l - 2]);
  }
  return T(options_.lambda) * acc;
}

// Gradients of sum_i w_i f_i: of the D parameters (param_grads: dlin, dquad, dV, dtau, dC) and/or
// of the input patches (input_grads: into dX_, rows [0, n)). Levels top-down, so that when level l
// is reached du_l already holds what the cross terms of level l + 1 sent it; one fused pass per
// level then adds the read-out and own cross terms, applies the ReLU mask and accumulates dlin,
// dquad and dtau, and the level's cross products send their share on to du_{l-1}.
template <typename T>
void FastSgda<T>::d_backward(int n, bool param_grads, bool input_grads) {
  const StepShape& s = shape_;
  const int d = s.patch_dim();
  const T* th = theta_.data();
  T* g = grad_.data();
  for (int l = s.levels; l >= 1; --l) {
    const std::size_t P = s.patches_at(l), U = s.units[l - 1], rows = std::size_t(n) * P;
    const T* u = u_[l - 1].data();
    const T* t = l >= 2 ? t_[l - 1].data() : nullptr;
    const T* lin = th + off_.lin[l - 1];
    const T* quad = th + off_.quad[l - 1];
    T* dd = du_[l - 1].data();
    T* dlin = g + off_.lin[l - 1];
    T* dquad = g + off_.quad[l - 1];
    T* dtau = g + off_.tau[l - 1];
    if (param_grads) {
      std::fill_n(dlin, P * U, T(0));
      std::fill_n(dquad, P * U, T(0));
      std::fill_n(dtau, U, T(0));
    }
    auto pass = [&]<bool kCross, bool kChild, bool kParam>() {
      for (int i = 0; i < n; ++i) {
        const T wi = w_[i];
        for (std::size_t p = 0; p < P; ++p) {
          // __restrict: with this many pointers GCC gives up its alias checks and stays scalar.
          const std::size_t r = (i * P + p) * U;
          const T* __restrict ur = u + r;
          T* __restrict dr = dd + r;
          const T* __restrict tr = kCross ? t + r : nullptr;
          const T* __restrict lp = lin + p * U;
          const T* __restrict qp = quad + p * U;
          for (std::size_t j = 0; j < U; ++j) {
            T v = wi * (lp[j] + T(2) * qp[j] * ur[j]);
            if constexpr (kCross) v += wi * tr[j];
            if constexpr (kChild) v += dr[j];
            // ReLU mask as a product: GCC keeps `cond ? v : 0` as a branch (no vectorising).
            dr[j] = v * T(ur[j] > T(0));
          }
          if constexpr (kParam) {
            T* __restrict dl = dlin + p * U;
            T* __restrict dq = dquad + p * U;
            T* __restrict dt = dtau;
            for (std::size_t j = 0; j < U; ++j) {
              dl[j] += wi * ur[j];
              dq[j] += wi * ur[j] * ur[j];
              dt[j] -= dr[j];
            }
          }
        }
      }
    };
    const bool cross = l >= 2, child = l < s.levels;
    if (param_grads) {
      if (cross && child) pass.template operator()<true, true, true>();
      if (cross && !child) pass.template operator()<true, false, true>();
      if (!cross && child) pass.template operator()<false, true, true>();
      if (!cross && !child) pass.template operator()<false, false, true>();
    } else {
      if (cross && child) pass.template operator()<true, true, false>();
      if (cross && !child) pass.template operator()<true, false, false>();
      if (!cross && child) pass.template operator()<false, true, false>();
      if (!cross && !child) pass.template operator()<false, false, false>();
    }
    if (cross) {
      // Parent q, children 4q..4q+3 (Uc = u[:, 4q..4q+3, :], n x 4U; Cq their stacked C, 4U x Up):
      // du'_q = w o (Uc Cq) (assigned: each parent once), dCq = Uc^T (w o u'_q). Uses u, not du,
      // so it may follow the pass above.
      const int Pp = s.patches_at(l - 1), Up = s.units[l - 2];
      T* tmp = wu_.data();
      T* wup = wu_.data() + std::size_t(n) * Up;
      T* dup = du_[l - 2].data();
      const T* upar = u_[l - 2].data();
      for (int q = 0; q < Pp; ++q) {
        const CSlice<T> Uc(u + std::size_t(4 * q) * U, n, 4 * U, Eigen::OuterStride<>(P * U));
        const CMat<T> Cq(th + off_.cross[l - 1] + std::size_t(4 * q) * U * Up, 4 * U, Up);
        Mat<T>(tmp, n, Up).noalias() = Uc * Cq;
        for (int i = 0; i < n; ++i) {
          const T wi = w_[i];
          T* dst = dup + (std::size_t(i) * Pp + q) * Up;
          const T* src = tmp + std::size_t(i) * Up;
          for (int j = 0; j < Up; ++j) dst[j] = wi * src[j];
        }
        if (param_grads) {
          for (int i = 0; i < n; ++i) {
            const T wi = w_[i];
            const T* src = upar + (std::size_t(i) * Pp + q) * Up;
            T* dst = wup + std::size_t(i) * Up;
            for (int j = 0; j < Up; ++j) dst[j] = wi * src[j];
          }
          Mat<T>(g + off_.cross[l - 1] + std::size_t(4 * q) * U * Up, 4 * U, Up).noalias() =
              Uc.transpose() * CMat<T>(wup, n, Up);
        }
      }
    }
    const CMat<T> dU(dd, rows, U);
    if (param_grads)
      Mat<T>(g + off_.V[l - 1], U, d).noalias() =
          dU.transpose() * CMat<T>(X_[l - 1].data(), rows, d);
    if (input_grads)
      Mat<T>(dX_[l - 1].data(), rows, d).noalias() = dU * CMat<T>(th + off_.V[l - 1], U, d);
  }
}

template <typename T>
void FastSgda<T>::g_backward(const T* z) {
  const StepShape& s = shape_;
  const int B = s.batch, d = s.patch_dim(), k = s.kernel, kk = k * k, L = s.levels;
  const int pad = s.padding();
  const T* th = theta_.data();
  T* g = grad_.data();
  for (int l = L; l >= 1; --l) {
    const std::size_t rows = std::size_t(B) * s.patches_at(l);
    const int m = s.channels[l - 1];
    const CMat<T> dX(dX_[l - 1].data(), rows, d);
    const CMat<T> S(S_[l - 1].data(), rows, m);
    Mat<T> dS(dS_[l - 1].data(), rows, m);
    if (l == L)
      dS.noalias() = dX * CMat<T>(th + off_.M[l - 1], d, m);
    else
      dS.noalias() += dX * CMat<T>(th + off_.M[l - 1], d, m);
    Mat<T>(g + off_.M[l - 1], d, m).noalias() = dX.transpose() * S;
    T* ds = dS_[l - 1].data();
    const T* sv = S_[l - 1].data();
    for (std::size_t j = 0; j < rows * m; ++j) ds[j] *= T(sv[j] > T(0));
    if (l >= 2) {
      const int mi = s.channels[l - 2], mo = m, hi = s.grid_at(l - 1), ho = 2 * hi, kmo = kk * mo;
      Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(g + off_.bW[l - 1], mo).noalias() =
          -CMat<T>(ds, rows, mo).colwise().sum();
      // dCol = im2col(dpre): the tap (ky, kx) of input (iy, ix) reads output (2iy+ky-pad, ...).
      T* dcol = col_[l - 1].data();
      const int* oin = order_[l - 2].data();
      const int* oout = order_[l - 1].data();
      const std::size_t Pi = std::size_t(hi) * hi, Po = std::size_t(ho) * ho;
      for (int n = 0; n < B; ++n)
        for (int iy = 0; iy < hi; ++iy)
          for (int ix = 0; ix < hi; ++ix) {
            T* dst = dcol + (n * Pi + oin[iy * hi + ix]) * kmo;
            for (int ky = 0; ky < k; ++ky) {
              const int y = 2 * iy + ky - pad;
              for (int kx = 0; kx < k; ++kx) {
                const int x = 2 * ix + kx - pad;
                T* o = dst + (ky * k + kx) * mo;
                if (y < 0 || y >= ho || x < 0 || x >= ho) {
                  std::fill_n(o, mo, T(0));
                } else {
                  std::memcpy(o, ds + (n * Po + oout[y * ho + x]) * mo, mo * sizeof(T));
                }
              }
            }
          }
      const std::size_t rin = std::size_t(B) * hi * hi;
      const CMat<T> dCol(dcol, rin, kmo);
      Mat<T>(g + off_.W[l - 1], mi, kmo).noalias() =
          CMat<T>(S_[l - 2].data(), rin, mi).transpose() * dCol;
      Mat<T>(dS_[l - 2].data(), rin, mi).noalias() =
          dCol * CMat<T>(th + off_.W[l - 1], mi, kmo).transpose();
    } else {
      const int n1 = s.first_layer_units();
      const CMat<T> dP(ds, B, n1);
      Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(g + off_.b1, n1).noalias() =
          -dP.colwise().sum();
      Mat<T>(g + off_.A, n1, s.latent_dim).noalias() = dP.transpose() * CMat<T>(z, B, s.latent_dim);
    }
  }
}

template <typename T>
void FastSgda<T>::update(std::size_t begin, std::size_t end, double lr) {
  const T a = T(lr);
  T* th = theta_.data();
  const T* g = grad_.data();
  for (std::size_t i = begin; i < end; ++i) th[i] -= a * g[i];
}

template <typename T>
T FastSgda<T>::d_loss(const RealBatch<T>& real, const T* z_d) {
  const int B = shape_.batch;
  load_real(real);
  generate_into(z_d, B);
  discriminate(2 * B);
  for (int i = 0; i < B; ++i) {
    w_[i] = T(-1) / T(B);
    w_[B + i] = T(1) / T(B);
  }
  return weighted_score(2 * B) + penalty();
}

template <typename T>
T FastSgda<T>::g_loss(const T* z_g) {
  const int B = shape_.batch;
  generate_into(z_g, 0);
  discriminate(B);
  for (int i = 0; i < B; ++i) w_[i] = T(-1) / T(B);
  return weighted_score(B);
}

template <typename T>
void FastSgda<T>::add_penalty_gradient() {
  const T two_lambda = T(2 * options_.lambda);
  for (int l = 1; l <= shape_.levels; ++l) {
    const std::size_t P = shape_.patches_at(l), U = shape_.units[l - 1];
    auto add = [&](std::size_t off, std::size_t n) {
      for (std::size_t i = off; i < off + n; ++i) grad_[i] += two_lambda * theta_[i];
    };
    add(off_.lin[l - 1], P * U);
    add(off_.quad[l - 1], P * U);
    if (l >= 2) add(off_.cross[l - 1], P * U * shape_.units[l - 2]);
  }
}

template <typename T>
std::vector<T> FastSgda<T>::d_gradient(const RealBatch<T>& real, const T* z_d) {
  d_loss(real, z_d);
  d_backward(2 * shape_.batch, true, false);
  add_penalty_gradient();
  std::vector<T> out(grad_.size(), T(0));
  std::copy(grad_.begin() + g_end_, grad_.end(), out.begin() + g_end_);
  return out;
}

template <typename T>
std::vector<T> FastSgda<T>::g_gradient(const T* z_g) {
  g_loss(z_g);
  d_backward(shape_.batch, false, true);
  g_backward(z_g);
  std::vector<T> out(grad_.size(), T(0));
  std::copy(grad_.begin(), grad_.begin() + g_end_, out.begin());
  return out;
}

template <typename T>
StepLosses FastSgda<T>::step(const RealBatch<T>& real, const T* z_d, const T* z_g) {
  StepLosses out;
  // D step: the gradient of L_D only touches the D block of grad_.
  out.d_loss = static_cast<double>(d_loss(real, z_d));
  d_backward(2 * shape_.batch, true, false);
  add_penalty_gradient();
  update(g_end_, theta_.size(), options_.lr_d);
  // G step against the updated discriminator.
  out.g_loss = static_cast<double>(g_loss(z_g));
  d_backward(shape_.batch, false, true);
  g_backward(z_g);
  update(0, g_end_, options_.lr_g);
  return out;
}

// N(0, 1) latents by Box-Muller in single precision from one 64-bit draw per pair (24-bit
// uniforms; the tail is cut at sqrt(-2 ln 2^-24) = 5.8 sigma, immaterial for z): about 3x cheaper
// than fsr::Rng::normal's double-precision sin/cos/log, which was 10% of the quick-start step.
template <typename T>
void fill_normals(Rng& rng, T* out, std::size_t n) {
  constexpr float kTwoPi = 6.28318530717958647692f;
  for (std::size_t i = 0; i < n; i += 2) {
    const std::uint64_t r = rng.next_u64();
    const float u1 = (float((r >> 40) & 0xFFFFFFu) + 1.0f) * 0x1p-24f;  // (0, 1]
    const float u2 = float((r >> 16) & 0xFFFFFFu) * 0x1p-24f;           // [0, 1)
    const float radius = std::sqrt(-2.0f * std::log(u1));
    const float angle = kTwoPi * u2;
    out[i] = T(radius * std::cos(angle));
    if (i + 1 < n) out[i + 1] = T(radius * std::sin(angle));
  }
}

template <typename T>
StepLosses FastSgda<T>::step(const RealBatch<T>& real, Rng& rng) {
  fill_normals(rng, z_.data(), z_.size());
  const std::size_t half = std::size_t(shape_.batch) * shape_.latent_dim;
  return step(real, z_.data(), z_.data() + half);
}

template <typename T>
void FastSgda<T>::generate(const T* z, RealBatch<T>* patches, std::vector<std::vector<T>>* codes) {
  const StepShape& s = shape_;
  generate_into(z, 0);
  if (patches) {
    patches->clear();
    const int d = s.patch_dim();
    for (int l = 1; l <= s.levels; ++l) {  // back to raster order
      const int P = s.patches_at(l);
      std::vector<T> x(std::size_t(s.batch) * P * d);
      for (int n = 0; n < s.batch; ++n)
        for (int p = 0; p < P; ++p)
          std::copy_n(X_[l - 1].begin() + (std::size_t(n) * P + order_[l - 1][p]) * d, d,
                      x.begin() + (std::size_t(n) * P + p) * d);
      patches->push_back(std::move(x));
    }
  }
  if (codes) {
    codes->clear();
    for (int l = 1; l <= s.levels; ++l) {
      const int P = s.patches_at(l), m = s.channels[l - 1];
      std::vector<T> c(std::size_t(s.batch) * P * m);
      for (int n = 0; n < s.batch; ++n)
        for (int p = 0; p < P; ++p)
          for (int j = 0; j < m; ++j)
            c[(std::size_t(n) * m + j) * P + p] =
                S_[l - 1][(std::size_t(n) * P + order_[l - 1][p]) * m + j];
      codes->push_back(std::move(c));
    }
  }
}

template std::vector<float> images_to_patches<float>(const RowMatrix&, int, int, int);
template std::vector<double> images_to_patches<double>(const RowMatrix&, int, int, int);
template RealBatch<float> real_patches<float>(const StepShape&, const std::vector<RowMatrix>&);
template RealBatch<double> real_patches<double>(const StepShape&, const std::vector<RowMatrix>&);
template void fill_normals<float>(Rng&, float*, std::size_t);
template void fill_normals<double>(Rng&, double*, std::size_t);
template class FastSgda<float>;
template class FastSgda<double>;

}  // namespace fsr::fast
