#include "gda/fast/cpu_engine.h"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "core/thread_pool.h"
#include "core/validate.h"
#include "gda/fast/ops.h"

namespace fsr::fast {
namespace {

enum class Role { kGenerator, kBuffer, kDiscriminator, kReadout };

// One named tensor of the model inside the flat parameter vector.
struct Block {
  std::string name;
  std::vector<std::int64_t> shape;  // canonical
  Role role = Role::kGenerator;
  int level = 1;
  std::size_t offset = 0, size = 0;
  std::vector<std::uint32_t> perm;  // canonical index -> index in the block; empty: identity
  bool has_grad = false;            // this step's loss depends on it (torch: grad defined)
  bool has_state = false;           // optimiser state exists (created at its first update)
  std::int64_t step = 0;
  std::size_t at(std::size_t canonical) const { return perm.empty() ? canonical : perm[canonical]; }
};

// The read-outs of one level, contiguous: lin (P U), quad (P U diagonal, (P U)^2 full, or none),
// cubic (P U or none), quartic (P U or none), cross (P U U_{l-1} or none). The same layout holds
// the read-out weights (learned), their gradients, the batch feature means and the coefficients of
// the optimal read-out.
struct ReadoutLayout {
  std::size_t lin = 0, quad = 0, cubic = 0, quartic = 0, cross = 0, size = 0;
  std::size_t n_lin = 0, n_quad = 0, n_cubic = 0, n_quartic = 0, n_cross = 0;
};

template <typename T>
T softplus(T x) {  // torch.nn.functional.softplus (beta 1, threshold 20)
  return x > T(20) ? x : std::log1p(std::exp(x));
}
template <typename T>
T softplus_grad(T x) {
  if (x > T(20)) return T(1);
  const T z = std::exp(x);
  return z / (z + T(1));
}

}  // namespace

template <typename T>
struct CpuEngine<T>::Impl {
  struct Level {
    int P = 1, m = 1, U = 1, Up = 0, mi = 0;  // Up, mi: the parent level's U and m (l >= 2)
    std::vector<int> order;
    ConvTaps taps;
    int b_M = -1, b_mask = -1, b_W = -1, b_bW = -1, b_V = -1, b_tau = -1;
    int b_lin = -1, b_quad = -1, b_cubic = -1, b_quartic = -1, b_cross = -1;
    std::size_t M = 0, mask = 0, W = 0, bW = 0, V = 0, tau = 0, readout = 0;
    ReadoutLayout ro;
    // Effective (normalised) parameters and their norms.
    std::vector<T> Meff, mnorm, Veff, vnorm;
    std::vector<T> biasx, maskx;  // b_l and mask_l repeated over the k^2 taps (kernel-2 epilogue)
    // Activations: D rows are 2B samples (real [0, B), fake [B, 2B)); generator rows B samples.
    std::vector<T> X, u, du, t, dX, S, dS, col, pre;
    std::vector<T> tq, wu;  // full quadratic: (2B, P U) scratch
    // Optimal read-outs: feature means and coefficients per half-batch block.
    std::vector<T> F[4], C[4];
    std::vector<T> scales;  // optimal read-out: the last scale of each feature group
    // During one parallel region (parallel_with_cross): the cross weights of each source the
    // region reads (crossT_src[k]: theta's read-outs, or an optimal block's), transposed per parent
    // position q into U' x 4U blocks.
    std::vector<const T*> crossT_src;
    std::vector<std::vector<T>> crossT;
  };

  // One thread's scratch and gradient accumulators (the sums over its samples).
  struct Ctx {
    T* g = nullptr;      // grad itself with one thread, else `own`
    std::vector<T> own;  // this thread's gradient sums (several threads)
    std::vector<T> tmp, ones, colsum, wu, dthr;
    std::vector<std::vector<T>> F;  // optimal read-out features per (level, block)
  };

  ModelShape s;
  ModelOptions o;
  ThreadPool pool;
  std::vector<Ctx> ctx;
  int B = 1;
  std::vector<Block> blocks;
  std::map<std::string, int> by_name;
  std::vector<T> theta, grad, mom1, mom2;
  int b_A = -1, b_Amask = -1, b_b1 = -1;
  std::vector<Level> L;                    // L[l - 1]
  std::vector<T> Aeff, anorm, thr, umask;  // umask: mask_1 of each first-layer unit
  std::vector<T> f, w, zbuf;
  StageLevels stage;
  bool frozen_scales = false;
  int chunk = 1;       // samples per chunk of a pass (for_chunks)
  int lo = 1, t0 = 1;  // lowest discriminator level (parents of `first`), lowest trained level
  std::vector<bool> trained;

  Impl(const ModelShape& shape, const ModelOptions& options)
      : s(shape), o(options), pool(options.threads) {
    validate(s);
    require_int_in_range("sgda.batch", o.batch, 1, 1 << 22);
    require_int_in_range("sgda.d_steps", o.d_steps, 1, 100);
    if (o.readout == Readout::kOptimal && o.batch < 2)
      fail_field("sgda.batch", o.batch, "must be >= 2 for optimal read-outs (split halves)");
    if (o.independent_units && s.latent_dim < s.first_layer_units())
      fail_field("generator.latent_dim", s.latent_dim,
                 "must be >= n_hat_1 = " + std::to_string(s.first_layer_units()) + " for independent units");
    B = o.batch;
    const int nl = s.levels, d = s.patch_dim(), k = s.kernel, kk = k * k, n1 = s.first_layer_units(), m0 = s.latent_dim;
    L.resize(nl);
    std::size_t pos = 0;
    auto add = [&](const std::string& name, std::vector<std::int64_t> shape, Role role, int level) {
      Block b;
      b.name = name;
      b.shape = std::move(shape);
      b.role = role;
      b.level = level;
      b.size = 1;
      for (auto e : b.shape) b.size *= std::size_t(e);
      b.offset = pos;
      pos += b.size;
      by_name[name] = int(blocks.size());
      blocks.push_back(std::move(b));
      return int(blocks.size()) - 1;
    };
    for (int l = 1; l <= nl; ++l) {
      Level& lv = L[l - 1];
      lv.P = s.patches_at(l);
      lv.m = s.channels[l - 1];
      lv.U = s.units[l - 1];
      if (l >= 2) {
        lv.Up = s.units[l - 2];
        lv.mi = s.channels[l - 2];
        lv.taps = conv_taps(s.grid_at(l - 1), k);
      }
      lv.order = patch_order(s, l);
    }
    // Generator (canonical order of gda/networks.h), then discriminator.
    const int P1 = L[0].P, m1 = L[0].m;
    auto unit_perm = [&](int cols) {  // canonical row c P1 + p -> internal row p m1 + c
      std::vector<std::uint32_t> perm(std::size_t(n1) * cols);
      for (int c = 0; c < m1; ++c)
        for (int p = 0; p < P1; ++p)
          for (int j = 0; j < cols; ++j)
            perm[(std::size_t(c) * P1 + p) * cols + j] = (std::size_t(p) * m1 + c) * cols + j;
      return perm;
    };
    b_A = add("A", {n1, m0}, Role::kGenerator, 1);
    blocks[b_A].perm = unit_perm(m0);
    b_Amask = add("A_mask", {n1, m0}, Role::kBuffer, 1);
    blocks[b_Amask].perm = blocks[b_A].perm;
    b_b1 = add("b1", {n1}, Role::kGenerator, 1);
    blocks[b_b1].perm = unit_perm(1);
    for (int l = 1; l <= nl; ++l) {
      Level& lv = L[l - 1];
      const std::string n = std::to_string(l);
      lv.b_M = add("M" + n, {d, lv.m}, Role::kGenerator, l);
      lv.b_mask = add("mask" + n, {lv.m}, Role::kBuffer, l);
      if (l >= 2) {
        lv.b_W = add("W" + n, {lv.mi, lv.m, k, k}, Role::kGenerator, l);
        auto& perm = blocks[lv.b_W].perm;  // (i, o, ky, kx) -> i (k^2 m) + (ky k + kx) m + o
        perm.resize(blocks[lv.b_W].size);
        for (int i = 0; i < lv.mi; ++i)
          for (int oc = 0; oc < lv.m; ++oc)
            for (int t = 0; t < kk; ++t)
              perm[(std::size_t(i) * lv.m + oc) * kk + t] =
                  std::size_t(i) * kk * lv.m + t * lv.m + oc;
        lv.b_bW = add("bW" + n, {lv.m}, Role::kGenerator, l);
      }
    }
    for (int l = 1; l <= nl; ++l) {
      Level& lv = L[l - 1];
      const std::string n = std::to_string(l);
      const int P = lv.P, U = lv.U;
      lv.b_V = add("V" + n, {U, d}, Role::kDiscriminator, l);
      lv.b_tau = add("tau" + n, {U}, Role::kDiscriminator, l);
      auto by_patch = [&](int b, std::size_t width) {
        auto& perm = blocks[b].perm;
        perm.resize(blocks[b].size);
        for (int p = 0; p < P; ++p)
          for (std::size_t j = 0; j < width; ++j)
            perm[std::size_t(p) * width + j] = std::size_t(lv.order[p]) * width + j;
      };
      lv.b_lin = add("lin" + n, {P, U}, Role::kReadout, l);
      by_patch(lv.b_lin, U);
      if (o.quadratic == Quadratic::kDiag) {
        lv.b_quad = add("quad" + n, {P, U}, Role::kReadout, l);
        by_patch(lv.b_quad, U);
      } else if (o.quadratic == Quadratic::kFull) {
        const std::int64_t PU = std::int64_t(P) * U;
        lv.b_quad = add("quad" + n, {PU, PU}, Role::kReadout, l);
        auto& perm = blocks[lv.b_quad].perm;
        perm.resize(blocks[lv.b_quad].size);
        for (int p = 0; p < P; ++p)
          for (int i = 0; i < U; ++i)
            for (int q = 0; q < P; ++q)
              for (int j = 0; j < U; ++j)
                perm[(std::size_t(p) * U + i) * PU + std::size_t(q) * U + j] =
                    (std::size_t(lv.order[p]) * U + i) * PU + std::size_t(lv.order[q]) * U + j;
      }
      if (o.cubic) {
        lv.b_cubic = add("cubic" + n, {P, U}, Role::kReadout, l);
        by_patch(lv.b_cubic, U);
      }
      if (o.quartic) {
        lv.b_quartic = add("quartic" + n, {P, U}, Role::kReadout, l);
        by_patch(lv.b_quartic, U);
      }
      if (o.cross_scale && l >= 2) {
        lv.b_cross = add("cross" + n, {P, U, lv.Up}, Role::kReadout, l);
        by_patch(lv.b_cross, std::size_t(U) * lv.Up);
      }
      // The read-out layout, relative to lin's offset (the blocks above are contiguous).
      ReadoutLayout& r = lv.ro;
      const std::size_t base = blocks[lv.b_lin].offset;
      r.n_lin = blocks[lv.b_lin].size;
      r.lin = 0;
      r.quad = lv.b_quad >= 0 ? blocks[lv.b_quad].offset - base : 0;
      r.n_quad = lv.b_quad >= 0 ? blocks[lv.b_quad].size : 0;
      r.cubic = lv.b_cubic >= 0 ? blocks[lv.b_cubic].offset - base : 0;
      r.n_cubic = lv.b_cubic >= 0 ? blocks[lv.b_cubic].size : 0;
      r.quartic = lv.b_quartic >= 0 ? blocks[lv.b_quartic].offset - base : 0;
      r.n_quartic = lv.b_quartic >= 0 ? blocks[lv.b_quartic].size : 0;
      r.cross = lv.b_cross >= 0 ? blocks[lv.b_cross].offset - base : 0;
      r.n_cross = lv.b_cross >= 0 ? blocks[lv.b_cross].size : 0;
      r.size = pos - base;
      lv.readout = base;
    }
    theta.assign(pos, T(0));
    grad.assign(pos, T(0));
    mom1.assign(pos, T(0));
    mom2.assign(pos, T(0));
    for (int l = 1; l <= nl; ++l) {
      Level& lv = L[l - 1];
      lv.M = blocks[lv.b_M].offset;
      lv.mask = blocks[lv.b_mask].offset;
      if (l >= 2) {
        lv.W = blocks[lv.b_W].offset;
        lv.bW = blocks[lv.b_bW].offset;
      }
      lv.V = blocks[lv.b_V].offset;
      lv.tau = blocks[lv.b_tau].offset;
      std::fill_n(theta.begin() + lv.mask, lv.m, T(1));
    }
    // A_mask: ones, or the identity (canonical unit u uses latent u) for independent units.
    {
      const Block& bm = blocks[b_Amask];
      for (std::size_t i = 0; i < bm.size; ++i) {
        const std::size_t u = i / m0, j = i % m0;
        theta[bm.offset + bm.at(i)] = o.independent_units ? T(u == j) : T(1);
      }
    }
    // Buffers.
    for (int l = 1; l <= nl; ++l) {
      Level& lv = L[l - 1];
      const std::size_t P = lv.P, m = lv.m, U = lv.U, rows2 = 2 * std::size_t(B) * P;
      lv.Meff.assign(std::size_t(d) * m, T(0));
      if (l >= 2) {
        lv.biasx.assign(std::size_t(kk) * m, T(0));
        lv.maskx.assign(std::size_t(kk) * m, T(1));
      }
      lv.mnorm.assign(m, T(1));
      lv.Veff.assign(U * d, T(0));
      lv.vnorm.assign(U, T(1));
      lv.X.assign(rows2 * d, T(0));
      lv.dX.assign(rows2 * d, T(0));
      lv.u.assign(rows2 * U, T(0));
      lv.du.assign(rows2 * U, T(0));
      if (l >= 2) lv.t.assign(rows2 * U, T(0));
      lv.S.assign(std::size_t(B) * P * m, T(0));
      lv.dS.assign(std::size_t(B) * P * m, T(0));
      if (l >= 2) lv.col.assign(std::size_t(B) * L[l - 2].P * kk * m, T(0));
      if (o.quadratic == Quadratic::kFull) {
        lv.tq.assign(rows2 * U, T(0));  // (2B) x (P U)
        lv.wu.assign(rows2 * U, T(0));
      }
      if (o.readout == Readout::kOptimal)
        for (int b = 0; b < 4; ++b) {
          lv.F[b].assign(lv.ro.size, T(0));
          lv.C[b].assign(lv.ro.size, T(0));
        }
    }
    Aeff.assign(std::size_t(n1) * m0, T(0));
    umask.assign(n1, T(1));
    anorm.assign(n1, T(1));
    thr.assign(n1, T(0));
    f.assign(2 * std::size_t(B), T(0));
    w.assign(2 * std::size_t(B), T(0));
    zbuf.assign(std::size_t(B) * m0, T(0));
    // Chunks of about 256 kB of activations per half batch (the L2 cache holds both halves and
    // what a pass writes): per sample, P_l (d + 3 U_l + 2 m_l) floats at every level.
    std::size_t per_sample = 0;
    for (const Level& lv : L) per_sample += std::size_t(lv.P) * (d + 3 * lv.U + 2 * lv.m);
    chunk =
        o.chunk_samples > 0
            ? o.chunk_samples
            : int(std::clamp<std::size_t>((std::size_t(1) << 16) / per_sample, 8, std::size_t(B)));
    ctx.resize(pool.size());
    for (Ctx& cx : ctx) {
      if (pool.size() > 1) cx.own.assign(theta.size(), T(0));
      cx.g = pool.size() > 1 ? cx.own.data() : grad.data();
      cx.dthr.assign(n1, T(0));
      cx.F.resize(std::size_t(nl) * 4);
    }
    trained.assign(nl + 1, false);
    refresh();
  }

  // ---- parameters -------------------------------------------------------------------------------

  const Block& block(const std::string& name) const {
    auto it = by_name.find(name);
    if (it == by_name.end()) fail_field("parameter", name, "is not a tensor of this model");
    return blocks[it->second];
  }

  NamedTensor<double> export_block(const Block& b, const std::vector<T>& from) const {
    NamedTensor<double> t{b.name, b.shape, std::vector<double>(b.size)};
    for (std::size_t i = 0; i < b.size; ++i) t.data[i] = double(from[b.offset + b.at(i)]);
    return t;
  }

  void import_block(const Block& b, const std::vector<double>& values, std::vector<T>& to) {
    if (values.size() != b.size)
      fail_field(b.name + ".size", values.size(),
                 "must be " + std::to_string(b.size) + " " + format_shape(b.shape));
    for (std::size_t i = 0; i < b.size; ++i) to[b.offset + b.at(i)] = T(values[i]);
  }

  // Effective parameters: Â, its row norms and the thresholds β; M̂_l, V̂_l.
  void refresh_generator() {
    const int n1 = s.first_layer_units(), m0 = s.latent_dim;
    const T* A = theta.data() + blocks[b_A].offset;
    const T* mask = theta.data() + blocks[b_Amask].offset;
    const T* b1 = theta.data() + blocks[b_b1].offset;
    for (int u = 0; u < n1; ++u) {
      T acc = 0;
      for (int j = 0; j < m0; ++j) {
        const T v = A[std::size_t(u) * m0 + j] * mask[std::size_t(u) * m0 + j];
        Aeff[std::size_t(u) * m0 + j] = v;
        acc += v * v;
      }
      anorm[u] = std::sqrt(acc);
      thr[u] = o.relative_threshold ? b1[u] * anorm[u] : b1[u];
      umask[u] = theta[L[0].mask + u % L[0].m];
    }
    const int d = s.patch_dim(), kk = s.kernel * s.kernel;
    for (Level& lv : L) {
      if (lv.mi > 0)
        for (int t = 0; t < kk; ++t)
          for (int c = 0; c < lv.m; ++c) {
            lv.biasx[t * lv.m + c] = theta[lv.bW + c];
            lv.maskx[t * lv.m + c] = theta[lv.mask + c];
          }
      const T* M = theta.data() + lv.M;
      for (int j = 0; j < lv.m; ++j) {
        T acc = 0;
        for (int r = 0; r < d; ++r)
          acc += M[std::size_t(r) * lv.m + j] * M[std::size_t(r) * lv.m + j];
        lv.mnorm[j] = o.unit_norm_columns ? std::sqrt(acc) : T(1);
      }
      for (int r = 0; r < d; ++r)
        for (int j = 0; j < lv.m; ++j)
          lv.Meff[std::size_t(r) * lv.m + j] = o.unit_norm_columns
                                                   ? M[std::size_t(r) * lv.m + j] / lv.mnorm[j]
                                                   : M[std::size_t(r) * lv.m + j];
    }
  }
  void refresh_discriminator() {
    const int d = s.patch_dim();
    for (Level& lv : L) {
      const T* V = theta.data() + lv.V;
      for (int i = 0; i < lv.U; ++i) {
        T acc = 0;
        for (int c = 0; c < d; ++c) acc += V[std::size_t(i) * d + c] * V[std::size_t(i) * d + c];
        lv.vnorm[i] = o.unit_norm_rows ? std::sqrt(acc) : T(1);
        for (int c = 0; c < d; ++c)
          lv.Veff[std::size_t(i) * d + c] = o.unit_norm_rows
                                                ? V[std::size_t(i) * d + c] / lv.vnorm[i]
                                                : V[std::size_t(i) * d + c];
      }
    }
  }
  void refresh() {
    refresh_generator();
    refresh_discriminator();
  }

  // ---- generator --------------------------------------------------------------------------------

  // S_1..S_last for latents z (B x m0) of generator samples [n0, n1), and X_l for l in
  // [xfrom, last] into the fake half (discriminator samples B + n) of the discriminator rows.
  // With `pre`, also the pre-activations of levels >= 2 (before bias, ReLU and mask).
  void forward_generator(const T* z, int last, int xfrom, int n0, int n1, bool with_pre = false) {
    const int N1 = s.first_layer_units(), m0 = s.latent_dim, d = s.patch_dim(), k = s.kernel, kk = k * k;
    const int n = n1 - n0;
    if (n <= 0) return;
    {
      Epilogue<T> ep;
      ep.bias = thr.data();
      ep.relu = true;
      ep.scale = umask.data();
      gemm_nt<T>(n, N1, m0, z + std::size_t(n0) * m0, m0, Aeff.data(), m0,
                 L[0].S.data() + std::size_t(n0) * N1, N1, false, &ep);
    }
    for (int l = 2; l <= last; ++l) {
      Level& lv = L[l - 1];
      const Level& pv = L[l - 2];
      const int mi = lv.mi, mo = lv.m, hi = s.grid_at(l - 1), ho = 2 * hi, kmo = kk * mo;
      const std::size_t Pi = pv.P, Po = lv.P, rin = std::size_t(n) * Pi;
      const T* sin = pv.S.data() + std::size_t(n0) * Pi * mi;
      T* sout = lv.S.data() + std::size_t(n0) * Po * mo;
      if (k == 2) {
        // Kernel 2 writes each input position's four children, which the quadtree order stores
        // as rows 4q..4q+3 of S_l: the product's row q, laid out (child, channel), is S_l's
        // memory as it stands. One product with bias + ReLU + mask on the way out, no gather.
        if (with_pre)
          gemm_nn<T>(rin, kmo, mi, sin, mi, theta.data() + lv.W, kmo,
                     lv.pre.data() + std::size_t(n0) * Po * mo, kmo, false);
        Epilogue<T> ep;
        ep.bias = lv.biasx.data();
        ep.scale = lv.maskx.data();
        ep.relu = true;
        gemm_nn<T>(rin, kmo, mi, sin, mi, theta.data() + lv.W, kmo, sout, kmo, false, &ep);
        continue;
      }
      T* col = lv.col.data() + std::size_t(n0) * Pi * kmo;
      gemm_nn<T>(rin, kmo, mi, sin, mi, theta.data() + lv.W, kmo, col, kmo, false);
      // Fused col2im (a gather: each output pixel sums its <= 4 taps) + bias + ReLU + mask.
      const T* bias = theta.data() + lv.bW;
      const T* mask = theta.data() + lv.mask;
      const int* tin = lv.taps.in.data();
      const int* tk = lv.taps.k.data();
      const int* tc = lv.taps.count.data();
      const int* oin = pv.order.data();
      const int* oout = lv.order.data();
      for (int i = 0; i < n; ++i)
        for (int y = 0; y < ho; ++y)
          for (int x = 0; x < ho; ++x) {
            T* os = sout + (i * Po + oout[y * ho + x]) * mo;
            for (int c = 0; c < mo; ++c) os[c] = T(0);
            for (int a = 0; a < tc[y]; ++a)
              for (int b = 0; b < tc[x]; ++b) {
                const T* src = col + (i * Pi + oin[tin[2 * y + a] * hi + tin[2 * x + b]]) * kmo +
                               (tk[2 * y + a] * k + tk[2 * x + b]) * mo;
                for (int c = 0; c < mo; ++c) os[c] += src[c];
              }
            if (with_pre)
              std::copy_n(os, mo, lv.pre.data() + ((n0 + i) * Po + oout[y * ho + x]) * mo);
            for (int c = 0; c < mo; ++c) os[c] = std::max(os[c] - bias[c], T(0)) * mask[c];
          }
    }
    for (int l = std::max(1, xfrom); l <= last; ++l) {
      Level& lv = L[l - 1];
      const std::size_t r0 = std::size_t(n0) * lv.P, rows = std::size_t(n) * lv.P;
      gemm_nt<T>(rows, d, lv.m, lv.S.data() + r0 * lv.m, lv.m, lv.Meff.data(), lv.m,
                 lv.X.data() + (std::size_t(B) * lv.P + r0) * d, d, false);
    }
  }

  // Gradients of the generator parameters of the trained levels from dX of the fake samples
  // [n0, n1) at levels [xfrom, last] (xfrom >= t0), down to level t0, added to this thread's
  // accumulators (before the normalisation and threshold terms: finish_generator_gradient). dS_l
  // collects what level l + 1 sends down and dX_l M̂_l; whichever product writes it last also
  // applies the ReLU gate S_l > 0.
  void backward_generator(const T* z, int last, int xfrom, int n0, int n1, Ctx& cx) {
    const int d = s.patch_dim(), k = s.kernel, kk = k * k, pad = s.padding();
    const int n = n1 - n0;
    T* g = cx.g;
    const T* th = theta.data();
    for (int l = last; l >= t0; --l) {
      Level& lv = L[l - 1];
      const std::size_t r0 = std::size_t(n0) * lv.P, rows = std::size_t(n) * lv.P;
      const int m = lv.m;
      T* dS = lv.dS.data() + r0 * m;
      const T* S = lv.S.data() + r0 * m;
      const T* dX = lv.dX.data() + (std::size_t(B) * lv.P + r0) * d;  // fake half
      if (n > 0 && l >= xfrom) {
        Epilogue<T> gate;
        gate.gate = S;
        gate.ldg = m;
        gemm_nn<T>(rows, m, d, dX, d, lv.Meff.data(), m, dS, m, l < last, &gate);
      }
      if (trained[l] && l >= xfrom)
        gemm_tn<T>(d, m, rows, dX, d, S, m, g + lv.M, m, true);  // dM̂ += dX^T S
      if (l >= 2) {
        const Level& pv = L[l - 2];
        const int mi = lv.mi, mo = m, hi = s.grid_at(l - 1), ho = 2 * hi, kmo = kk * mo;
        if (trained[l]) column_sums(rows, mo, dS, g + lv.bW, cx, T(-1));
        const bool down = l - 1 >= t0;
        if (!trained[l] && !down) continue;
        const std::size_t Pi = pv.P, Po = lv.P, rin = std::size_t(n) * Pi;
        // dCol = im2col(dpre): the tap (ky, kx) of input (iy, ix) reads output (2iy+ky-pad, ...).
        // Kernel 2: dpre's memory is dCol already (forward_generator).
        T* dcol = dS;
        if (k != 2) {
          dcol = lv.col.data() + std::size_t(n0) * Pi * kmo;
          const int* oin = pv.order.data();
          const int* oout = lv.order.data();
          for (int i = 0; i < n; ++i)
            for (int iy = 0; iy < hi; ++iy)
              for (int ix = 0; ix < hi; ++ix) {
                T* dst = dcol + (i * Pi + oin[iy * hi + ix]) * kmo;
                for (int ky = 0; ky < k; ++ky) {
                  const int y = 2 * iy + ky - pad;
                  for (int kx = 0; kx < k; ++kx) {
                    const int x = 2 * ix + kx - pad;
                    T* od = dst + (ky * k + kx) * mo;
                    if (y < 0 || y >= ho || x < 0 || x >= ho)
                      std::fill_n(od, mo, T(0));
                    else
                      std::memcpy(od, dS + (i * Po + oout[y * ho + x]) * mo, mo * sizeof(T));
                  }
                }
              }
        }
        const T* sprev = pv.S.data() + std::size_t(n0) * Pi * mi;
        if (trained[l]) gemm_tn<T>(mi, kmo, rin, sprev, mi, dcol, kmo, g + lv.W, kmo, true);
        if (down && n > 0) {
          Epilogue<T> gate;  // level l - 1 gets nothing more when the discriminator skips X_{l-1}
          gate.gate = sprev;
          gate.ldg = mi;
          gemm_nt<T>(rin, mi, kmo, dcol, kmo, th + lv.W, kmo,
                     L[l - 2].dS.data() + std::size_t(n0) * Pi * mi, mi, false,
                     l - 1 < xfrom ? &gate : nullptr);
        }
      } else if (trained[1]) {
        const int N1 = s.first_layer_units(), m0 = s.latent_dim;
        column_sums(n, N1, dS, cx.dthr.data(), cx, T(-1));  // dβ, -sum of dpre per unit
        gemm_tn<T>(N1, m0, n, dS, N1, z + std::size_t(n0) * m0, m0, g + blocks[b_A].offset, m0,
                   true);
      }
    }
  }

  // After the threads' sums: dM from dM̂ (column normalisation); dA, db_1 from dÂ, dβ (relative
  // thresholds and A_mask).
  void finish_generator_gradient() {
    const int d = s.patch_dim();
    T* g = grad.data();
    for (int l = t0; l <= stage.last; ++l) {
      Level& lv = L[l - 1];
      if (!trained[l] || !o.unit_norm_columns) continue;
      const int m = lv.m;
      T* dM = g + lv.M;
      for (int j = 0; j < m; ++j) {
        T dot = 0;
        for (int r = 0; r < d; ++r)
          dot += dM[std::size_t(r) * m + j] * lv.Meff[std::size_t(r) * m + j];
        for (int r = 0; r < d; ++r)
          dM[std::size_t(r) * m + j] =
              (dM[std::size_t(r) * m + j] - lv.Meff[std::size_t(r) * m + j] * dot) / lv.mnorm[j];
      }
    }
    if (!trained[1]) return;
    const int N1 = s.first_layer_units(), m0 = s.latent_dim;
    T* db = g + blocks[b_b1].offset;
    T* dA = g + blocks[b_A].offset;
    const T* b1 = theta.data() + blocks[b_b1].offset;
    const T* amask = theta.data() + blocks[b_Amask].offset;
    std::vector<T>& dthr = ctx[0].dthr;
    for (std::size_t t = 1; t < ctx.size(); ++t)
      for (int u = 0; u < N1; ++u) dthr[u] += ctx[t].dthr[u];
    for (int u = 0; u < N1; ++u) {
      if (o.relative_threshold) {
        db[u] = dthr[u] * anorm[u];
        const T c = dthr[u] * b1[u] / anorm[u];
        for (int j = 0; j < m0; ++j)
          dA[std::size_t(u) * m0 + j] += c * Aeff[std::size_t(u) * m0 + j];
      } else {
        db[u] = dthr[u];
      }
      for (int j = 0; j < m0; ++j) dA[std::size_t(u) * m0 + j] *= amask[std::size_t(u) * m0 + j];
    }
  }

  // out (n) += sign * the column sums of x (rows x n, row-major), as a product with ones.
  void column_sums(std::size_t rows, int n, const T* x, T* out, Ctx& cx, T sign) {
    if (rows == 0) return;
    if (cx.ones.size() < rows) cx.ones.assign(rows, T(1));
    cx.colsum.resize(std::max<std::size_t>(cx.colsum.size(), n));
    gemm_tn<T>(1, n, rows, cx.ones.data(), 1, x, n, cx.colsum.data(), n, false);
    for (int j = 0; j < n; ++j) out[j] += sign * cx.colsum[j];
  }

  // ---- discriminator ----------------------------------------------------------------------------

  // u = ReLU(X V̂^T - τ) for samples [s0, s1) of level l.
  void decode(int l, int s0, int s1) {
    Level& lv = L[l - 1];
    const int d = s.patch_dim(), U = lv.U;
    const std::size_t r0 = std::size_t(s0) * lv.P, rows = std::size_t(s1 - s0) * lv.P;
    if (rows == 0) return;
    Epilogue<T> relu;
    relu.bias = theta.data() + lv.tau;
    relu.relu = true;
    gemm_nt<T>(rows, U, d, lv.X.data() + r0 * d, d, lv.Veff.data(), d, lv.u.data() + r0 * U, U,
               false, &relu);
  }

  // t[i, 4q + c, :] = u'[i, q, :] C[4q + c]^T for samples [s0, s1): the cross-scale products of
  // level l with the parent codes, for cross weights C (P x U x U', quadtree rows).
  void cross_forward(int l, int s0, int s1, const T* C) {
    Level& lv = L[l - 1];
    const Level& pv = L[l - 2];
    const int U = lv.U, Up = lv.Up, Pp = pv.P;
    const int n = s1 - s0;
    const T* CT = nullptr;  // C transposed for this region (prepare_cross), if it is
    for (std::size_t k = 0; k < lv.crossT_src.size(); ++k)
      if (lv.crossT_src[k] == C) CT = lv.crossT[k].data();
    for (int q = 0; q < Pp; ++q) {
      const T* a = pv.u.data() + (std::size_t(s0) * Pp + q) * Up;
      T* out = lv.t.data() + (std::size_t(s0) * lv.P + 4 * q) * U;
      if (CT)
        gemm_nn<T>(n, 4 * U, Up, a, std::ptrdiff_t(Pp) * Up, CT + std::size_t(4 * q) * U * Up,
                   4 * U, out, std::ptrdiff_t(lv.P) * U, false);
      else
        gemm_nt<T>(n, 4 * U, Up, a, std::ptrdiff_t(Pp) * Up, C + std::size_t(4 * q) * U * Up, Up,
                   out, std::ptrdiff_t(lv.P) * U, false);
    }
  }

  // Before a parallel region whose chunks run cross_forward: the cross weights of every source
  // the region can read, transposed once (U' x 4U per parent position), so that no chunk
  // transposes them again — per chunk of 8 samples that transposition took a third of the
  // 4-level 32x32 step. Built from the values at the region's start and dropped at its end
  // (nothing writes read-outs inside a region), so they are never stale. reads_cross false: a
  // region that runs no cross_forward (the optimal read-outs' feature pass) copies nothing.
  void parallel_with_cross(bool reads_cross, const std::function<void(int)>& fn) {
    if (!reads_cross) return pool.run(fn);
    for (int l = 2; l <= s.levels; ++l) {
      Level& lv = L[l - 1];
      lv.crossT_src.clear();
      if (lv.b_cross < 0) continue;
      if (o.readout == Readout::kLearned) {
        lv.crossT_src.push_back(theta.data() + lv.readout + lv.ro.cross);
      } else {
        for (const std::vector<T>& c : lv.C)
          if (!c.empty()) lv.crossT_src.push_back(c.data() + lv.ro.cross);
      }
      const std::size_t four = std::size_t(4) * lv.U, Up = lv.Up, per_q = four * Up;
      const std::size_t Pp = L[l - 2].P;
      lv.crossT.resize(lv.crossT_src.size());
      for (std::size_t k = 0; k < lv.crossT_src.size(); ++k) {
        const T* c = lv.crossT_src[k];
        std::vector<T>& ct = lv.crossT[k];
        ct.resize(Pp * per_q);
        for (std::size_t q = 0; q < Pp; ++q)
          for (std::size_t r = 0; r < four; ++r)
            for (std::size_t j = 0; j < Up; ++j)
              ct[q * per_q + j * four + r] = c[q * per_q + r * Up + j];
      }
    }
    pool.run(fn);
    for (Level& lv : L) lv.crossT_src.clear();
  }

  // f[i] += D_l(sample i) for samples [s0, s1) with the learned read-outs.
  void score(int l, int s0, int s1) {
    if (s1 <= s0) return;
    Level& lv = L[l - 1];
    const ReadoutLayout& ro = lv.ro;
    const T* R = theta.data() + lv.readout;
    const std::size_t PU = std::size_t(lv.P) * lv.U;
    const bool cross = lv.b_cross >= 0;
    if (cross) cross_forward(l, s0, s1, R + ro.cross);
    if (o.quadratic == Quadratic::kFull)
      gemm_nn<T>(s1 - s0, PU, PU, lv.u.data() + std::size_t(s0) * PU, PU, R + ro.quad, PU,
                 lv.tq.data() + std::size_t(s0) * PU, PU, false);
    ReadoutScore<T> sc;
    sc.n = s1 - s0;
    sc.E = PU;
    sc.u = lv.u.data() + std::size_t(s0) * PU;
    sc.f = f.data() + s0;
    sc.lin = R + ro.lin;
    sc.quad = o.quadratic == Quadratic::kDiag ? R + ro.quad : nullptr;
    sc.cubic = o.cubic ? R + ro.cubic : nullptr;
    sc.quartic = o.quartic ? R + ro.quartic : nullptr;
    sc.t = cross ? lv.t.data() + std::size_t(s0) * PU : nullptr;
    sc.tq = o.quadratic == Quadratic::kFull ? lv.tq.data() + std::size_t(s0) * PU : nullptr;
    readout_score(sc);
  }

  // F += sum over samples [s0, s1) of w_i phi(sample i), phi the read-out features of level l in
  // the read-out layout: u, u^2 (diagonal) or u u^T (full), u^3, u^4, u_p u'_parent(p)^T.
  void features(int l, int s0, int s1, T* F, Ctx& cx) {
    if (s1 <= s0) return;
    Level& lv = L[l - 1];
    const ReadoutLayout& ro = lv.ro;
    const std::size_t PU = std::size_t(lv.P) * lv.U;
    const int n = s1 - s0;
    FeatureSums<T> fs;
    fs.n = n;
    fs.E = PU;
    fs.u = lv.u.data() + std::size_t(s0) * PU;
    fs.w = w.data() + s0;
    fs.lin = F + ro.lin;
    fs.quad = o.quadratic == Quadratic::kDiag ? F + ro.quad : nullptr;
    fs.cubic = o.cubic ? F + ro.cubic : nullptr;
    fs.quartic = o.quartic ? F + ro.quartic : nullptr;
    feature_sums(fs);
    if (o.quadratic == Quadratic::kFull) {
      cx.wu.resize(std::size_t(n) * PU);
      T* wu = cx.wu.data();
      for (int i = s0; i < s1; ++i)
        for (std::size_t j = 0; j < PU; ++j)
          wu[std::size_t(i - s0) * PU + j] = w[i] * lv.u[std::size_t(i) * PU + j];
      gemm_tn<T>(PU, PU, n, wu, PU, lv.u.data() + std::size_t(s0) * PU, PU, F + ro.quad, PU, true);
    }
    if (lv.b_cross >= 0) {
      const Level& pv = L[l - 2];
      const int U = lv.U, Up = lv.Up, Pp = pv.P;
      cx.tmp.resize(std::max(cx.tmp.size(), std::size_t(n) * Up));
      T* wup = cx.tmp.data();
      for (int q = 0; q < Pp; ++q) {
        for (int i = s0; i < s1; ++i) {
          const T* src = pv.u.data() + (std::size_t(i) * Pp + q) * Up;
          T* dst = wup + std::size_t(i - s0) * Up;
          for (int j = 0; j < Up; ++j) dst[j] = w[i] * src[j];
        }
        gemm_tn<T>(4 * U, Up, n, lv.u.data() + (std::size_t(s0) * lv.P + 4 * q) * U,
                   std::ptrdiff_t(lv.P) * U, wup, Up, F + ro.cross + std::size_t(4 * q) * U * Up,
                   Up, true);
      }
    }
  }

  // du for samples [s0, s1) of level l: w_i times the derivative of the read-out R (null: a
  // parent-only level, no read-out of its own), plus what the child level's cross terms sent
  // (has_child), through the ReLU. Then the level's cross terms send w_i C^T u_children to the
  // parent level's du (assigned).
  void backward_level(int l, int s0, int s1, const T* R, bool has_child, Ctx& cx) {
    if (s1 <= s0) return;
    Level& lv = L[l - 1];
    const ReadoutLayout& ro = lv.ro;
    const int U = lv.U;
    const std::size_t P = lv.P, PU = P * U;
    const bool cross = R && lv.b_cross >= 0;
    const bool full = R && o.quadratic == Quadratic::kFull;
    if (cross) cross_forward(l, s0, s1, R + ro.cross);
    if (full) {
      const int n = s1 - s0;
      T* tq = lv.tq.data() + std::size_t(s0) * PU;
      const T* u = lv.u.data() + std::size_t(s0) * PU;
      gemm_nn<T>(n, PU, PU, u, PU, R + ro.quad, PU, tq, PU, false);
      gemm_nt<T>(n, PU, PU, u, PU, R + ro.quad, PU, tq, PU, true);
    }
    ReadoutBackward<T> rb;
    rb.n = s1 - s0;
    rb.E = PU;
    rb.u = lv.u.data() + std::size_t(s0) * PU;
    rb.du = lv.du.data() + std::size_t(s0) * PU;
    rb.w = w.data() + s0;
    if (R) {
      rb.lin = R + ro.lin;
      rb.quad = o.quadratic == Quadratic::kDiag ? R + ro.quad : nullptr;
      rb.cubic = o.cubic ? R + ro.cubic : nullptr;
      rb.quartic = o.quartic ? R + ro.quartic : nullptr;
      rb.t = cross ? lv.t.data() + std::size_t(s0) * PU : nullptr;
      rb.tq = full ? lv.tq.data() + std::size_t(s0) * PU : nullptr;
    }
    rb.child = has_child;
    readout_backward(rb);
    if (cross) {
      // Parent q, children 4q..4q+3: du'_q = w o (u_children C_q) (assigned: each parent once).
      Level& pv = L[l - 2];
      const int Up = lv.Up, Pp = pv.P, n = s1 - s0;
      cx.tmp.resize(std::max(cx.tmp.size(), std::size_t(n) * Up));
      T* out = cx.tmp.data();
      for (int q = 0; q < Pp; ++q) {
        gemm_nn<T>(n, Up, 4 * U, lv.u.data() + (std::size_t(s0) * P + 4 * q) * U,
                   std::ptrdiff_t(P) * U, R + ro.cross + std::size_t(4 * q) * U * Up, Up, out, Up,
                   false);
        for (int i = s0; i < s1; ++i) {
          T* dst = pv.du.data() + (std::size_t(i) * Pp + q) * Up;
          const T* src = out + std::size_t(i - s0) * Up;
          for (int j = 0; j < Up; ++j) dst[j] = w[i] * src[j];
        }
      }
    }
  }

  // dV̂ += du^T X, dτ -= sum du (samples [s0, s1) of level l): the discriminator's own gradients.
  void decoder_gradient(int l, int s0, int s1, Ctx& cx) {
    if (s1 <= s0) return;
    Level& lv = L[l - 1];
    const int d = s.patch_dim(), U = lv.U;
    const std::size_t r0 = std::size_t(s0) * lv.P, rows = std::size_t(s1 - s0) * lv.P;
    gemm_tn<T>(U, d, rows, lv.du.data() + r0 * U, U, lv.X.data() + r0 * d, d, cx.g + lv.V, d, true);
    if (o.learn_threshold) column_sums(rows, U, lv.du.data() + r0 * U, cx.g + lv.tau, cx, T(-1));
  }

  // dX = du V̂ for samples [s0, s1) of level l.
  void input_gradient(int l, int s0, int s1) {
    if (s1 <= s0) return;
    Level& lv = L[l - 1];
    const int d = s.patch_dim(), U = lv.U;
    const std::size_t r0 = std::size_t(s0) * lv.P, rows = std::size_t(s1 - s0) * lv.P;
    gemm_nn<T>(rows, d, U, lv.du.data() + r0 * U, U, lv.Veff.data(), d, lv.dX.data() + r0 * d, d,
               false);
  }

  // dV from dV̂ (row normalisation) for levels [lo, last].
  void finish_decoder_gradient(int lo_level, int last) {
    if (!o.unit_norm_rows) return;
    const int d = s.patch_dim();
    for (int l = lo_level; l <= last; ++l) {
      Level& lv = L[l - 1];
      T* dV = grad.data() + lv.V;
      for (int i = 0; i < lv.U; ++i) {
        T dot = 0;
        for (int c = 0; c < d; ++c)
          dot += dV[std::size_t(i) * d + c] * lv.Veff[std::size_t(i) * d + c];
        for (int c = 0; c < d; ++c)
          dV[std::size_t(i) * d + c] =
              (dV[std::size_t(i) * d + c] - lv.Veff[std::size_t(i) * d + c] * dot) / lv.vnorm[i];
      }
    }
  }

  // ---- losses -----------------------------------------------------------------------------------

  void check_real(const RealBatch<T>& real, int last) const {
    if (int(real.size()) < last)
      fail_field("real.levels", real.size(), "must hold levels 1.." + std::to_string(last));
    for (int l = lo; l <= last; ++l) {
      const std::size_t n = std::size_t(B) * L[l - 1].P * s.patch_dim();
      if (real[l - 1].size() != n)
        fail_field("real[" + std::to_string(l - 1) + "].size", real[l - 1].size(),
                   "must be B P_l d = " + std::to_string(n));
    }
  }
  // Real samples [n0, n1) into the real half of the discriminator rows.
  void load_real(const RealBatch<T>& real, int last, int n0, int n1) {
    for (int l = lo; l <= last; ++l) {
      const std::size_t row = std::size_t(L[l - 1].P) * s.patch_dim();
      std::memcpy(L[l - 1].X.data() + n0 * row, real[l - 1].data() + n0 * row,
                  std::size_t(n1 - n0) * row * sizeof(T));
    }
  }

  // A run of discriminator samples [s0, s1) with its read-out block b (optimal: real A, real B,
  // fake A, fake B; learned: 0).
  struct Span {
    int s0, s1, block;
  };
  std::array<Span, 4> halves() const {
    const int h = B / 2;
    return {Span{0, h, 0}, Span{h, 2 * h, 1}, Span{B, B + h, 2}, Span{B + h, B + 2 * h, 3}};
  }
  // The part of a span (within the real or the fake half) in samples [a, b) of the half.
  Span part(const Span& sp, int a, int b) const {
    const int base = sp.s0 >= B ? B : 0;
    return {std::max(sp.s0, base + a), std::min(sp.s1, base + b), sp.block};
  }
  // Thread t's share of the batch, in chunks of `chunk` samples: every pass of a step runs chunk
  // by chunk, so a chunk's activations are still in the cache when the next pass reads them.
  template <typename Fn>
  void for_chunks(int t, Fn&& fn) const {
    const auto [a, b] = share(t, pool.size(), B);
    for (int c0 = a; c0 < b; c0 += chunk) fn(c0, std::min(b, c0 + chunk));
  }

  // The optimal read-out's loss L = sum_groups <F_rA - F_fA, F_rB - F_fB> / scale (features of
  // every level in [first, last] already in Level::F) and its coefficients dL/dF per block.
  T optimal_loss() {
    T total = 0;
    for (int l = stage.first; l <= stage.last; ++l) {
      Level& lv = L[l - 1];
      const ReadoutLayout& ro = lv.ro;
      lv.scales.resize(5, T(1));
      int gi = 0;
      auto group = [&](std::size_t off, std::size_t n) {
        if (n == 0) return;
        const int g = gi++;
        const T *ra = lv.F[0].data() + off, *rb = lv.F[1].data() + off;
        const T *fa = lv.F[2].data() + off, *fb = lv.F[3].data() + off;
        T scale = 0, dot = 0;
        for (std::size_t j = 0; j < n; ++j) {
          const T mean = T(0.5) * (ra[j] + rb[j]);
          scale += mean * mean;
        }
        scale += T(1e-8);
        if (frozen_scales)
          scale = lv.scales[g];
        else
          lv.scales[g] = scale;
        for (std::size_t j = 0; j < n; ++j) dot += (ra[j] - fa[j]) * (rb[j] - fb[j]);
        total += dot / scale;
        for (std::size_t j = 0; j < n; ++j) {
          const T cA = (rb[j] - fb[j]) / scale, cB = (ra[j] - fa[j]) / scale;
          lv.C[0][off + j] = cA;
          lv.C[1][off + j] = cB;
          lv.C[2][off + j] = -cA;
          lv.C[3][off + j] = -cB;
        }
      };
      group(ro.lin, ro.n_lin);
      group(ro.quad, ro.n_quad);
      group(ro.cubic, ro.n_cubic);
      group(ro.quartic, ro.n_quartic);
      group(ro.cross, ro.n_cross);
    }
    return total;
  }

  T penalty() const {
    if (o.readout != Readout::kLearned || !(o.penalty_weight > 0)) return 0;
    T acc = 0;
    for (const Block& b : blocks)
      if (b.role == Role::kReadout)
        for (std::size_t i = 0; i < b.size; ++i) acc += theta[b.offset + i] * theta[b.offset + i];
    return T(o.penalty_weight) * acc;
  }

  // Samples [a, b) of each half: their part of the optimal read-out's features (weights 1/h) of
  // the four half-batch blocks, levels [first, last], added to Level::F with one thread, else to
  // thread t's own sums (zeroed by zero_features).
  void optimal_features(int t, int a, int b) {
    const auto hs = halves();
    const T inv = T(1) / T(B / 2);
    Ctx& cx = ctx[t];
    for (int l = stage.first; l <= stage.last; ++l)
      for (int k = 0; k < 4; ++k) {
        const Span sp = part(hs[k], a, b);
        for (int i = sp.s0; i < sp.s1; ++i) w[i] = inv;
        features(l, sp.s0, sp.s1, feature_target(cx, l, k), cx);
      }
  }
  void zero_features() {
    for (Ctx& cx : ctx)
      for (int l = stage.first; l <= stage.last; ++l)
        for (int k = 0; k < 4; ++k) std::fill_n(feature_target(cx, l, k), L[l - 1].ro.size, T(0));
  }
  T* feature_target(Ctx& cx, int l, int b) {
    if (pool.size() == 1) return L[l - 1].F[b].data();
    auto& v = cx.F[std::size_t(l - 1) * 4 + b];
    v.resize(L[l - 1].ro.size);
    return v.data();
  }
  void reduce_features() {
    if (pool.size() == 1) return;
    for (int l = stage.first; l <= stage.last; ++l)
      for (int b = 0; b < 4; ++b) {
        std::vector<T>& F = L[l - 1].F[b];
        std::copy_n(ctx[0].F[std::size_t(l - 1) * 4 + b].begin(), F.size(), F.begin());
        for (std::size_t t = 1; t < ctx.size(); ++t) {
          const T* src = ctx[t].F[std::size_t(l - 1) * 4 + b].data();
          for (std::size_t j = 0; j < F.size(); ++j) F[j] += src[j];
        }
      }
  }

  // Zeroes every thread's accumulators of the blocks that have a gradient on this side, and
  // after the parallel pass sums them into grad, in thread order.
  void zero_gradients(bool generator) {
    for (Ctx& cx : ctx)
      for (const Block& b : blocks)
        if (b.has_grad && (b.role == Role::kGenerator) == generator && b.role != Role::kBuffer)
          std::fill_n(cx.g + b.offset, b.size, T(0));
    if (generator)
      for (Ctx& cx : ctx) std::fill(cx.dthr.begin(), cx.dthr.end(), T(0));
  }
  void reduce_gradients(bool generator) {
    if (pool.size() == 1) return;
    for (const Block& b : blocks) {
      if (!b.has_grad || (b.role == Role::kGenerator) != generator || b.role == Role::kBuffer)
        continue;
      T* dst = grad.data() + b.offset;
      std::copy_n(ctx[0].g + b.offset, b.size, dst);
      for (std::size_t t = 1; t < ctx.size(); ++t) {
        const T* src = ctx[t].g + b.offset;
        for (std::size_t i = 0; i < b.size; ++i) dst[i] += src[i];
      }
    }
  }

  // Backward through the discriminator for samples [a, b) of each half (thread t), levels
  // last..lo, over the spans with their read-outs (learned: theta's; optimal: the block
  // coefficients), weights w already set. Parameter gradients (D step) and/or input gradients dX
  // of the fake samples (G step, levels >= xfrom).
  void backward_discriminator(int t, int a, int b, const std::vector<Span>& spans, bool param_grads,
                              bool input_grads, int xfrom) {
    const int last = stage.last, first = stage.first;
    Ctx& cx = ctx[t];
    for (int l = last; l >= lo; --l) {
      Level& lv = L[l - 1];
      const bool has_child = o.cross_scale && l < last;
      for (const Span& whole : spans) {
        const Span sp = part(whole, a, b);
        const T* R = nullptr;
        if (l >= first)
          R = o.readout == Readout::kLearned ? theta.data() + lv.readout : lv.C[sp.block].data();
        backward_level(l, sp.s0, sp.s1, R, has_child, cx);
        if (param_grads) {
          decoder_gradient(l, sp.s0, sp.s1, cx);
          if (o.readout == Readout::kLearned && l >= first)
            features(l, sp.s0, sp.s1, cx.g + lv.readout, cx);
        }
        if (input_grads && l >= xfrom) input_gradient(l, sp.s0, sp.s1);
      }
    }
  }

  // Marks the discriminator blocks this loss has a gradient for.
  void mark_d_gradient() {
    for (Block& b : blocks) {
      if (b.role != Role::kDiscriminator && b.role != Role::kReadout) continue;
      const bool used_decoder = b.level >= lo && b.level <= stage.last;
      bool has = false;
      if (b.role == Role::kDiscriminator)
        has = used_decoder && (b.name[0] == 'V' || o.learn_threshold);
      else if (o.readout == Readout::kLearned)
        has = (b.level >= stage.first && b.level <= stage.last) || o.penalty_weight > 0;
      b.has_grad = has;
      if (!has) std::fill_n(grad.begin() + b.offset, b.size, T(0));
    }
  }

  // Learned read-outs: the loss from the scores f of samples [from, 2B) and the weights
  // w_i = dloss/df_i (real samples [0, B) only in the discriminator step).
  T learned_loss(bool discriminator) {
    T loss = 0;
    const T invB = T(1) / T(B);
    for (int i = 0; i < B; ++i) {
      const T ff = f[B + i];
      if (discriminator) {
        const T fr = f[i];
        if (o.loss == Loss::kIpm) {
          loss += (ff - fr) * invB;
          w[i] = -invB;
          w[B + i] = invB;
        } else {
          loss += (softplus(-fr) + softplus(ff)) * invB;
          w[i] = -softplus_grad(-fr) * invB;
          w[B + i] = softplus_grad(ff) * invB;
        }
      } else if (o.loss == Loss::kIpm) {
        loss -= ff * invB;
        w[B + i] = -invB;
      } else {
        loss += softplus(-ff) * invB;
        w[B + i] = -softplus_grad(-ff) * invB;
      }
    }
    return loss;
  }

  // One discriminator loss (and, with backward, its gradient) on real batch `real` and latents z.
  T d_pass(const RealBatch<T>& real, const T* z, bool backward) {
    const int last = stage.last, first = stage.first;
    const bool learned = o.readout == Readout::kLearned;
    check_real(real, last);
    if (!learned) zero_features();
    parallel_with_cross(learned, [&](int t) {  // learned: score() reads C
      for_chunks(t, [&](int n0, int n1) {
        load_real(real, last, n0, n1);
        forward_generator(z, last, lo, n0, n1);
        for (int l = lo; l <= last; ++l) {
          decode(l, n0, n1);
          decode(l, B + n0, B + n1);
        }
        if (learned) {
          std::fill(f.begin() + n0, f.begin() + n1, T(0));
          std::fill(f.begin() + B + n0, f.begin() + B + n1, T(0));
          for (int l = first; l <= last; ++l) {
            score(l, n0, n1);
            score(l, B + n0, B + n1);
          }
        } else {
          optimal_features(t, n0, n1);
        }
      });
    });
    T loss = 0;
    std::vector<Span> spans;
    if (learned) {
      loss = learned_loss(true) + penalty();
      spans.push_back({0, B, 0});  // spans never straddle the real/fake boundary (part())
      spans.push_back({B, 2 * B, 0});
    } else {
      reduce_features();
      loss = -optimal_loss();
      const T inv = -T(1) / T(B / 2);
      for (const Span& sp : halves()) {
        for (int i = sp.s0; i < sp.s1; ++i) w[i] = inv;
        spans.push_back(sp);
      }
    }
    if (!backward) return loss;
    mark_d_gradient();
    zero_gradients(false);
    parallel_with_cross(true, [&](int t) {
      for_chunks(t, [&](int n0, int n1) {
        backward_discriminator(t, n0, n1, spans, true, false, last + 1);
      });
    });
    reduce_gradients(false);
    finish_decoder_gradient(lo, last);
    if (learned && o.penalty_weight > 0) {
      const T two = T(2 * o.penalty_weight);
      for (const Block& b : blocks)
        if (b.role == Role::kReadout)
          for (std::size_t i = b.offset; i < b.offset + b.size; ++i) grad[i] += two * theta[i];
    }
    return loss;
  }

  // The generator loss on latents z (and, optimal read-outs, the real batch); with backward, the
  // gradients of the trained generator levels.
  T g_pass(const RealBatch<T>* real, const T* z, bool backward) {
    const int last = stage.last, first = stage.first;
    const int xfrom = std::max(lo, t0);
    const bool learned = o.readout == Readout::kLearned;
    if (!learned) {
      if (!real)
        fail_field("real", "none", "optimal read-outs need the generator step's real batch");
      check_real(*real, last);
    }
    if (!learned) zero_features();
    parallel_with_cross(learned, [&](int t) {  // learned: score() reads C
      for_chunks(t, [&](int n0, int n1) {
        forward_generator(z, last, lo, n0, n1);
        for (int l = lo; l <= last; ++l) decode(l, B + n0, B + n1);
        if (learned) {
          std::fill(f.begin() + B + n0, f.begin() + B + n1, T(0));
          for (int l = first; l <= last; ++l) score(l, B + n0, B + n1);
        } else {
          load_real(*real, last, n0, n1);
          for (int l = lo; l <= last; ++l) decode(l, n0, n1);
          optimal_features(t, n0, n1);
        }
      });
    });
    T loss = 0;
    std::vector<Span> spans;
    if (learned) {
      loss = learned_loss(false);
      spans.push_back({B, 2 * B, 0});
    } else {
      reduce_features();
      loss = optimal_loss();
      const auto hs = halves();
      const T inv = T(1) / T(B / 2);
      for (int b = 2; b < 4; ++b) {
        for (int i = hs[b].s0; i < hs[b].s1; ++i) w[i] = inv;
        spans.push_back(hs[b]);
      }
      // An odd batch leaves the last fake sample out of both halves: no gradient from it.
      if (B % 2 == 1)
        for (int l = xfrom; l <= last; ++l) {
          Level& lv = L[l - 1];
          const std::size_t row = (std::size_t(2 * B) - 1) * lv.P * s.patch_dim();
          std::fill(lv.dX.begin() + row, lv.dX.begin() + row + std::size_t(lv.P) * s.patch_dim(), T(0));
        }
    }
    if (!backward) return loss;
    for (Block& b : blocks)
      if (b.role == Role::kGenerator) b.has_grad = trained[b.level];
    zero_gradients(true);
    parallel_with_cross(true, [&](int t) {
      for_chunks(t, [&](int n0, int n1) {
        backward_discriminator(t, n0, n1, spans, false, true, xfrom);
        backward_generator(z, last, xfrom, n0, n1, ctx[t]);
      });
    });
    reduce_gradients(true);
    finish_generator_gradient();
    return loss;
  }

  // ---- optimiser --------------------------------------------------------------------------------

  double grad_norm(bool generator) const {
    double acc = 0;
    for (const Block& b : blocks) {
      const bool gen = b.role == Role::kGenerator;
      if (b.role == Role::kBuffer || gen != generator || !b.has_grad) continue;
      for (std::size_t i = b.offset; i < b.offset + b.size; ++i) acc += double(grad[i]) * grad[i];
    }
    return std::sqrt(acc);
  }

  // torch.optim.Adam / SGD (LibTorch 1.13) on every block of the group that has a gradient.
  void update(bool generator, double lr) {
    for (Block& b : blocks) {
      const bool gen = b.role == Role::kGenerator;
      if (b.role == Role::kBuffer || gen != generator || !b.has_grad) continue;
      T* p = theta.data() + b.offset;
      const T* g = grad.data() + b.offset;
      T* m = mom1.data() + b.offset;
      T* v = mom2.data() + b.offset;
      if (o.optimizer == Optimizer::kAdam) {
        if (!b.has_state) {
          std::fill_n(m, b.size, T(0));
          std::fill_n(v, b.size, T(0));
          b.has_state = true;
          b.step = 0;
        }
        ++b.step;
        const double bc1 = 1 - std::pow(o.beta1, double(b.step));
        const double bc2 = 1 - std::pow(o.beta2, double(b.step));
        const T b1 = T(o.beta1), b2 = T(o.beta2), c1 = T(1 - o.beta1), c2 = T(1 - o.beta2);
        const T sq = T(std::sqrt(bc2)), eps = T(o.eps), step = T(lr / bc1);
        for (std::size_t i = 0; i < b.size; ++i) {
          m[i] = m[i] * b1 + g[i] * c1;
          v[i] = v[i] * b2 + c2 * g[i] * g[i];
          const T denom = std::sqrt(v[i]) / sq + eps;
          p[i] = p[i] + (-step * m[i]) / denom;  // addcdiv_(exp_avg, denom, -step_size)
        }
      } else {
        const T a = T(lr);
        if (o.momentum != 0) {
          const T mu = T(o.momentum);
          if (!b.has_state) {
            std::copy_n(g, b.size, m);
            b.has_state = true;
          } else {
            for (std::size_t i = 0; i < b.size; ++i) m[i] = m[i] * mu + g[i];
          }
          for (std::size_t i = 0; i < b.size; ++i) p[i] += -a * m[i];
        } else {
          for (std::size_t i = 0; i < b.size; ++i) p[i] += -a * g[i];
        }
      }
    }
    if (generator)
      refresh_generator();
    else
      refresh_discriminator();
  }

  bool generator_finite() const {
    for (const Block& b : blocks)
      if (b.role == Role::kGenerator && trained[b.level])
        for (std::size_t i = b.offset; i < b.offset + b.size; ++i)
          if (!std::isfinite(theta[i])) return false;
    return true;
  }

  void begin_stage(const StageLevels& st) {
    if (st.first < 1 || st.last > s.levels || st.first > st.last)
      fail_field("stage.levels", std::to_string(st.first) + ".." + std::to_string(st.last),
                 "must lie in 1.." + std::to_string(s.levels));
    if (st.trained.empty()) fail_field("stage.trained", "[]", "must name at least one level");
    for (int l : st.trained)
      if (l < 1 || l > st.last)
        fail_field("stage.trained", l, "must lie in 1.." + std::to_string(st.last));
    stage = st;
    lo = o.cross_scale && st.first >= 2 ? st.first - 1 : st.first;
    trained.assign(s.levels + 1, false);
    for (int l : st.trained) trained[l] = true;
    t0 = *std::min_element(st.trained.begin(), st.trained.end());
    for (Block& b : blocks) {
      b.has_state = false;
      b.step = 0;
      b.has_grad = false;
    }
  }
};

// ---- public -------------------------------------------------------------------------------------

template <typename T>
CpuEngine<T>::CpuEngine(const ModelShape& shape, const ModelOptions& options)
    : impl_(new Impl(shape, options)), shape_(shape), options_(options) {
  impl_->begin_stage(stage_);
}

template <typename T>
CpuEngine<T>::~CpuEngine() {
  delete impl_;
}

template <typename T>
ThreadPool& CpuEngine<T>::pool() {
  return impl_->pool;
}

template <typename T>
std::vector<NamedTensor<double>> CpuEngine<T>::parameters() const {
  std::vector<NamedTensor<double>> out;
  for (const Block& b : impl_->blocks) out.push_back(impl_->export_block(b, impl_->theta));
  return out;
}

template <typename T>
NamedTensor<double> CpuEngine<T>::parameter(const std::string& name) const {
  return impl_->export_block(impl_->block(name), impl_->theta);
}

template <typename T>
void CpuEngine<T>::set_parameter(const std::string& name, const std::vector<double>& values) {
  impl_->import_block(impl_->block(name), values, impl_->theta);
  impl_->refresh();
}

template <typename T>
void CpuEngine<T>::set_parameters(const std::vector<NamedTensor<double>>& tensors) {
  for (const auto& t : tensors) {
    const Block& b = impl_->block(t.name);
    if (t.shape != b.shape)
      fail_field(t.name + ".shape", format_shape(t.shape), "must be " + format_shape(b.shape));
    impl_->import_block(b, t.data, impl_->theta);
  }
  impl_->refresh();
}

template <typename T>
void CpuEngine<T>::begin_stage(const StageLevels& stage) {
  impl_->begin_stage(stage);
  stage_ = stage;
}

template <typename T>
StepStats CpuEngine<T>::step(const std::vector<const RealBatch<T>*>& real, const T* latents,
                             double lr_g, double lr_d) {
  Impl& m = *impl_;
  const int nd = options_.d_steps;
  if (int(real.size()) != nd)
    fail_field("real.size", real.size(), "must equal sgda.d_steps = " + std::to_string(nd));
  const std::size_t zs = std::size_t(m.B) * shape_.latent_dim;
  StepStats st;
  const RealBatch<T>* g_real = real[nd - 1];
  if (options_.simultaneous) {
    st.loss_g = double(m.g_pass(g_real, latents + nd * zs, true));
    st.grad_norm_g = m.grad_norm(true);
  }
  for (int k = 0; k < nd; ++k) {
    st.loss_d = double(m.d_pass(*real[k], latents + k * zs, true));
    st.grad_norm_d = m.grad_norm(false);
    m.update(false, lr_d);
  }
  if (!options_.simultaneous) {
    st.loss_g = double(m.g_pass(g_real, latents + nd * zs, true));
    st.grad_norm_g = m.grad_norm(true);
  }
  m.update(true, lr_g);
  st.finite = std::isfinite(st.loss_g) && std::isfinite(st.loss_d) &&
              std::isfinite(st.grad_norm_g) && std::isfinite(st.grad_norm_d) &&
              m.generator_finite();
  return st;
}

template <typename T>
std::vector<NamedTensor<double>> CpuEngine<T>::optimizer_state() const {
  std::vector<NamedTensor<double>> out;
  for (const Block& b : impl_->blocks) {
    if (!b.has_state) continue;
    if (options_.optimizer == Optimizer::kAdam) {
      out.push_back({b.name + ".step", {1}, {double(b.step)}});
      auto m = impl_->export_block(b, impl_->mom1);
      m.name = b.name + ".exp_avg";
      out.push_back(std::move(m));
      auto v = impl_->export_block(b, impl_->mom2);
      v.name = b.name + ".exp_avg_sq";
      out.push_back(std::move(v));
    } else if (options_.momentum != 0) {
      auto m = impl_->export_block(b, impl_->mom1);
      m.name = b.name + ".momentum_buffer";
      out.push_back(std::move(m));
    }
  }
  return out;
}

template <typename T>
void CpuEngine<T>::set_optimizer_state(const std::vector<NamedTensor<double>>& state) {
  Impl& m = *impl_;
  for (Block& b : m.blocks) {
    b.has_state = false;
    b.step = 0;
  }
  for (const auto& t : state) {
    const auto dot = t.name.rfind('.');
    if (dot == std::string::npos) fail_field("optimizer_state", t.name, "must be <param>.<field>");
    const std::string param = t.name.substr(0, dot), field = t.name.substr(dot + 1);
    m.block(param);  // throws for an unknown name
    Block& b = m.blocks[m.by_name.at(param)];
    if (field == "step") {
      if (t.data.size() != 1) fail_field(t.name + ".size", t.data.size(), "must be 1");
      b.step = std::int64_t(t.data[0]);
      b.has_state = true;
    } else if (field == "exp_avg" || field == "momentum_buffer") {
      m.import_block(b, t.data, m.mom1);
      b.has_state = true;
    } else if (field == "exp_avg_sq") {
      m.import_block(b, t.data, m.mom2);
      b.has_state = true;
    } else {
      fail_field("optimizer_state", t.name,
                 "field must be step, exp_avg, exp_avg_sq or momentum_buffer");
    }
  }
}

template <typename T>
void CpuEngine<T>::reset_optimizer_entries(const std::string& name,
                                           const std::vector<bool>& entries) {
  Impl& m = *impl_;
  const Block& b = m.block(name);
  if (entries.size() != b.size)
    fail_field(name + ".entries", entries.size(), "must be " + std::to_string(b.size));
  if (!b.has_state) return;
  for (std::size_t i = 0; i < b.size; ++i)
    if (entries[i]) {
      m.mom1[b.offset + b.at(i)] = T(0);
      m.mom2[b.offset + b.at(i)] = T(0);
    }
}

template <typename T>
Generated CpuEngine<T>::generate(const RowMatrix& z, int levels, bool with_codes,
                                 bool with_patches) {
  Impl& m = *impl_;
  require_int_in_range("levels", levels, 1, shape_.levels);
  if (z.cols() != shape_.latent_dim)
    fail_field("z.cols", z.cols(), "must be latent_dim = " + std::to_string(shape_.latent_dim));
  const Eigen::Index N = z.rows();
  const int B = m.B, d = shape_.patch_dim(), m0 = shape_.latent_dim;
  Generated out;
  for (int l = 1; l <= levels; ++l) {
    const int P = m.L[l - 1].P, ch = m.L[l - 1].m;
    if (with_patches) out.patches.emplace_back(N * P, d);
    if (with_codes) {
      out.codes.emplace_back(N, std::int64_t(ch) * P);
      out.pre.emplace_back(l >= 2 ? N : 0, l >= 2 ? std::int64_t(ch) * P : 0);
    }
  }
  for (Eigen::Index n0 = 0; n0 < N; n0 += B) {
    const int n = int(std::min<Eigen::Index>(B, N - n0));
    std::fill(m.zbuf.begin(), m.zbuf.end(), T(0));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < m0; ++j) m.zbuf[std::size_t(i) * m0 + j] = T(z(n0 + i, j));
    if (with_codes)
      for (int l = 2; l <= levels; ++l)
        m.L[l - 1].pre.resize(std::size_t(B) * m.L[l - 1].P * m.L[l - 1].m);
    m.pool.run([&](int t) {
      const auto [a, b] = share(t, m.pool.size(), B);
      m.forward_generator(m.zbuf.data(), levels, with_patches ? 1 : levels + 1, a, b, with_codes);
    });
    for (int l = 1; l <= levels; ++l) {
      const auto& lv = m.L[l - 1];
      const int P = lv.P, ch = lv.m;
      for (int i = 0; i < n; ++i)
        for (int p = 0; p < P; ++p) {
          const std::size_t r = std::size_t(i) * P + lv.order[p];
          if (with_patches) {
            const T* x = lv.X.data() + (std::size_t(B) * P + r) * d;
            for (int c = 0; c < d; ++c)
              out.patches[l - 1](n0 * P + std::int64_t(i) * P + p, c) = double(x[c]);
          }
          if (with_codes)
            for (int c = 0; c < ch; ++c) {
              out.codes[l - 1](n0 + i, std::int64_t(c) * P + p) = double(lv.S[r * ch + c]);
              if (l >= 2)
                out.pre[l - 1](n0 + i, std::int64_t(c) * P + p) = double(lv.pre[r * ch + c]);
            }
        }
    }
  }
  return out;
}

template <typename T>
Eigen::MatrixXd CpuEngine<T>::dictionary(int level) const {
  require_int_in_range("level", level, 1, shape_.levels);
  const auto& lv = impl_->L[level - 1];
  Eigen::MatrixXd m(shape_.patch_dim(), lv.m);
  for (int r = 0; r < m.rows(); ++r)
    for (int j = 0; j < lv.m; ++j) m(r, j) = double(lv.Meff[std::size_t(r) * lv.m + j]);
  return m;
}

template <typename T>
Eigen::MatrixXd CpuEngine<T>::decoder(int level) const {
  require_int_in_range("level", level, 1, shape_.levels);
  const auto& lv = impl_->L[level - 1];
  Eigen::MatrixXd v(lv.U, shape_.patch_dim());
  for (int i = 0; i < lv.U; ++i)
    for (int c = 0; c < v.cols(); ++c) v(i, c) = double(lv.Veff[std::size_t(i) * v.cols() + c]);
  return v;
}

template <typename T>
Eigen::MatrixXd CpuEngine<T>::code_matrix() const {
  const Impl& m = *impl_;
  const auto& b = m.blocks[m.b_A];
  const int m0 = shape_.latent_dim;
  Eigen::MatrixXd a(shape_.first_layer_units(), m0);
  for (std::size_t i = 0; i < b.size; ++i) a(i / m0, i % m0) = double(m.Aeff[b.at(i)]);
  return a;
}

template <typename T>
Eigen::VectorXd CpuEngine<T>::thresholds() const {
  const Impl& m = *impl_;
  const auto& b = m.blocks[m.b_b1];
  Eigen::VectorXd beta(shape_.first_layer_units());
  for (std::size_t i = 0; i < b.size; ++i) beta(i) = double(m.thr[b.at(i)]);
  return beta;
}

template <typename T>
double CpuEngine<T>::d_loss(const RealBatch<T>& real, const T* z) {
  return double(impl_->d_pass(real, z, false));
}

template <typename T>
double CpuEngine<T>::g_loss(const RealBatch<T>& real, const T* z) {
  return double(impl_->g_pass(&real, z, false));
}

template <typename T>
std::vector<NamedTensor<double>> CpuEngine<T>::d_gradient(const RealBatch<T>& real, const T* z) {
  Impl& m = *impl_;
  std::fill(m.grad.begin(), m.grad.end(), T(0));
  m.d_pass(real, z, true);
  std::vector<NamedTensor<double>> out;
  for (const Block& b : m.blocks) {
    auto t = m.export_block(b, m.grad);
    if (b.role == Role::kGenerator || b.role == Role::kBuffer || !b.has_grad)
      std::fill(t.data.begin(), t.data.end(), 0.0);
    out.push_back(std::move(t));
  }
  return out;
}

template <typename T>
std::vector<NamedTensor<double>> CpuEngine<T>::g_gradient(const RealBatch<T>& real, const T* z) {
  Impl& m = *impl_;
  std::fill(m.grad.begin(), m.grad.end(), T(0));
  m.g_pass(&real, z, true);
  std::vector<NamedTensor<double>> out;
  for (const Block& b : m.blocks) {
    auto t = m.export_block(b, m.grad);
    if (b.role != Role::kGenerator || !b.has_grad) std::fill(t.data.begin(), t.data.end(), 0.0);
    out.push_back(std::move(t));
  }
  return out;
}

template <typename T>
void CpuEngine<T>::freeze_optimal_scales(bool frozen) {
  impl_->frozen_scales = frozen;
}

template <typename T>
std::vector<typename CpuEngine<T>::RawBlock> CpuEngine<T>::raw_blocks() const {
  std::vector<RawBlock> out;
  for (const Block& b : impl_->blocks) {
    RawBlock r;
    r.name = b.name;
    r.role = b.role == Role::kGenerator ? 'g'
             : b.role == Role::kBuffer  ? 'b'
             : b.role == Role::kDiscriminator ? 'd'
                                              : 'r';
    r.level = b.level;
    r.offset = b.offset;
    r.size = b.size;
    r.has_state = b.has_state;
    r.step = b.step;
    out.push_back(std::move(r));
  }
  return out;
}

template <typename T>
std::vector<T>& CpuEngine<T>::raw(int which) {
  if (which == 0) return impl_->theta;
  if (which == 1) return impl_->mom1;
  if (which == 2) return impl_->mom2;
  fail_field("raw", which, "must be 0 (parameters), 1 or 2 (optimiser moments)");
}

template <typename T>
void CpuEngine<T>::raw_refresh() {
  impl_->refresh();
}

template <typename T>
void CpuEngine<T>::set_raw_state(const std::vector<RawBlock>& blocks) {
  if (blocks.size() != impl_->blocks.size())
    fail_field("raw_blocks.size", blocks.size(),
               "must be " + std::to_string(impl_->blocks.size()));
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    impl_->blocks[i].has_state = blocks[i].has_state;
    impl_->blocks[i].step = blocks[i].step;
  }
}

template <typename T>
void fill_normals(Rng& rng, T* out, std::size_t n) {
  std::vector<std::uint64_t> bits((n + 1) / 2);
  rng.fill_u64(bits.data(), bits.size());
  normals_from_bits(bits.data(), out, Index(n));
}

template void fill_normals<float>(Rng&, float*, std::size_t);
template void fill_normals<double>(Rng&, double*, std::size_t);
template class CpuEngine<float>;
template class CpuEngine<double>;

}  // namespace fsr::fast
