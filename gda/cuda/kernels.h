// The element-wise passes of the fast engine's step on a device (gda/cuda/step_impl.h), one
// functor per pass of the CPU engine (gda/fast/cpu_engine.cpp, gda/fast/ops.cpp), each computing
// the same expression in the same order for one output index. A backend runs them: the CUDA one
// as a grid-stride kernel (gda/cuda/cuda_backend.cuh), the host one as a loop
// (gda/cuda/host_backend.h). Plain structs of device pointers and sizes (copied into the kernel's
// parameters): no references, no host memory.
//
//   backend.for_each(n, Fill<float>{p, 0.0f});                 // f(i) for i < n
//   backend.reduce_rows(rows, cols, SquareOf<float>{g}, out);  // out[r] = sum_c f(r, c)
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define FSR_HD __host__ __device__
#else
#define FSR_HD
#endif

namespace fsr::cuda {

using Index = std::ptrdiff_t;

template <typename T>
FSR_HD inline T relu(T x) {
  return x > T(0) ? x : T(0);
}

// ---- generic ---------------------------------------------------------------------------------

template <typename T>
struct Fill {
  T* p;
  T v;
  FSR_HD void operator()(Index i) const { p[i] = v; }
};

// An m x n block of C (row stride ldc) set to zero, index i n + j.
template <typename T>
struct ZeroBlock {
  T* C;
  Index n, ldc;
  FSR_HD void operator()(Index k) const { C[(k / n) * ldc + k % n] = T(0); }
};

// dst[i, j] = w[i] src[i, j] for an n x cols block (row strides lds, ldd).
template <typename T>
struct ScaleRows {
  const T* w;
  const T* src;
  T* dst;
  Index cols, lds, ldd;
  FSR_HD void operator()(Index k) const {
    const Index i = k / cols, j = k % cols;
    dst[i * ldd + j] = w[i] * src[i * lds + j];
  }
};

// p[i] += a q[i].
template <typename T>
struct Axpy {
  T* p;
  const T* q;
  T a;
  FSR_HD void operator()(Index i) const { p[i] += a * q[i]; }
};

// The epilogue of gda/fast/ops.h on an m x n block C (row stride ldc), index i n + j:
// x -= bias_j; x = max(x, 0) when relu; x *= scale_j; x = 0 unless gate_ij > 0.
template <typename T>
struct Epilogue {
  T* C;
  Index n, ldc;
  const T* bias;
  const T* scale;
  const T* gate;
  Index ldg;
  bool relu;
  FSR_HD void operator()(Index k) const {
    const Index i = k / n, j = k % n;
    T x = C[i * ldc + j];
    if (bias) x -= bias[j];
    if (relu) x = x > T(0) ? x : T(0);
    if (scale) x *= scale[j];
    if (gate && !(gate[i * ldg + j] > T(0))) x = T(0);
    C[i * ldc + j] = x;
  }
};

// ---- reductions: f(r, c), summed over c by the backend (in double) ------------------------------

template <typename T>
struct SquareOf {  // x[r ld + c]^2
  const T* x;
  Index ld;
  FSR_HD double operator()(Index r, Index c) const {
    const double v = double(x[r * ld + c]);
    return v * v;
  }
};

template <typename T>
struct NonFinite {  // 1 for a NaN or an infinity
  const T* x;
  FSR_HD double operator()(Index, Index c) const {
    const T v = x[c];
    return (v - v == T(0)) ? 0.0 : 1.0;
  }
};

template <typename T>
struct Value {  // x[r ld + c]
  const T* x;
  Index ld;
  FSR_HD double operator()(Index r, Index c) const { return double(x[r * ld + c]); }
};

// ---- generator (CpuEngine::Impl::forward_generator, backward_generator) ---------------------

// Kernel 4: the transposed convolution's gather (each output pixel sums its <= 4 taps of the
// product col) + bias + ReLU + mask, output index ((i ho + y) ho + x) mo + c.
template <typename T>
struct ConvGather {
  const T* col;
  T* out;
  const T* bias;
  const T* mask;
  const int *tin, *tk, *tc, *oin, *oout;
  int hi, ho, k, mo, kmo;
  Index Pi, Po;
  FSR_HD void operator()(Index idx) const {
    const int c = int(idx % mo);
    Index r = idx / mo;
    const int x = int(r % ho);
    r /= ho;
    const int y = int(r % ho);
    const Index i = r / ho;
    T os = T(0);
    for (int a = 0; a < tc[y]; ++a)
      for (int b = 0; b < tc[x]; ++b)
        os += col[(i * Pi + oin[tin[2 * y + a] * hi + tin[2 * x + b]]) * kmo +
                  (tk[2 * y + a] * k + tk[2 * x + b]) * mo + c];
    const T v = os - bias[c];
    out[(i * Po + oout[y * ho + x]) * mo + c] = (v > T(0) ? v : T(0)) * mask[c];
  }
};

// Kernel 4, backward: dCol = im2col(dpre); index ((((i hi + iy) hi + ix) k + ky) k + kx) mo + c.
template <typename T>
struct Im2Col {
  const T* dS;
  T* dcol;
  const int *oin, *oout;
  int hi, ho, k, pad, mo, kmo;
  Index Pi, Po;
  FSR_HD void operator()(Index idx) const {
    const int c = int(idx % mo);
    Index r = idx / mo;
    const int kx = int(r % k);
    r /= k;
    const int ky = int(r % k);
    r /= k;
    const int ix = int(r % hi);
    r /= hi;
    const int iy = int(r % hi);
    const Index i = r / hi;
    const int y = 2 * iy + ky - pad, x = 2 * ix + kx - pad;
    T v = T(0);
    if (y >= 0 && y < ho && x >= 0 && x < ho) v = dS[(i * Po + oout[y * ho + x]) * mo + c];
    dcol[(i * Pi + oin[iy * hi + ix]) * kmo + (ky * k + kx) * mo + c] = v;
  }
};

// ---- discriminator read-outs (gda/fast/ops.h) --------------------------------------------------

// readout_backward, index i E + e (pointers at the span's first sample).
template <typename T>
struct ReadoutBackward {
  Index E;
  const T* u;
  T* du;
  const T* w;
  const T *lin, *quad, *cubic, *quartic, *t, *tq;
  bool child;
  FSR_HD void operator()(Index k) const {
    const Index i = k / E, e = k % E;
    const T ue = u[k];
    T v = T(0);
    if (lin) {
      T r = lin[e];
      if (quad) r += T(2) * quad[e] * ue;
      if (cubic) r += T(3) * cubic[e] * ue * ue;
      if (quartic) r += T(4) * quartic[e] * ue * ue * ue;
      if (t) r += t[k];
      if (tq) r += tq[k];
      v = w[i] * r;
    }
    if (child) v += du[k];
    du[k] = ue > T(0) ? v : T(0);
  }
};

// readout_score's term u_e (lin_e + quad_e u_e + cubic_e u_e^2 + quartic_e u_e^3 + t_e + tq_e)
// of sample i.
template <typename T>
struct ScoreTerm {
  Index E;
  const T* u;
  const T *lin, *quad, *cubic, *quartic, *t, *tq;
  FSR_HD double operator()(Index i, Index e) const {
    const Index k = i * E + e;
    const T ue = u[k];
    T r = lin ? lin[e] : T(0);
    if (quad) r += quad[e] * ue;
    if (cubic) r += cubic[e] * ue * ue;
    if (quartic) r += quartic[e] * ue * ue * ue;
    if (t) r += t[k];
    if (tq) r += tq[k];
    return double(ue * r);
  }
};

// feature_sums' quadratic (power 2), cubic (power 3) and quartic (power 4) terms w_i u_ie^p,
// summed over samples i.
template <typename T>
struct PowerFeature {
  Index E;
  const T* u;
  const T* w;
  int power;
  FSR_HD double operator()(Index i, Index e) const {
    const T ue = u[i * E + e];
    return double(power == 2   ? w[i] * ue * ue
                  : power == 3 ? w[i] * ue * ue * ue
                               : w[i] * ue * ue * ue * ue);
  }
};

// The learned read-outs' loss terms and weights w_i = dloss/df_i (CpuEngine::learned_loss):
// sample i < B writes term[i] (the loss is their sum) and its weights.
template <typename T>
FSR_HD inline T softplus(T x) {
  return x > T(20) ? x : log1p(exp(x));
}
template <typename T>
FSR_HD inline T softplus_grad(T x) {
  if (x > T(20)) return T(1);
  const T z = exp(x);
  return z / (z + T(1));
}
template <typename T>
struct LearnedLoss {
  const T* f;
  T* w;
  T* term;
  int B;
  bool discriminator, nonsaturating;
  FSR_HD void operator()(Index i) const {
    const T invB = T(1) / T(B);
    const T ff = f[B + i];
    if (discriminator) {
      const T fr = f[i];
      if (!nonsaturating) {
        term[i] = (ff - fr) * invB;
        w[i] = -invB;
        w[B + i] = invB;
      } else {
        term[i] = (softplus(-fr) + softplus(ff)) * invB;
        w[i] = -softplus_grad(-fr) * invB;
        w[B + i] = softplus_grad(ff) * invB;
      }
    } else if (!nonsaturating) {
      term[i] = -ff * invB;
      w[B + i] = -invB;
    } else {
      term[i] = softplus(-ff) * invB;
      w[B + i] = -softplus_grad(-ff) * invB;
    }
  }
};

// Optimal read-outs (CpuEngine::optimal_loss), one feature group of n values at `off` in the four
// half-batch blocks F0..F3 (real A, real B, fake A, fake B): row 0 sums ((F0 + F1) / 2)^2, row 1
// sums (F0 - F2)(F1 - F3).
template <typename T>
struct OptimalSums {
  const T *ra, *rb, *fa, *fb;
  FSR_HD double operator()(Index r, Index j) const {
    if (r == 0) {
      const T mean = T(0.5) * (ra[j] + rb[j]);
      return double(mean * mean);
    }
    return double((ra[j] - fa[j]) * (rb[j] - fb[j]));
  }
};
// One thread: scale = sums[0] + 1e-8 (stored in *scale), loss += sign sums[1] / scale.
template <typename T>
struct OptimalFinish {
  const double* sums;
  T* scale;
  double* loss;
  double sign;
  FSR_HD void operator()(Index) const {
    const T s = T(sums[0]) + T(1e-8);
    *scale = s;
    *loss += sign * double(T(sums[1]) / s);
  }
};
// The coefficients dL/dF of the four blocks for one group, index j < n.
template <typename T>
struct OptimalCoefficients {
  const T *ra, *rb, *fa, *fb;
  T *c0, *c1, *c2, *c3;
  const T* scale;
  FSR_HD void operator()(Index j) const {
    const T s = *scale;
    const T cA = (rb[j] - fb[j]) / s, cB = (ra[j] - fa[j]) / s;
    c0[j] = cA;
    c1[j] = cB;
    c2[j] = -cA;
    c3[j] = -cB;
  }
};

// ---- effective parameters (CpuEngine::Impl::refresh_generator, refresh_discriminator) ---------

// Unit u of the first layer: Â_u = A_u o A_mask_u, ||Â_u||, β_u, mask_1 of the unit's channel.
template <typename T>
struct RefreshFirstLayer {
  const T *A, *mask, *b1, *mask1;
  T *Aeff, *anorm, *thr, *umask;
  int m0, m1;
  bool relative;
  FSR_HD void operator()(Index u) const {
    T acc = T(0);
    for (int j = 0; j < m0; ++j) {
      const T v = A[u * m0 + j] * mask[u * m0 + j];
      Aeff[u * m0 + j] = v;
      acc += v * v;
    }
    const T norm = sqrt(acc);
    anorm[u] = norm;
    thr[u] = relative ? b1[u] * norm : b1[u];
    umask[u] = mask1[u % m1];
  }
};

// b_l and mask_l repeated over the k^2 taps (the kernel-2 epilogue), index t m + c.
template <typename T>
struct RefreshTaps {
  const T *bias, *mask;
  T *biasx, *maskx;
  int m;
  FSR_HD void operator()(Index k) const {
    const Index c = k % m;
    biasx[k] = bias[c];
    maskx[k] = mask[c];
  }
};

// Column j of M (d x m): M̂ = M / ||M_j|| with unit columns, else M.
template <typename T>
struct RefreshColumns {
  const T* M;
  T *Meff, *norm;
  int d, m;
  bool unit;
  FSR_HD void operator()(Index j) const {
    T acc = T(0);
    for (int r = 0; r < d; ++r) acc += M[r * m + j] * M[r * m + j];
    const T n = unit ? sqrt(acc) : T(1);
    norm[j] = n;
    for (int r = 0; r < d; ++r) Meff[r * m + j] = unit ? M[r * m + j] / n : M[r * m + j];
  }
};

// Row i of V (U x d): V̂ = V / ||V_i|| with unit rows, else V.
template <typename T>
struct RefreshRows {
  const T* V;
  T *Veff, *norm;
  int d;
  bool unit;
  FSR_HD void operator()(Index i) const {
    T acc = T(0);
    for (int c = 0; c < d; ++c) acc += V[i * d + c] * V[i * d + c];
    const T n = unit ? sqrt(acc) : T(1);
    norm[i] = n;
    for (int c = 0; c < d; ++c) Veff[i * d + c] = unit ? V[i * d + c] / n : V[i * d + c];
  }
};

// ---- gradients through the normalisations (finish_generator_gradient, finish_decoder_gradient) --

// Column j: dM = (dM̂ - M̂ <dM̂_j, M̂_j>) / ||M_j||.
template <typename T>
struct ColumnNormBackward {
  T* dM;
  const T *Meff, *norm;
  int d, m;
  FSR_HD void operator()(Index j) const {
    T dot = T(0);
    for (int r = 0; r < d; ++r) dot += dM[r * m + j] * Meff[r * m + j];
    for (int r = 0; r < d; ++r) dM[r * m + j] = (dM[r * m + j] - Meff[r * m + j] * dot) / norm[j];
  }
};

// Row i: dV = (dV̂ - V̂ <dV̂_i, V̂_i>) / ||V_i||.
template <typename T>
struct RowNormBackward {
  T* dV;
  const T *Veff, *norm;
  int d;
  FSR_HD void operator()(Index i) const {
    T dot = T(0);
    for (int c = 0; c < d; ++c) dot += dV[i * d + c] * Veff[i * d + c];
    for (int c = 0; c < d; ++c) dV[i * d + c] = (dV[i * d + c] - Veff[i * d + c] * dot) / norm[i];
  }
};

// Unit u of the first layer: db_1, dA from dβ, dÂ (relative thresholds, A_mask).
template <typename T>
struct FirstLayerBackward {
  const T *dthr, *anorm, *b1, *Aeff, *amask;
  T *db, *dA;
  int m0;
  bool relative;
  FSR_HD void operator()(Index u) const {
    if (relative) {
      db[u] = dthr[u] * anorm[u];
      const T c = dthr[u] * b1[u] / anorm[u];
      for (int j = 0; j < m0; ++j) dA[u * m0 + j] += c * Aeff[u * m0 + j];
    } else {
      db[u] = dthr[u];
    }
    for (int j = 0; j < m0; ++j) dA[u * m0 + j] *= amask[u * m0 + j];
  }
};

// ---- optimisers (CpuEngine::Impl::update: torch.optim's Adam and SGD of LibTorch 1.13) ---------

template <typename T>
struct AdamUpdate {
  T *p, *m, *v;
  const T* g;
  T b1, b2, c1, c2, sq, eps, step;  // step = lr / bias correction 1, sq = sqrt(bias correction 2)
  bool fresh;                       // the block's first update: moments start at zero
  FSR_HD void operator()(Index i) const {
    const T mi = (fresh ? T(0) : m[i]) * b1 + g[i] * c1;
    const T vi = (fresh ? T(0) : v[i]) * b2 + c2 * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    const T denom = sqrt(vi) / sq + eps;
    p[i] = p[i] + (-step * mi) / denom;
  }
};

template <typename T>
struct SgdUpdate {
  T *p, *m;
  const T* g;
  T a, mu;
  bool momentum, fresh;
  FSR_HD void operator()(Index i) const {
    if (momentum) {
      const T mi = fresh ? g[i] : m[i] * mu + g[i];
      m[i] = mi;
      p[i] += -a * mi;
    } else {
      p[i] += -a * g[i];
    }
  }
};

// One thread: out[0] = sqrt(out[0]) (a gradient norm from its sum of squares), or
// out[0] += c out[1] (a loss plus the weighted penalty).
struct SqrtScalar {
  double* x;
  FSR_HD void operator()(Index) const { *x = sqrt(*x); }
};
struct AddScaled {
  double* x;
  const double* y;
  double c;
  FSR_HD void operator()(Index) const { *x += c * *y; }
};

}  // namespace fsr::cuda
