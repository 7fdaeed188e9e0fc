// The device step (gda/cuda/step.h), written once for any backend: the CPU engine's SGDA step
// (gda/fast/cpu_engine.cpp) pass for pass — the same flat parameter vector and block offsets, the
// same activations in the same quadtree rows, the same products (here the backend's gemm: cuBLAS
// or Eigen) and the same element-wise passes (gda/cuda/kernels.h) — over the whole batch at once
// instead of per thread and chunk. Included by gda/cuda/cuda_step.cu (CudaBackend) and
// gda/cuda/host_step.cpp (HostBackend) only.
//
// Every buffer is allocated at construction; a step uploads its real batches and latents into
// staging buffers, runs d_steps discriminator passes and the generator pass on the device, and
// downloads five numbers (losses, gradient norms, a count of non-finite parameters). What stays
// on the host: the blocks' optimiser bookkeeping (which blocks have a gradient or a state, Adam's
// step counts and bias corrections), as in the CPU engine.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "gda/cuda/kernels.h"
#include "gda/cuda/step.h"

namespace fsr::cuda {

template <typename Backend, typename T>
class StepImpl final : public Stepper<T> {
 public:
  // Device memory, released in reverse order when the stepper goes (also when the constructor
  // throws half way).
  struct Memory {
    Backend* be = nullptr;
    std::vector<void*> ptrs;
    ~Memory() {
      for (auto it = ptrs.rbegin(); it != ptrs.rend(); ++it) be->release(*it);
    }
  };
  struct Level {
    T *Meff = nullptr, *mnorm = nullptr, *Veff = nullptr, *vnorm = nullptr;
    T *biasx = nullptr, *maskx = nullptr;
    T *X = nullptr, *dX = nullptr, *u = nullptr, *du = nullptr, *t = nullptr;
    T *S = nullptr, *dS = nullptr, *col = nullptr, *tq = nullptr, *wu = nullptr;
    T* F[4] = {};
    T* C[4] = {};
    int *order = nullptr, *porder = nullptr, *tin = nullptr, *tk = nullptr, *tc = nullptr;
    std::vector<T*> real;  // staging of each discriminator step's real batch
  };
  struct Span {
    int s0, s1, block;
  };
  // Slots of the double scalars on the device.
  enum { kLossD = 0, kNormD = 1, kLossG = 2, kNormG = 3, kNonFinite = 4, kPenalty = 5, kPair = 6,
         kScalars = 8 };
  // The optimal read-out's feature groups per level (lin, quad, cubic, quartic, cross), at most.
  static constexpr int kGroups = 5;

  Backend be;
  Memory mem;
  StepLayout ly;
  StepOptions o;
  int B = 1, nd = 1;
  std::vector<Level> L;
  T *theta = nullptr, *grad = nullptr, *mom1 = nullptr, *mom2 = nullptr;
  T *Aeff = nullptr, *anorm = nullptr, *thr = nullptr, *umask = nullptr, *dthr = nullptr;
  T *f = nullptr, *w = nullptr, *term = nullptr, *z = nullptr, *ones = nullptr, *tmp = nullptr;
  T* scales = nullptr;  // optimal read-outs: the scale of each (level, feature group)
  double* scal = nullptr;
  std::vector<StepBlock> blocks;
  std::vector<bool> has_grad;
  StepStage stage;
  std::vector<bool> trained;
  int lo = 1, t0 = 1;

  template <typename X>
  X* alloc(std::size_t n) {
    X* p = be.template alloc<X>(n);
    mem.ptrs.push_back(p);
    return p;
  }
  template <typename X>
  X* upload_ints(const std::vector<X>& v) {
    X* p = alloc<X>(v.size());
    be.to_device(p, v.data(), v.size() * sizeof(X));
    return p;
  }

  explicit StepImpl(const StepLayout& layout) : ly(layout), o(layout.o) {
    mem.be = &be;
    B = o.batch;
    nd = o.d_steps;
    if (B < 1 || nd < 1) throw std::invalid_argument("device step: batch and d_steps must be >= 1");
    const int d = ly.d, kk = ly.kernel * ly.kernel, nl = ly.levels;
    blocks = ly.blocks;
    has_grad.assign(blocks.size(), false);
    theta = alloc<T>(ly.size);
    grad = alloc<T>(ly.size);
    mom1 = alloc<T>(ly.size);
    mom2 = alloc<T>(ly.size);
    std::size_t max_rows = std::size_t(B) * 2, max_tmp = 1;
    L.resize(nl);
    for (int l = 1; l <= nl; ++l) {
      const StepLevel& sl = ly.L[l - 1];
      Level& lv = L[l - 1];
      const std::size_t P = sl.P, m = sl.m, U = sl.U, rows2 = 2 * std::size_t(B) * P;
      max_rows = std::max(max_rows, rows2);
      lv.Meff = alloc<T>(std::size_t(d) * m);
      lv.mnorm = alloc<T>(m);
      lv.Veff = alloc<T>(U * d);
      lv.vnorm = alloc<T>(U);
      lv.X = alloc<T>(rows2 * d);
      lv.dX = alloc<T>(rows2 * d);
      lv.u = alloc<T>(rows2 * U);
      lv.du = alloc<T>(rows2 * U);
      lv.S = alloc<T>(std::size_t(B) * P * m);
      lv.dS = alloc<T>(std::size_t(B) * P * m);
      lv.order = upload_ints(sl.order);
      if (l >= 2) {
        const StepLevel& pl = ly.L[l - 2];
        lv.biasx = alloc<T>(std::size_t(kk) * m);
        lv.maskx = alloc<T>(std::size_t(kk) * m);
        lv.t = alloc<T>(rows2 * U);
        lv.col = alloc<T>(std::size_t(B) * pl.P * kk * m);
        lv.porder = upload_ints(pl.order);
        lv.tin = upload_ints(sl.taps_in);
        lv.tk = upload_ints(sl.taps_k);
        lv.tc = upload_ints(sl.taps_count);
        max_tmp = std::max(max_tmp, 2 * std::size_t(B) * pl.P * pl.U);
      }
      if (o.quadratic == 2) {
        lv.tq = alloc<T>(rows2 * U);
        lv.wu = alloc<T>(rows2 * U);
      }
      if (o.optimal)
        for (int b = 0; b < 4; ++b) {
          lv.F[b] = alloc<T>(sl.ro_size);
          lv.C[b] = alloc<T>(sl.ro_size);
        }
      lv.real.resize(nd, nullptr);
      for (int k = 0; k < nd; ++k) lv.real[k] = alloc<T>(std::size_t(B) * P * d);
    }
    Aeff = alloc<T>(std::size_t(ly.n1) * ly.m0);
    anorm = alloc<T>(ly.n1);
    thr = alloc<T>(ly.n1);
    umask = alloc<T>(ly.n1);
    dthr = alloc<T>(ly.n1);
    f = alloc<T>(2 * std::size_t(B));
    w = alloc<T>(2 * std::size_t(B));
    term = alloc<T>(B);
    z = alloc<T>(std::size_t(nd + 1) * B * ly.m0);
    ones = alloc<T>(max_rows);
    fill(ones, max_rows, T(1));
    tmp = alloc<T>(max_tmp);
    scales = alloc<T>(std::size_t(kGroups) * nl);
    scal = alloc<double>(kScalars);
    be.synchronize();
  }

  std::string device() const override { return be.device(); }

  // ---- small helpers ----------------------------------------------------------------------------

  void fill(T* p, std::size_t n, T v) {
    if (n) be.for_each(Index(n), Fill<T>{p, v});
  }
  void gemm(bool ta, bool tb, Index m, Index n, Index k, const T* A, Index lda, const T* Bm,
            Index ldb, T* C, Index ldc, bool accumulate, T alpha = T(1)) {
    be.template gemm<T>(ta, tb, m, n, k, alpha, A, lda, Bm, ldb, accumulate ? T(1) : T(0), C, ldc);
  }
  void epilogue(Index m, Index n, T* C, Index ldc, const T* bias, const T* scale, const T* gate,
                Index ldg, bool relu_) {
    if (m > 0 && n > 0) be.for_each(m * n, Epilogue<T>{C, n, ldc, bias, scale, gate, ldg, relu_});
  }
  // out (n) += sign * the column sums of x (rows x n): a product with ones.
  void column_sums(Index rows, Index n, const T* x, T* out, T sign) {
    if (rows == 0) return;
    gemm(true, false, 1, n, rows, ones, 1, x, n, out, n, true, sign);
  }
  const StepLevel& S(int l) const { return ly.L[l - 1]; }

  // ---- state --------------------------------------------------------------------------------

  void load(const T* th, const T* m1, const T* m2, const std::vector<StepBlock>& bl,
            const StepStage& st) override {
    if (bl.size() != blocks.size()) throw std::invalid_argument("device step: block table differs");
    be.to_device(theta, th, ly.size * sizeof(T));
    be.to_device(mom1, m1, ly.size * sizeof(T));
    be.to_device(mom2, m2, ly.size * sizeof(T));
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      blocks[i].has_state = bl[i].has_state;
      blocks[i].step = bl[i].step;
    }
    stage = st;
    lo = o.cross_scale && st.first >= 2 ? st.first - 1 : st.first;
    trained.assign(ly.levels + 1, false);
    for (int l : st.trained) trained[l] = true;
    t0 = *std::min_element(st.trained.begin(), st.trained.end());
    refresh_generator();
    refresh_discriminator();
    be.synchronize();
  }

  void save(T* th, T* m1, T* m2, std::vector<StepBlock>& bl) override {
    be.to_host(th, theta, ly.size * sizeof(T));
    be.to_host(m1, mom1, ly.size * sizeof(T));
    be.to_host(m2, mom2, ly.size * sizeof(T));
    bl = blocks;
  }

  void refresh_generator() {
    const int kk = ly.kernel * ly.kernel;
    be.for_each(ly.n1, RefreshFirstLayer<T>{theta + ly.A, theta + ly.A_mask, theta + ly.b1,
                                           theta + S(1).mask, Aeff, anorm, thr, umask, ly.m0,
                                           S(1).m, o.relative_threshold});
    for (int l = 1; l <= ly.levels; ++l) {
      const StepLevel& sl = S(l);
      Level& lv = L[l - 1];
      if (l >= 2)
        be.for_each(Index(kk) * sl.m,
                    RefreshTaps<T>{theta + sl.bW, theta + sl.mask, lv.biasx, lv.maskx, sl.m});
      be.for_each(sl.m, RefreshColumns<T>{theta + sl.M, lv.Meff, lv.mnorm, ly.d, sl.m,
                                          o.unit_norm_columns});
    }
  }
  void refresh_discriminator() {
    for (int l = 1; l <= ly.levels; ++l)
      be.for_each(S(l).U, RefreshRows<T>{theta + S(l).V, L[l - 1].Veff, L[l - 1].vnorm, ly.d,
                                         o.unit_norm_rows});
  }

  // ---- generator ------------------------------------------------------------------------------

  // S_1..S_last for latents zz (B x m0), and X_l for l in [xfrom, last] into the fake half.
  void forward_generator(const T* zz, int last, int xfrom) {
    const int N1 = ly.n1, m0 = ly.m0, d = ly.d, k = ly.kernel, kk = k * k;
    gemm(false, true, B, N1, m0, zz, m0, Aeff, m0, L[0].S, N1, false);
    epilogue(B, N1, L[0].S, N1, thr, umask, nullptr, 0, true);
    for (int l = 2; l <= last; ++l) {
      const StepLevel& sl = S(l);
      const StepLevel& pl = S(l - 1);
      Level& lv = L[l - 1];
      const int mi = sl.mi, mo = sl.m, hi = pl.grid, ho = 2 * hi, kmo = kk * mo;
      const Index Pi = pl.P, Po = sl.P, rin = Index(B) * Pi;
      const T* sin = L[l - 2].S;
      if (k == 2) {
        // The product's row q, laid out (child, channel), is S_l's memory (quadtree order).
        gemm(false, false, rin, kmo, mi, sin, mi, theta + sl.W, kmo, lv.S, kmo, false);
        epilogue(rin, kmo, lv.S, kmo, lv.biasx, lv.maskx, nullptr, 0, true);
        continue;
      }
      gemm(false, false, rin, kmo, mi, sin, mi, theta + sl.W, kmo, lv.col, kmo, false);
      be.for_each(Index(B) * Po * mo,
                  ConvGather<T>{lv.col, lv.S, theta + sl.bW, theta + sl.mask, lv.tin, lv.tk, lv.tc,
                                lv.porder, lv.order, hi, ho, k, mo, kmo, Pi, Po});
    }
    for (int l = std::max(1, xfrom); l <= last; ++l) {
      const StepLevel& sl = S(l);
      const Index rows = Index(B) * sl.P;
      gemm(false, true, rows, d, sl.m, L[l - 1].S, sl.m, L[l - 1].Meff, sl.m,
           L[l - 1].X + rows * d, d, false);
    }
  }

  // The trained generator levels' gradients from dX of the fake half at levels [xfrom, last].
  void backward_generator(const T* zz, int last, int xfrom) {
    const int d = ly.d, k = ly.kernel, kk = k * k, pad = ly.padding;
    for (int l = last; l >= t0; --l) {
      const StepLevel& sl = S(l);
      Level& lv = L[l - 1];
      const Index rows = Index(B) * sl.P;
      const int m = sl.m;
      const T* dX = lv.dX + rows * d;  // fake half
      if (l >= xfrom) {
        gemm(false, false, rows, m, d, dX, d, lv.Meff, m, lv.dS, m, l < last);
        epilogue(rows, m, lv.dS, m, nullptr, nullptr, lv.S, m, false);
      }
      if (trained[l] && l >= xfrom) gemm(true, false, d, m, rows, dX, d, lv.S, m, grad + sl.M, m, true);
      if (l >= 2) {
        const StepLevel& pl = S(l - 1);
        const int mi = sl.mi, mo = m, hi = pl.grid, ho = 2 * hi, kmo = kk * mo;
        if (trained[l]) column_sums(rows, mo, lv.dS, grad + sl.bW, T(-1));
        const bool down = l - 1 >= t0;
        if (!trained[l] && !down) continue;
        const Index Pi = pl.P, Po = sl.P, rin = Index(B) * Pi;
        T* dcol = lv.dS;
        if (k != 2) {
          dcol = lv.col;
          be.for_each(rin * kk * mo, Im2Col<T>{lv.dS, lv.col, lv.porder, lv.order, hi, ho, k, pad,
                                               mo, kmo, Pi, Po});
        }
        const T* sprev = L[l - 2].S;
        if (trained[l]) gemm(true, false, mi, kmo, rin, sprev, mi, dcol, kmo, grad + sl.W, kmo, true);
        if (down) {
          gemm(false, true, rin, mi, kmo, dcol, kmo, theta + sl.W, kmo, L[l - 2].dS, mi, false);
          // Level l - 1 gets nothing more when the discriminator skips X_{l-1}: gate here.
          if (l - 1 < xfrom) epilogue(rin, mi, L[l - 2].dS, mi, nullptr, nullptr, sprev, mi, false);
        }
      } else if (trained[1]) {
        column_sums(B, ly.n1, lv.dS, dthr, T(-1));
        gemm(true, false, ly.n1, ly.m0, B, lv.dS, ly.n1, zz, ly.m0, grad + ly.A, ly.m0, true);
      }
    }
  }

  void finish_generator_gradient() {
    for (int l = t0; l <= stage.last; ++l) {
      if (!trained[l] || !o.unit_norm_columns) continue;
      const StepLevel& sl = S(l);
      be.for_each(sl.m, ColumnNormBackward<T>{grad + sl.M, L[l - 1].Meff, L[l - 1].mnorm, ly.d,
                                              sl.m});
    }
    if (!trained[1]) return;
    be.for_each(ly.n1, FirstLayerBackward<T>{dthr, anorm, theta + ly.b1, Aeff, theta + ly.A_mask,
                                             grad + ly.b1, grad + ly.A, ly.m0,
                                             o.relative_threshold});
  }

  // ---- discriminator --------------------------------------------------------------------------

  // u = ReLU(X V̂^T - τ) for samples [s0, s1) of level l.
  void decode(int l, int s0, int s1) {
    const StepLevel& sl = S(l);
    Level& lv = L[l - 1];
    const Index r0 = Index(s0) * sl.P, rows = Index(s1 - s0) * sl.P;
    if (rows == 0) return;
    gemm(false, true, rows, sl.U, ly.d, lv.X + r0 * ly.d, ly.d, lv.Veff, ly.d, lv.u + r0 * sl.U,
         sl.U, false);
    epilogue(rows, sl.U, lv.u + r0 * sl.U, sl.U, theta + sl.tau, nullptr, nullptr, 0, true);
  }

  // t[i, 4q + c, :] = u'[i, q, :] C[4q + c]^T: one product per parent patch q, batched.
  void cross_forward(int l, int s0, int s1, const T* C) {
    const StepLevel& sl = S(l);
    const StepLevel& pl = S(l - 1);
    const int U = sl.U, Up = sl.Up, Pp = pl.P, n = s1 - s0;
    if (n <= 0) return;
    be.template gemm_batched<T>(false, true, n, 4 * U, Up, T(1),
                                L[l - 2].u + Index(s0) * Pp * Up, Index(Pp) * Up, Up, C, Up,
                                Index(4) * U * Up, T(0), L[l - 1].t + Index(s0) * sl.P * U,
                                Index(sl.P) * U, 4 * U, Pp);
  }

  // f[i] += D_l(sample i) for samples [s0, s1), learned read-outs.
  void score(int l, int s0, int s1) {
    if (s1 <= s0) return;
    const StepLevel& sl = S(l);
    Level& lv = L[l - 1];
    const T* R = theta + sl.readout;
    const Index PU = Index(sl.P) * sl.U, n = s1 - s0;
    const bool cross = sl.n_cross > 0, full = o.quadratic == 2;
    if (cross) cross_forward(l, s0, s1, R + sl.ro_cross);
    if (full)
      gemm(false, false, n, PU, PU, lv.u + s0 * PU, PU, R + sl.ro_quad, PU, lv.tq + s0 * PU, PU,
           false);
    be.reduce_rows(
        n, PU,
        ScoreTerm<T>{PU, lv.u + s0 * PU, R + sl.ro_lin, o.quadratic == 1 ? R + sl.ro_quad : nullptr,
                     o.cubic ? R + sl.ro_cubic : nullptr, o.quartic ? R + sl.ro_quartic : nullptr,
                     cross ? lv.t + s0 * PU : nullptr, full ? lv.tq + s0 * PU : nullptr},
        f + s0, true);
  }

  // F += sum over samples [s0, s1) of w_i phi(sample i) in the read-out layout.
  void features(int l, int s0, int s1, T* F) {
    if (s1 <= s0) return;
    const StepLevel& sl = S(l);
    Level& lv = L[l - 1];
    const Index PU = Index(sl.P) * sl.U, n = s1 - s0;
    const T* u = lv.u + s0 * PU;
    gemm(true, false, 1, PU, n, w + s0, 1, u, PU, F + sl.ro_lin, PU, true);
    if (o.quadratic == 1)
      be.reduce_cols(n, PU, PowerFeature<T>{PU, u, w + s0, 2}, F + sl.ro_quad, true);
    if (o.cubic) be.reduce_cols(n, PU, PowerFeature<T>{PU, u, w + s0, 3}, F + sl.ro_cubic, true);
    if (o.quartic)
      be.reduce_cols(n, PU, PowerFeature<T>{PU, u, w + s0, 4}, F + sl.ro_quartic, true);
    if (o.quadratic == 2) {
      T* wu = lv.wu + s0 * PU;
      be.for_each(n * PU, ScaleRows<T>{w + s0, u, wu, PU, PU, PU});
      gemm(true, false, PU, PU, n, wu, PU, u, PU, F + sl.ro_quad, PU, true);
    }
    if (sl.n_cross > 0) {
      const StepLevel& pl = S(l - 1);
      const int U = sl.U, Up = sl.Up, Pp = pl.P;
      const Index PpUp = Index(Pp) * Up;
      be.for_each(n * PpUp, ScaleRows<T>{w + s0, L[l - 2].u + s0 * PpUp, tmp, PpUp, PpUp, PpUp});
      be.template gemm_batched<T>(true, false, 4 * U, Up, n, T(1), lv.u + Index(s0) * sl.P * U,
                                  PU, 4 * U, tmp, PpUp, Up, T(1), F + sl.ro_cross, Up,
                                  Index(4) * U * Up, Pp);
    }
  }

  // du of samples [s0, s1) at level l (R null: a parent-only level), then the cross terms' share
  // of the parent level's du (assigned).
  void backward_level(int l, int s0, int s1, const T* R, bool has_child) {
    if (s1 <= s0) return;
    const StepLevel& sl = S(l);
    Level& lv = L[l - 1];
    const Index PU = Index(sl.P) * sl.U, n = s1 - s0;
    const bool cross = R && sl.n_cross > 0, full = R && o.quadratic == 2;
    const T* u = lv.u + s0 * PU;
    if (cross) cross_forward(l, s0, s1, R + sl.ro_cross);
    if (full) {
      T* tq = lv.tq + s0 * PU;
      gemm(false, false, n, PU, PU, u, PU, R + sl.ro_quad, PU, tq, PU, false);
      gemm(false, true, n, PU, PU, u, PU, R + sl.ro_quad, PU, tq, PU, true);
    }
    ReadoutBackward<T> rb{};  // read-out terms null unless R
    rb.E = PU;
    rb.u = u;
    rb.du = lv.du + s0 * PU;
    rb.w = w + s0;
    rb.child = has_child;
    if (R) {
      rb.lin = R + sl.ro_lin;
      rb.quad = o.quadratic == 1 ? R + sl.ro_quad : nullptr;
      rb.cubic = o.cubic ? R + sl.ro_cubic : nullptr;
      rb.quartic = o.quartic ? R + sl.ro_quartic : nullptr;
      rb.t = cross ? lv.t + s0 * PU : nullptr;
      rb.tq = full ? lv.tq + s0 * PU : nullptr;
    }
    be.for_each(n * PU, rb);
    if (cross) {
      const StepLevel& pl = S(l - 1);
      const int U = sl.U, Up = sl.Up, Pp = pl.P;
      const Index PpUp = Index(Pp) * Up;
      be.template gemm_batched<T>(false, false, n, Up, 4 * U, T(1), u, PU, 4 * U,
                                  R + sl.ro_cross, Up, Index(4) * U * Up, T(0), tmp, PpUp, Up, Pp);
      be.for_each(n * PpUp, ScaleRows<T>{w + s0, tmp, L[l - 2].du + s0 * PpUp, PpUp, PpUp, PpUp});
    }
  }

  void decoder_gradient(int l, int s0, int s1) {
    if (s1 <= s0) return;
    const StepLevel& sl = S(l);
    Level& lv = L[l - 1];
    const Index r0 = Index(s0) * sl.P, rows = Index(s1 - s0) * sl.P;
    gemm(true, false, sl.U, ly.d, rows, lv.du + r0 * sl.U, sl.U, lv.X + r0 * ly.d, ly.d,
         grad + sl.V, ly.d, true);
    if (o.learn_threshold) column_sums(rows, sl.U, lv.du + r0 * sl.U, grad + sl.tau, T(-1));
  }

  void input_gradient(int l, int s0, int s1) {
    if (s1 <= s0) return;
    const StepLevel& sl = S(l);
    Level& lv = L[l - 1];
    const Index r0 = Index(s0) * sl.P, rows = Index(s1 - s0) * sl.P;
    gemm(false, false, rows, ly.d, sl.U, lv.du + r0 * sl.U, sl.U, lv.Veff, ly.d,
         lv.dX + r0 * ly.d, ly.d, false);
  }

  void finish_decoder_gradient() {
    if (!o.unit_norm_rows) return;
    for (int l = lo; l <= stage.last; ++l)
      be.for_each(S(l).U, RowNormBackward<T>{grad + S(l).V, L[l - 1].Veff, L[l - 1].vnorm, ly.d});
  }

  // ---- losses ---------------------------------------------------------------------------------

  std::array<Span, 4> halves() const {
    const int h = B / 2;
    return {Span{0, h, 0}, Span{h, 2 * h, 1}, Span{B, B + h, 2}, Span{B + h, B + 2 * h, 3}};
  }

  void load_real(int k) {
    for (int l = lo; l <= stage.last; ++l)
      be.copy(L[l - 1].X, L[l - 1].real[k], std::size_t(B) * S(l).P * ly.d * sizeof(T));
  }

  void zero_features() {
    for (int l = stage.first; l <= stage.last; ++l)
      for (int b = 0; b < 4; ++b) fill(L[l - 1].F[b], S(l).ro_size, T(0));
  }

  void optimal_features() {
    const T inv = T(1) / T(B / 2);
    for (const Span& sp : halves()) fill(w + sp.s0, std::size_t(sp.s1 - sp.s0), inv);
    for (int l = stage.first; l <= stage.last; ++l)
      for (const Span& sp : halves()) features(l, sp.s0, sp.s1, L[l - 1].F[sp.block]);
  }

  // sign * sum over groups of <F_rA - F_fA, F_rB - F_fB> / scale into scal[slot] (zeroed
  // first), and the coefficients of each block.
  void optimal_loss(int slot, double sign) {
    fill_scalar(slot, 0.0);
    for (int l = stage.first; l <= stage.last; ++l) {
      const StepLevel& sl = S(l);
      Level& lv = L[l - 1];
      int gi = 0;
      auto group = [&](std::size_t off, std::size_t n) {
        if (n == 0) return;
        const int g = gi++;
        T* scale = scales + std::size_t(l - 1) * kGroups + g;
        const OptimalSums<T> sums{lv.F[0] + off, lv.F[1] + off, lv.F[2] + off, lv.F[3] + off};
        be.reduce_rows(2, Index(n), sums, scal + kPair, false);
        be.for_each(1, OptimalFinish<T>{scal + kPair, scale, scal + slot, sign});
        be.for_each(Index(n), OptimalCoefficients<T>{sums.ra, sums.rb, sums.fa, sums.fb,
                                                      lv.C[0] + off, lv.C[1] + off, lv.C[2] + off,
                                                      lv.C[3] + off, scale});
      };
      group(sl.ro_lin, sl.n_lin);
      group(sl.ro_quad, sl.n_quad);
      group(sl.ro_cubic, sl.n_cubic);
      group(sl.ro_quartic, sl.n_quartic);
      group(sl.ro_cross, sl.n_cross);
    }
  }

  void fill_scalar(int slot, double v) { be.for_each(1, Fill<double>{scal + slot, v}); }

  void learned_loss(bool discriminator, int slot) {
    be.for_each(B, LearnedLoss<T>{f, w, term, B, discriminator, o.nonsaturating});
    be.reduce_rows(1, B, Value<T>{term, 0}, scal + slot, false);
  }

  void penalty_into(int slot) {
    if (o.optimal || !(o.penalty_weight > 0)) return;
    for (int l = 1; l <= ly.levels; ++l)
      be.reduce_rows(1, Index(S(l).ro_size), SquareOf<T>{theta + S(l).readout, 0}, scal + kPenalty,
                     l > 1);
    be.for_each(1, AddScaled{scal + slot, scal + kPenalty, o.penalty_weight});
  }

  void mark_d_gradient() {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const StepBlock& b = blocks[i];
      if (b.role != 'd' && b.role != 'r') continue;
      const bool used = b.level >= lo && b.level <= stage.last;
      bool has = false;
      if (b.role == 'd')
        has = used && (b.decoder_weight || o.learn_threshold);
      else if (!o.optimal)
        has = (b.level >= stage.first && b.level <= stage.last) || o.penalty_weight > 0;
      has_grad[i] = has;
      if (!has) fill(grad + b.offset, b.size, T(0));
    }
  }

  void zero_gradients(bool generator) {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const StepBlock& b = blocks[i];
      if (has_grad[i] && (b.role == 'g') == generator && b.role != 'b')
        fill(grad + b.offset, b.size, T(0));
    }
    if (generator) fill(dthr, ly.n1, T(0));
  }

  void backward_discriminator(const std::vector<Span>& spans, bool param_grads, bool input_grads,
                              int xfrom) {
    const int last = stage.last, first = stage.first;
    for (int l = last; l >= lo; --l) {
      const bool has_child = o.cross_scale && l < last;
      for (const Span& sp : spans) {
        const T* R = nullptr;
        if (l >= first) R = o.optimal ? L[l - 1].C[sp.block] : theta + S(l).readout;
        backward_level(l, sp.s0, sp.s1, R, has_child);
        if (param_grads) {
          decoder_gradient(l, sp.s0, sp.s1);
          if (!o.optimal && l >= first) features(l, sp.s0, sp.s1, grad + S(l).readout);
        }
        if (input_grads && l >= xfrom) input_gradient(l, sp.s0, sp.s1);
      }
    }
  }

  // One discriminator loss and gradient on the k-th real batch and latents zz: loss in
  // scal[kLossD].
  void d_pass(int k, const T* zz) {
    const int last = stage.last, first = stage.first;
    if (o.optimal) zero_features();
    load_real(k);
    forward_generator(zz, last, lo);
    for (int l = lo; l <= last; ++l) decode(l, 0, 2 * B);
    std::vector<Span> spans;
    if (!o.optimal) {
      fill(f, 2 * std::size_t(B), T(0));
      for (int l = first; l <= last; ++l) score(l, 0, 2 * B);
      learned_loss(true, kLossD);
      penalty_into(kLossD);
      spans.push_back({0, 2 * B, 0});  // one read-out for both halves: one span
    } else {
      optimal_features();
      optimal_loss(kLossD, -1.0);
      const T inv = -T(1) / T(B / 2);
      for (const Span& sp : halves()) {
        fill(w + sp.s0, std::size_t(sp.s1 - sp.s0), inv);
        spans.push_back(sp);
      }
    }
    mark_d_gradient();
    zero_gradients(false);
    backward_discriminator(spans, true, false, last + 1);
    finish_decoder_gradient();
    if (!o.optimal && o.penalty_weight > 0) {
      const T two = T(2 * o.penalty_weight);
      for (const StepBlock& b : blocks)
        if (b.role == 'r') be.for_each(Index(b.size), Axpy<T>{grad + b.offset, theta + b.offset, two});
    }
  }

  // The generator loss (scal[kLossG]) and gradient on latents zz (and, optimal read-outs, the
  // last discriminator step's real batch).
  void g_pass(const T* zz) {
    const int last = stage.last, first = stage.first;
    const int xfrom = std::max(lo, t0);
    if (o.optimal) zero_features();
    forward_generator(zz, last, lo);
    for (int l = lo; l <= last; ++l) decode(l, B, 2 * B);
    std::vector<Span> spans;
    if (!o.optimal) {
      fill(f + B, std::size_t(B), T(0));
      for (int l = first; l <= last; ++l) score(l, B, 2 * B);
      learned_loss(false, kLossG);
      spans.push_back({B, 2 * B, 0});
    } else {
      load_real(nd - 1);
      for (int l = lo; l <= last; ++l) decode(l, 0, B);
      optimal_features();
      optimal_loss(kLossG, 1.0);
      const auto hs = halves();
      const T inv = T(1) / T(B / 2);
      for (int b = 2; b < 4; ++b) {
        fill(w + hs[b].s0, std::size_t(hs[b].s1 - hs[b].s0), inv);
        spans.push_back(hs[b]);
      }
      // An odd batch leaves the last fake sample out of both halves: no gradient from it.
      if (B % 2 == 1)
        for (int l = xfrom; l <= last; ++l) {
          const std::size_t row = (std::size_t(2 * B) - 1) * S(l).P * ly.d;
          fill(L[l - 1].dX + row, std::size_t(S(l).P) * ly.d, T(0));
        }
    }
    for (std::size_t i = 0; i < blocks.size(); ++i)
      if (blocks[i].role == 'g') has_grad[i] = trained[blocks[i].level];
    zero_gradients(true);
    backward_discriminator(spans, false, true, xfrom);
    backward_generator(zz, last, xfrom);
    finish_generator_gradient();
  }

  // ---- optimiser ------------------------------------------------------------------------------

  void grad_norm(bool generator, int slot) {
    bool any = false;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const StepBlock& b = blocks[i];
      if (b.role == 'b' || (b.role == 'g') != generator || !has_grad[i] || b.size == 0) continue;
      be.reduce_rows(1, Index(b.size), SquareOf<T>{grad + b.offset, 0}, scal + slot, any);
      any = true;
    }
    if (!any) fill_scalar(slot, 0.0);
    be.for_each(1, SqrtScalar{scal + slot});
  }

  void update(bool generator, double lr) {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      StepBlock& b = blocks[i];
      if (b.role == 'b' || (b.role == 'g') != generator || !has_grad[i]) continue;
      T* p = theta + b.offset;
      const T* g = grad + b.offset;
      T* m = mom1 + b.offset;
      T* v = mom2 + b.offset;
      if (o.adam) {
        const bool fresh = !b.has_state;
        if (fresh) {
          b.has_state = true;
          b.step = 0;
        }
        ++b.step;
        const double bc1 = 1 - std::pow(o.beta1, double(b.step));
        const double bc2 = 1 - std::pow(o.beta2, double(b.step));
        be.for_each(Index(b.size),
                    AdamUpdate<T>{p, m, v, g, T(o.beta1), T(o.beta2), T(1 - o.beta1),
                                  T(1 - o.beta2), T(std::sqrt(bc2)), T(o.eps), T(lr / bc1), fresh});
      } else {
        const bool momentum = o.momentum != 0, fresh = !b.has_state;
        if (momentum) b.has_state = true;
        be.for_each(Index(b.size), SgdUpdate<T>{p, m, g, T(lr), T(o.momentum), momentum, fresh});
      }
    }
    if (generator)
      refresh_generator();
    else
      refresh_discriminator();
  }

  void count_nonfinite() {
    bool any = false;
    for (const StepBlock& b : blocks)
      if (b.role == 'g' && trained[b.level] && b.size > 0) {
        be.reduce_rows(1, Index(b.size), NonFinite<T>{theta + b.offset}, scal + kNonFinite, any);
        any = true;
      }
    if (!any) fill_scalar(kNonFinite, 0.0);
  }

  StepOutput step(const std::vector<const RealLevels<T>*>& real, const T* latents, double lr_g,
                  double lr_d) override {
    if (int(real.size()) != nd)
      throw std::invalid_argument("device step: " + std::to_string(real.size()) +
                                  " real batches, sgda.d_steps = " + std::to_string(nd));
    for (int k = 0; k < nd; ++k) {
      if (int(real[k]->size()) < stage.last)
        throw std::invalid_argument("device step: the real batch lacks levels up to " +
                                    std::to_string(stage.last));
      for (int l = lo; l <= stage.last; ++l) {
        const std::size_t n = std::size_t(B) * S(l).P * ly.d;
        if ((*real[k])[l - 1].size() != n)
          throw std::invalid_argument("device step: real batch level " + std::to_string(l) +
                                      " has " + std::to_string((*real[k])[l - 1].size()) +
                                      " values, not B P_l d = " + std::to_string(n));
        be.to_device(L[l - 1].real[k], (*real[k])[l - 1].data(), n * sizeof(T));
      }
    }
    const std::size_t zs = std::size_t(B) * ly.m0;
    be.to_device(z, latents, (nd + 1) * zs * sizeof(T));
    if (o.simultaneous) {
      g_pass(z + nd * zs);
      grad_norm(true, kNormG);
    }
    for (int k = 0; k < nd; ++k) {
      d_pass(k, z + k * zs);
      grad_norm(false, kNormD);
      update(false, lr_d);
    }
    if (!o.simultaneous) {
      g_pass(z + nd * zs);
      grad_norm(true, kNormG);
    }
    update(true, lr_g);
    count_nonfinite();
    double s[kScalars];
    be.to_host(s, scal, sizeof s);
    StepOutput out;
    out.loss_d = s[kLossD];
    out.grad_norm_d = s[kNormD];
    out.loss_g = s[kLossG];
    out.grad_norm_g = s[kNormG];
    out.finite = std::isfinite(out.loss_d) && std::isfinite(out.loss_g) &&
                 std::isfinite(out.grad_norm_d) && std::isfinite(out.grad_norm_g) &&
                 s[kNonFinite] == 0;
    return out;
  }
};

}  // namespace fsr::cuda
