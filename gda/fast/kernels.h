// The fast engine's float32 kernels, compiled once per instruction set (AVX-512, AVX2 + FMA,
// SSE2) from one source (kernels_impl.inc) and chosen at run time for the CPU in hand, so one
// portable binary runs the widest vectors the machine has. The products need no packing and no
// zero-fill: every dimension of the model's products but the batch is small (d = r^2 c, m_l, U_l
// <= a few hundred), so a register tile of C is accumulated straight from the row-major operands
// and written once, with the element-wise work that follows a product (bias, ReLU, channel mask,
// the ReLU gate of a backward pass) applied on the way out.
//
//   const fsr::fast::kernels::Table& k = fsr::fast::kernels::active();   // e.g. k.isa = "avx512"
//   k.sgemm_nn(M, N, K, A, lda, B, ldb, C, ldc, /*accumulate=*/false, nullptr);   // C = A B
//
// FSR_FAST_ISA=sse2|avx2|avx512 picks a narrower set (tests run every one the CPU supports).
// Results may differ between sets in the last bits (FMA or not, summation across lanes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fsr::fast::kernels {

using Index = std::ptrdiff_t;

// The argument blocks below are plain aggregates, no constructors: an inline function compiled
// in the AVX-512 translation unit must not be shared with the others. Value-initialise with {}.

// Applied to each entry C_ij of a product, in this order: x -= bias_j; x = max(x, 0) when relu;
// x *= scale_j; x = 0 unless gate_ij > 0 (gate row-major with row stride ldg). Null: skipped.
struct Epilogue {
  const float* bias;
  const float* scale;
  const float* gate;
  Index ldg;
  bool relu;
};

// Per sample i < n, over the E values of its row (u, du, t, tq rows are E floats apart):
//   du = ([lin: w_i (lin + 2 quad o u + 3 cubic o u^2 + 4 quartic o u^3 + t + tq)] [+ du when
//   child]) o [u > 0]
// lin, quad, cubic, quartic are E-vectors (null: absent; lin null: no read-out of this level's
// own).
struct ReadoutBackward {
  Index n, E;
  const float* u;
  float* du;
  const float* w;
  const float* lin;
  const float* quad;
  const float* cubic;
  const float* quartic;
  const float* t;
  const float* tq;
  bool child;
};

// lin += sum_i w_i u_i, quad += sum_i w_i u_i^2, cubic += sum_i w_i u_i^3, quartic += sum_i w_i
// u_i^4 (null: skipped).
struct FeatureSums {
  Index n, E;
  const float* u;
  const float* w;
  float* lin;
  float* quad;
  float* cubic;
  float* quartic;
};

// f_i += sum_e u_ie (lin_e + quad_e u_ie + cubic_e u_ie^2 + quartic_e u_ie^3 + t_ie + tq_ie)
// (null terms skipped).
struct ReadoutScore {
  Index n, E;
  const float* u;
  float* f;
  const float* lin;
  const float* quad;
  const float* cubic;
  const float* quartic;
  const float* t;
  const float* tq;
};

struct Table {
  const char* isa;
  int width;  // floats per vector
  // C (M x N, ldc) = [C +] A (M x K, lda) B (K x N, ldb), all row-major; then the epilogue.
  void (*sgemm_nn)(Index M, Index N, Index K, const float* A, Index lda, const float* B, Index ldb,
                   float* C, Index ldc, bool accumulate, const Epilogue* epilogue);
  // C (M x N) = [C +] A (M x K) B^T, B is N x K; then the epilogue.
  void (*sgemm_nt)(Index M, Index N, Index K, const float* A, Index lda, const float* B, Index ldb,
                   float* C, Index ldc, bool accumulate, const Epilogue* epilogue);
  // C (M x N) = [C +] A^T B, A is K x M, B is K x N: the sum over K rows.
  void (*sgemm_tn)(Index M, Index N, Index K, const float* A, Index lda, const float* B, Index ldb,
                   float* C, Index ldc, bool accumulate);
  void (*readout_backward)(const ReadoutBackward& args);
  void (*feature_sums)(const FeatureSums& args);
  void (*readout_score)(const ReadoutScore& args);
  // n N(0, 1) values by single-precision Box-Muller from bits[0 .. ceil(n/2)): per 64-bit value
  // u1 = (bits 40..63 + 1) 2^-24 in (0, 1], u2 = (bits 16..39) 2^-24 in [0, 1),
  // out[2k] = sqrt(-2 ln u1) cos(2 pi u2), out[2k + 1] = ... sin (dropped past n).
  void (*normals)(const std::uint64_t* bits, float* out, Index n);
};

// The widest table this CPU supports (or the one FSR_FAST_ISA names), chosen at first use.
const Table& active();
// The table of one instruction set, or nullptr when this CPU lacks it.
const Table* table(const char* isa);

}  // namespace fsr::fast::kernels
