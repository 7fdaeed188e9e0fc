// How a row-major product becomes a cuBLAS (column-major) call: the one mapping the CUDA backend
// uses (gda/cuda/cuda_backend.cuh), and the emulation of cuBLAS's gemm on the host that the checks
// run it through (gda/cuda/host_backend.h, backend "host-cublas"), so that the argument order,
// the transposition flags and the leading dimensions are checked on machines without a GPU.
//
// Row-major C (m x n, ldc) = alpha op(A) op(B) + beta C, with op(A) m x k and op(B) k x n, is
// column-major C^T = alpha op(B)^T op(A)^T + beta C^T: a row-major matrix with leading dimension
// ld is, read column-major, its transpose with the same leading dimension. So cuBLAS gets B first,
// with B's transposition flag, then A with A's, and the sizes n, m, k.
//
//   fsr::cuda::ColumnMajorGemm g = fsr::cuda::column_major(ta, tb, m, n, k, lda, ldb, ldc);
//   cublasSgemm(h, g.transa ? CUBLAS_OP_T : CUBLAS_OP_N, ..., g.M, g.N, g.K, ...,
//               g.first_is_B ? B : A, g.lda, ...);
#pragma once

#include <stdexcept>
#include <string>

#include "gda/cuda/kernels.h"

namespace fsr::cuda {

struct ColumnMajorGemm {
  bool transa = false, transb = false;  // cuBLAS's op flags for its first and second operand
  Index M = 0, N = 0, K = 0;            // cuBLAS's sizes
  Index lda = 0, ldb = 0, ldc = 0;      // leading dimensions of its first, second operand and C
  // The first operand is the row-major call's B, the second its A (always: see above).
};

inline ColumnMajorGemm column_major(bool ta, bool tb, Index m, Index n, Index k, Index lda,
                                    Index ldb, Index ldc) {
  ColumnMajorGemm g;
  g.transa = tb;
  g.transb = ta;
  g.M = n;
  g.N = m;
  g.K = k;
  g.lda = ldb;
  g.ldb = lda;
  g.ldc = ldc;
  return g;
}

// cuBLAS's rules for the leading dimensions (CUBLAS_STATUS_INVALID_VALUE otherwise).
inline void check_column_major(const ColumnMajorGemm& g) {
  auto need = [](Index ld, Index rows, const char* what) {
    if (ld < (rows > 1 ? rows : 1))
      throw std::invalid_argument(std::string("cuBLAS gemm: leading dimension ") + what + " = " +
                                  std::to_string(ld) + " < " + std::to_string(rows));
  };
  need(g.lda, g.transa ? g.K : g.M, "lda");
  need(g.ldb, g.transb ? g.N : g.K, "ldb");
  need(g.ldc, g.M, "ldc");
}

// cuBLAS's gemm, column-major, on the host: C = alpha op(A) op(B) + beta C (C not read when
// beta is 0), element (i, j) of a matrix X with leading dimension ld at X[i + j ld].
template <typename T>
void column_major_gemm(const ColumnMajorGemm& g, T alpha, const T* A, const T* B, T beta, T* C) {
  check_column_major(g);
  for (Index j = 0; j < g.N; ++j)
    for (Index i = 0; i < g.M; ++i) {
      T acc = T(0);
      for (Index p = 0; p < g.K; ++p) {
        const T a = g.transa ? A[p + i * g.lda] : A[i + p * g.lda];
        const T b = g.transb ? B[j + p * g.ldb] : B[p + j * g.ldb];
        acc += a * b;
      }
      T& c = C[i + j * g.ldc];
      c = beta == T(0) ? alpha * acc : alpha * acc + beta * c;
    }
}

}  // namespace fsr::cuda
