// The host backend of the device step (gda/cuda/step_impl.h): "device" memory is host memory,
// products are Eigen's, element-wise passes and reductions are loops over the functors of
// gda/cuda/kernels.h. It exists so that every machine runs the device step's code — its buffers,
// its sequence of products and passes, its index arithmetic — against the CPU engine; the CUDA
// backend (gda/cuda/cuda_backend.cuh) has the same members.
//
//   fsr::cuda::HostBackend b;
//   float* x = b.alloc<float>(n);  b.for_each(n, fsr::cuda::Fill<float>{x, 1.0f});  b.release(x);
#pragma once

#include <Eigen/Core>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gda/cuda/blas_map.h"
#include "gda/cuda/kernels.h"

namespace fsr::cuda {

struct HostBackend {
  std::string device() const { return "host"; }

  template <typename T>
  T* alloc(std::size_t n) {
    void* p = std::calloc(n > 0 ? n : 1, sizeof(T));
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void release(void* p) { std::free(p); }
  void to_device(void* dst, const void* src, std::size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void to_host(void* dst, const void* src, std::size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) std::memmove(dst, src, bytes);
  }
  void synchronize() {}

  // Row-major C (m x n, ldc) = alpha op(A) op(B) + beta C; op(A) is m x k (A itself k x m when
  // ta), op(B) k x n (B n x k when tb). beta is 0 or 1.
  template <typename T>
  void gemm(bool ta, bool tb, Index m, Index n, Index k, T alpha, const T* A, Index lda,
            const T* B, Index ldb, T beta, T* C, Index ldc) {
    using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using Map = Eigen::Map<Mat, 0, Eigen::OuterStride<>>;
    using CMap = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
    if (m == 0 || n == 0) return;
    Map c(C, m, n, Eigen::OuterStride<>(ldc));
    if (beta == T(0)) c.setZero();
    if (k == 0) return;
    const CMap a(A, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
    const CMap b(B, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
    if (!ta && !tb) c.noalias() += alpha * (a * b);
    if (!ta && tb) c.noalias() += alpha * (a * b.transpose());
    if (ta && !tb) c.noalias() += alpha * (a.transpose() * b);
    if (ta && tb) c.noalias() += alpha * (a.transpose() * b.transpose());
  }
  // count products, the i-th on A + i sa, B + i sb, C + i sc.
  template <typename T>
  void gemm_batched(bool ta, bool tb, Index m, Index n, Index k, T alpha, const T* A, Index lda,
                    Index sa, const T* B, Index ldb, Index sb, T beta, T* C, Index ldc, Index sc,
                    Index count) {
    for (Index i = 0; i < count; ++i)
      gemm(ta, tb, m, n, k, alpha, A + i * sa, lda, B + i * sb, ldb, beta, C + i * sc, ldc);
  }

  template <typename F>
  void for_each(Index n, const F& f) {
    for (Index i = 0; i < n; ++i) f(i);
  }
  // out[r] = [out[r] +] sum_c f(r, c), summed in double.
  template <typename T, typename F>
  void reduce_rows(Index rows, Index cols, const F& f, T* out, bool accumulate) {
    for (Index r = 0; r < rows; ++r) {
      double s = 0;
      for (Index c = 0; c < cols; ++c) s += f(r, c);
      out[r] = T(accumulate ? double(out[r]) + s : s);
    }
  }
  // out[c] = [out[c] +] sum_r f(r, c), summed in double.
  template <typename T, typename F>
  void reduce_cols(Index rows, Index cols, const F& f, T* out, bool accumulate) {
    for (Index c = 0; c < cols; ++c) {
      double s = 0;
      for (Index r = 0; r < rows; ++r) s += f(r, c);
      out[c] = T(accumulate ? double(out[c]) + s : s);
    }
  }
};

// The host backend with the products done as the CUDA backend does them: through the row-major
// to column-major mapping of gda/cuda/blas_map.h, its checks of the leading dimensions, and a
// reference column-major gemm with cuBLAS's semantics (k = 0 as CudaBackend handles it).
struct CublasEmulationBackend : HostBackend {
  std::string device() const { return "host-cublas"; }

  template <typename T>
  void gemm(bool ta, bool tb, Index m, Index n, Index k, T alpha, const T* A, Index lda,
            const T* B, Index ldb, T beta, T* C, Index ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
      if (beta == T(0)) for_each(m * n, ZeroBlock<T>{C, n, ldc});
      return;
    }
    column_major_gemm(column_major(ta, tb, m, n, k, lda, ldb, ldc), alpha, B, A, beta, C);
  }
  template <typename T>
  void gemm_batched(bool ta, bool tb, Index m, Index n, Index k, T alpha, const T* A, Index lda,
                    Index sa, const T* B, Index ldb, Index sb, T beta, T* C, Index ldc, Index sc,
                    Index count) {
    for (Index i = 0; i < count; ++i)
      gemm(ta, tb, m, n, k, alpha, A + i * sa, lda, B + i * sb, ldb, beta, C + i * sc, ldc);
  }
};

}  // namespace fsr::cuda
