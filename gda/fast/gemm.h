// The matrix products of the fast engine, row-major with leading dimensions (so a slice of a
// (rows, patches, channels) buffer at one patch is a matrix): C = A B, C = A B^T, C = A^T B, each
// either overwriting C or adding to it. One entry point per shape class, so that the kernels
// behind them (gda/fast/kernels.h) can be chosen per product and per CPU.
//
//   fsr::fast::gemm_nt(rows, U, d, X, d, V, d, u, U, false);   // u = X V^T
#pragma once

#include <cstddef>

namespace fsr::fast {

// C (m x n, ldc) = [C +] A (m x k, lda) B (k x n, ldb).
template <typename T>
void gemm_nn(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, const T* A, std::ptrdiff_t lda,
             const T* B, std::ptrdiff_t ldb, T* C, std::ptrdiff_t ldc, bool accumulate);
// C (m x n) = [C +] A (m x k) B^T, B is n x k.
template <typename T>
void gemm_nt(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, const T* A, std::ptrdiff_t lda,
             const T* B, std::ptrdiff_t ldb, T* C, std::ptrdiff_t ldc, bool accumulate);
// C (m x n) = [C +] A^T B, A is k x m, B is k x n: a sum over the k rows.
template <typename T>
void gemm_tn(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, const T* A, std::ptrdiff_t lda,
             const T* B, std::ptrdiff_t ldb, T* C, std::ptrdiff_t ldc, bool accumulate);

}  // namespace fsr::fast
