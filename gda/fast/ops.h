// The numerical building blocks of the fast engine (gda/fast/cpu_engine.cpp), for float32 and
// float64: matrix products over row-major operands with leading dimensions (so a slice of a
// (rows, patches, channels) buffer at one patch is a matrix) and an optional epilogue, and the
// element-wise passes of the read-outs. float32 runs the vector kernels chosen for this CPU
// (gda/fast/kernels.h); float64 — the reference instantiation the checks compare against — runs
// Eigen products and plain loops of the same definitions.
//
//   fsr::fast::Epilogue<float> relu{.bias = tau, .relu = true};
//   fsr::fast::gemm_nt<float>(rows, U, d, X, d, V, d, u, U, false, &relu);  // u = ReLU(X V^T -
//   tau)
#pragma once

#include <cstddef>
#include <cstdint>

namespace fsr::fast {

using Index = std::ptrdiff_t;

// Applied to each entry C_ij of a product, in this order: x -= bias_j; x = max(x, 0) when relu;
// x *= scale_j; x = 0 unless gate_ij > 0 (row stride ldg). Null pointers: skipped.
template <typename T>
struct Epilogue {
  const T* bias = nullptr;
  const T* scale = nullptr;
  const T* gate = nullptr;
  Index ldg = 0;
  bool relu = false;
};

// C (m x n, ldc) = [C +] A (m x k, lda) B (k x n, ldb); then the epilogue.
template <typename T>
void gemm_nn(Index m, Index n, Index k, const T* A, Index lda, const T* B, Index ldb, T* C,
             Index ldc, bool accumulate, const Epilogue<T>* epilogue = nullptr);
// C (m x n) = [C +] A (m x k) B^T, B is n x k; then the epilogue.
template <typename T>
void gemm_nt(Index m, Index n, Index k, const T* A, Index lda, const T* B, Index ldb, T* C,
             Index ldc, bool accumulate, const Epilogue<T>* epilogue = nullptr);
// C (m x n) = [C +] A^T B, A is k x m, B is k x n: a sum over the k rows.
template <typename T>
void gemm_tn(Index m, Index n, Index k, const T* A, Index lda, const T* B, Index ldb, T* C,
             Index ldc, bool accumulate);

// Per sample i < n over the E values of its row (u, du, t, tq rows are E apart):
//   du = ([lin: w_i (lin + 2 quad o u + 3 cubic o u^2 + 4 quartic o u^3 + t + tq)] [+ du when
//   child]) o [u > 0].
template <typename T>
struct ReadoutBackward {
  Index n = 0, E = 0;
  const T* u = nullptr;
  T* du = nullptr;
  const T* w = nullptr;
  const T* lin = nullptr;  // null: no read-out of the level's own (a parent-only level)
  const T* quad = nullptr;
  const T* cubic = nullptr;
  const T* quartic = nullptr;
  const T* t = nullptr;
  const T* tq = nullptr;
  bool child = false;
};
template <typename T>
void readout_backward(const ReadoutBackward<T>& args);

// lin += sum_i w_i u_i, quad += sum_i w_i u_i^2, cubic += sum_i w_i u_i^3, quartic += sum_i w_i
// u_i^4 (null: skipped).
template <typename T>
struct FeatureSums {
  Index n = 0, E = 0;
  const T* u = nullptr;
  const T* w = nullptr;
  T* lin = nullptr;
  T* quad = nullptr;
  T* cubic = nullptr;
  T* quartic = nullptr;
};
template <typename T>
void feature_sums(const FeatureSums<T>& args);

// f_i += sum_e u_ie (lin_e + quad_e u_ie + cubic_e u_ie^2 + quartic_e u_ie^3 + t_ie + tq_ie)
// (null terms skipped).
template <typename T>
struct ReadoutScore {
  Index n = 0, E = 0;
  const T* u = nullptr;
  T* f = nullptr;
  const T* lin = nullptr;
  const T* quad = nullptr;
  const T* cubic = nullptr;
  const T* quartic = nullptr;
  const T* t = nullptr;
  const T* tq = nullptr;
};
template <typename T>
void readout_score(const ReadoutScore<T>& args);

// n N(0, 1) values by single-precision Box-Muller from ceil(n / 2) random 64-bit values
// (definition in gda/fast/kernels.h); the float64 instantiation returns the same values widened.
template <typename T>
void normals_from_bits(const std::uint64_t* bits, T* out, Index n);

// The float32 versions run the kernels of gda/fast/kernels.h.
template <>
void gemm_nn<float>(Index, Index, Index, const float*, Index, const float*, Index, float*, Index,
                    bool, const Epilogue<float>*);
template <>
void gemm_nt<float>(Index, Index, Index, const float*, Index, const float*, Index, float*, Index,
                    bool, const Epilogue<float>*);
template <>
void gemm_tn<float>(Index, Index, Index, const float*, Index, const float*, Index, float*, Index,
                    bool);
template <>
void readout_backward<float>(const ReadoutBackward<float>&);
template <>
void feature_sums<float>(const FeatureSums<float>&);
template <>
void readout_score<float>(const ReadoutScore<float>&);
template <>
void normals_from_bits<float>(const std::uint64_t*, float*, Index);
template <>
void normals_from_bits<double>(const std::uint64_t*, double*, Index);

}  // namespace fsr::fast
