#include "gda/fast/gemm.h"

#include <Eigen/Dense>

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

}  // namespace

template <typename T>
void gemm_nn(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, const T* A, std::ptrdiff_t lda,
             const T* B, std::ptrdiff_t ldb, T* C, std::ptrdiff_t ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
  Map<T> c(C, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (!accumulate) c.setZero();
    return;
  }
  store<T>(
      c, CMap<T>(A, m, k, Eigen::OuterStride<>(lda)) * CMap<T>(B, k, n, Eigen::OuterStride<>(ldb)),
      accumulate);
}

template <typename T>
void gemm_nt(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, const T* A, std::ptrdiff_t lda,
             const T* B, std::ptrdiff_t ldb, T* C, std::ptrdiff_t ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
  Map<T> c(C, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (!accumulate) c.setZero();
    return;
  }
  store<T>(c,
           CMap<T>(A, m, k, Eigen::OuterStride<>(lda)) *
               CMap<T>(B, n, k, Eigen::OuterStride<>(ldb)).transpose(),
           accumulate);
}

template <typename T>
void gemm_tn(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, const T* A, std::ptrdiff_t lda,
             const T* B, std::ptrdiff_t ldb, T* C, std::ptrdiff_t ldc, bool accumulate) {
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

#define FSR_GEMM_INSTANTIATE(T)                                                                 \
  template void gemm_nn<T>(std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, const T*,            \
                           std::ptrdiff_t, const T*, std::ptrdiff_t, T*, std::ptrdiff_t, bool); \
  template void gemm_nt<T>(std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, const T*,            \
                           std::ptrdiff_t, const T*, std::ptrdiff_t, T*, std::ptrdiff_t, bool); \
  template void gemm_tn<T>(std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, const T*,            \
                           std::ptrdiff_t, const T*, std::ptrdiff_t, T*, std::ptrdiff_t, bool);
FSR_GEMM_INSTANTIATE(float)
FSR_GEMM_INSTANTIATE(double)
#undef FSR_GEMM_INSTANTIATE

}  // namespace fsr::fast
