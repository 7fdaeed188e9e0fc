#include "gda/fast/ops.h"

#include <Eigen/Dense>
#include <algorithm>
#include <vector>

#include "gda/fast/kernels.h"

namespace fsr::fast {
namespace {

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using Map = Eigen::Map<RowMat<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using CMap = Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>>;

template <typename T, typename Product>
void store(Map<T> c, const Product& p, bool accumulate) {
  if (accumulate)
    c.noalias() += p;
  else
    c.noalias() = p;
}

template <typename T>
void apply(Index m, Index n, T* C, Index ldc, const Epilogue<T>* ep) {
  if (!ep) return;
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) {
      T x = C[i * ldc + j];
      if (ep->bias) x -= ep->bias[j];
      if (ep->relu) x = std::max(x, T(0));
      if (ep->scale) x *= ep->scale[j];
      if (ep->gate && !(ep->gate[i * ep->ldg + j] > T(0))) x = T(0);
      C[i * ldc + j] = x;
    }
}

kernels::Epilogue to_kernel(const Epilogue<float>* e) {
  kernels::Epilogue k{};
  k.bias = e->bias;
  k.scale = e->scale;
  k.gate = e->gate;
  k.ldg = e->ldg;
  k.relu = e->relu;
  return k;
}

}  // namespace

template <typename T>
void gemm_nn(Index m, Index n, Index k, const T* A, Index lda, const T* B, Index ldb, T* C,
             Index ldc, bool accumulate, const Epilogue<T>* ep) {
  if (m == 0 || n == 0) return;
  Map<T> c(C, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (!accumulate) c.setZero();
  } else {
    store<T>(
        c,
        CMap<T>(A, m, k, Eigen::OuterStride<>(lda)) * CMap<T>(B, k, n, Eigen::OuterStride<>(ldb)),
        accumulate);
  }
  apply(m, n, C, ldc, ep);
}

template <typename T>
void gemm_nt(Index m, Index n, Index k, const T* A, Index lda, const T* B, Index ldb, T* C,
             Index ldc, bool accumulate, const Epilogue<T>* ep) {
  if (m == 0 || n == 0) return;
  Map<T> c(C, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (!accumulate) c.setZero();
  } else {
    store<T>(c,
             CMap<T>(A, m, k, Eigen::OuterStride<>(lda)) *
                 CMap<T>(B, n, k, Eigen::OuterStride<>(ldb)).transpose(),
             accumulate);
  }
  apply(m, n, C, ldc, ep);
}

template <typename T>
void gemm_tn(Index m, Index n, Index k, const T* A, Index lda, const T* B, Index ldb, T* C,
             Index ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
  Map<T> c(C, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (!accumulate) c.setZero();
    return;
  }
  store<T>(c,
           CMap<T>(A, k, m, Eigen::OuterStride<>(lda)).transpose() *
               CMap<T>(B, k, n, Eigen::OuterStride<>(ldb)),
           accumulate);
}

template <typename T>
void readout_backward(const ReadoutBackward<T>& a) {
  for (Index i = 0; i < a.n; ++i) {
    const T* u = a.u + i * a.E;
    T* du = a.du + i * a.E;
    for (Index e = 0; e < a.E; ++e) {
      T v = 0;
      if (a.lin) {
        T r = a.lin[e];
        if (a.quad) r += T(2) * a.quad[e] * u[e];
        if (a.cubic) r += T(3) * a.cubic[e] * u[e] * u[e];
        if (a.quartic) r += T(4) * a.quartic[e] * u[e] * u[e] * u[e];
        if (a.t) r += a.t[i * a.E + e];
        if (a.tq) r += a.tq[i * a.E + e];
        v = a.w[i] * r;
      }
      if (a.child) v += du[e];
      du[e] = u[e] > T(0) ? v : T(0);
    }
  }
}

template <typename T>
void feature_sums(const FeatureSums<T>& a) {
  for (Index i = 0; i < a.n; ++i) {
    const T* u = a.u + i * a.E;
    const T w = a.w[i];
    for (Index e = 0; e < a.E; ++e) {
      if (a.lin) a.lin[e] += w * u[e];
      if (a.quad) a.quad[e] += w * u[e] * u[e];
      if (a.cubic) a.cubic[e] += w * u[e] * u[e] * u[e];
      if (a.quartic) a.quartic[e] += w * u[e] * u[e] * u[e] * u[e];
    }
  }
}

template <typename T>
void readout_score(const ReadoutScore<T>& a) {
  for (Index i = 0; i < a.n; ++i) {
    const T* u = a.u + i * a.E;
    T acc = 0;
    for (Index e = 0; e < a.E; ++e) {
      T r = a.lin ? a.lin[e] : T(0);
      if (a.quad) r += a.quad[e] * u[e];
      if (a.cubic) r += a.cubic[e] * u[e] * u[e];
      if (a.quartic) r += a.quartic[e] * u[e] * u[e] * u[e];
      if (a.t) r += a.t[i * a.E + e];
      if (a.tq) r += a.tq[i * a.E + e];
      acc += u[e] * r;
    }
    a.f[i] += acc;
  }
}

// float32: the dispatched kernels.
template <>
void gemm_nn<float>(Index m, Index n, Index k, const float* A, Index lda, const float* B, Index ldb,
                    float* C, Index ldc, bool accumulate, const Epilogue<float>* ep) {
  const kernels::Epilogue e = ep ? to_kernel(ep) : kernels::Epilogue{};
  kernels::active().sgemm_nn(m, n, k, A, lda, B, ldb, C, ldc, accumulate, ep ? &e : nullptr);
}
template <>
void gemm_nt<float>(Index m, Index n, Index k, const float* A, Index lda, const float* B, Index ldb,
                    float* C, Index ldc, bool accumulate, const Epilogue<float>* ep) {
  const kernels::Epilogue e = ep ? to_kernel(ep) : kernels::Epilogue{};
  kernels::active().sgemm_nt(m, n, k, A, lda, B, ldb, C, ldc, accumulate, ep ? &e : nullptr);
}
template <>
void gemm_tn<float>(Index m, Index n, Index k, const float* A, Index lda, const float* B, Index ldb,
                    float* C, Index ldc, bool accumulate) {
  kernels::active().sgemm_tn(m, n, k, A, lda, B, ldb, C, ldc, accumulate);
}
template <>
void readout_backward<float>(const ReadoutBackward<float>& a) {
  kernels::ReadoutBackward k{};
  k.n = a.n;
  k.E = a.E;
  k.u = a.u;
  k.du = a.du;
  k.w = a.w;
  k.lin = a.lin;
  k.quad = a.quad;
  k.cubic = a.cubic;
  k.quartic = a.quartic;
  k.t = a.t;
  k.tq = a.tq;
  k.child = a.child;
  kernels::active().readout_backward(k);
}
template <>
void feature_sums<float>(const FeatureSums<float>& a) {
  kernels::FeatureSums k{};
  k.n = a.n;
  k.E = a.E;
  k.u = a.u;
  k.w = a.w;
  k.lin = a.lin;
  k.quad = a.quad;
  k.cubic = a.cubic;
  k.quartic = a.quartic;
  kernels::active().feature_sums(k);
}
template <>
void readout_score<float>(const ReadoutScore<float>& a) {
  kernels::ReadoutScore k{};
  k.n = a.n;
  k.E = a.E;
  k.u = a.u;
  k.f = a.f;
  k.lin = a.lin;
  k.quad = a.quad;
  k.cubic = a.cubic;
  k.quartic = a.quartic;
  k.t = a.t;
  k.tq = a.tq;
  kernels::active().readout_score(k);
}

template <>
void normals_from_bits<float>(const std::uint64_t* bits, float* out, Index n) {
  kernels::active().normals(bits, out, n);
}
template <>
void normals_from_bits<double>(const std::uint64_t* bits, double* out, Index n) {
  std::vector<float> f(static_cast<std::size_t>(n));
  kernels::active().normals(bits, f.data(), n);
  std::copy(f.begin(), f.end(), out);
}

template void gemm_nn<double>(Index, Index, Index, const double*, Index, const double*, Index,
                              double*, Index, bool, const Epilogue<double>*);
template void gemm_nt<double>(Index, Index, Index, const double*, Index, const double*, Index,
                              double*, Index, bool, const Epilogue<double>*);
template void gemm_tn<double>(Index, Index, Index, const double*, Index, const double*, Index,
                              double*, Index, bool);
template void readout_backward<double>(const ReadoutBackward<double>&);
template void feature_sums<double>(const FeatureSums<double>&);
template void readout_score<double>(const ReadoutScore<double>&);

}  // namespace fsr::fast
