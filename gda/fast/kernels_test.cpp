// The float32 kernels of gda/fast/kernels.h, every instruction set this CPU supports, against
// float64 loops written from the definitions in the header:
//  * products: shapes with and without vector tails (N mod width), tile tails (M mod the tile's
//    rows), K from 1 to 600 (the row chunks of sgemm_tn), strided operands (lda > K, the slices
//    the engine passes), overwrite and accumulate, every epilogue (bias, ReLU, scale, gate).
//    Bound per entry: the float32 rounding of a K-term dot product, K 2^-24 sum_k |a_k b_k|
//    (plus the rounding of C when accumulating);
//  * the read-out passes (backward, feature sums, score) with every term present or absent;
//  * Box-Muller normals against the same formula in float64 from the same bits.
#include "gda/fast/kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/rng.h"

namespace fsr::fast::kernels {
namespace {

std::vector<float> random(std::size_t n, std::uint64_t stream) {
  Rng rng(3, stream);
  std::vector<float> v(n);
  for (float& x : v) x = float(rng.normal());
  return v;
}

enum class Kind { kNN, kNT, kTN };

void check(const Table& t, Kind kind, Index M, Index N, Index K, bool acc,
           bool with_epilogue = false) {
  // Operand layouts with padding beyond the logical width (strides), as the engine's slices.
  const Index pad = 3;
  const Index ar = kind == Kind::kTN ? K : M, ac = kind == Kind::kTN ? M : K;
  const Index br = kind == Kind::kNT ? N : K, bc = kind == Kind::kNT ? K : N;
  const Index lda = ac + pad, ldb = bc + pad, ldc = N + pad;
  const std::vector<float> A = random(std::size_t(ar * lda), 1),
                           B = random(std::size_t(br * ldb), 2);
  std::vector<float> C = random(std::size_t(M * ldc), 3);
  const std::vector<float> C0 = C;
  auto a = [&](Index i, Index k) { return kind == Kind::kTN ? A[k * lda + i] : A[i * lda + k]; };
  auto b = [&](Index k, Index j) { return kind == Kind::kNT ? B[j * ldb + k] : B[k * ldb + j]; };
  // Epilogue: bias, ReLU, scale, and a gate that is positive on about half the entries.
  const std::vector<float> bias = random(std::size_t(N), 4), scale = random(std::size_t(N), 5),
                           gate = random(std::size_t(M * ldc), 6);
  kernels::Epilogue ep{};
  ep.bias = bias.data();
  ep.scale = scale.data();
  ep.gate = gate.data();
  ep.ldg = ldc;
  ep.relu = true;
  if (kind == Kind::kTN)
    t.sgemm_tn(M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, acc);
  else
    (kind == Kind::kNN ? t.sgemm_nn : t.sgemm_nt)(M, N, K, A.data(), lda, B.data(), ldb, C.data(),
                                                  ldc, acc, with_epilogue ? &ep : nullptr);
  for (Index i = 0; i < M; ++i) {
    for (Index j = 0; j < N; ++j) {
      double want = acc ? C0[i * ldc + j] : 0.0, mag = acc ? std::abs(C0[i * ldc + j]) : 0.0;
      for (Index k = 0; k < K; ++k) {
        want += double(a(i, k)) * b(k, j);
        mag += std::abs(double(a(i, k)) * b(k, j));
      }
      double tol = (K + 2) * 0x1p-24 * mag + 1e-30;
      if (with_epilogue) {
        want = std::max(want - bias[j], 0.0) * scale[j];
        if (!(gate[i * ldc + j] > 0)) want = 0;
        tol = tol * std::abs(scale[j]) + 4 * 0x1p-24 * std::abs(want);
      }
      ASSERT_NEAR(C[i * ldc + j], want, tol)
          << t.isa << " kind " << int(kind) << " M " << M << " N " << N << " K " << K << " acc "
          << acc << " at (" << i << ", " << j << ")";
    }
    for (Index j = N; j < ldc; ++j)  // the padding beyond N is never written
      ASSERT_EQ(C[i * ldc + j], C0[i * ldc + j]) << t.isa << " wrote past N at row " << i;
  }
}

TEST(Kernels, EverySupportedInstructionSetMatchesFloat64) {
  int sets = 0;
  for (const char* isa : {"sse2", "avx2", "avx512"}) {
    const Table* t = table(isa);
    if (!t) {
      std::printf("%s: not supported by this CPU, skipped\n", isa);
      continue;
    }
    ++sets;
    for (Kind kind : {Kind::kNN, Kind::kNT, Kind::kTN})
      for (Index M : {1, 5, 16, 37})
        for (Index N : {1, 8, 12, 16, 33, 70})
          for (Index K : {1, 12, 24})
            for (bool acc : {false, true}) {
              check(*t, kind, M, N, K, acc);
              if (kind != Kind::kTN) check(*t, kind, M, N, K, acc, true);
            }
    // Long reductions (sgemm_tn's row chunks) and wide products (several column blocks).
    for (Kind kind : {Kind::kNN, Kind::kNT, Kind::kTN}) {
      check(*t, kind, 24, 130, 600, false);
      check(*t, kind, 600, 24, 40, true);
    }
  }
  EXPECT_GE(sets, 1);  // SSE2 exists on every x86-64
  std::printf("active: %s (%d floats per vector)\n", active().isa, active().width);
}

TEST(Kernels, EmptyReductionZeroesOrKeeps) {
  const Table& t = active();
  std::vector<float> C(6, 5.0f);
  t.sgemm_nn(2, 3, 0, nullptr, 0, nullptr, 0, C.data(), 3, true, nullptr);
  EXPECT_EQ(C[0], 5.0f);
  t.sgemm_tn(2, 3, 0, nullptr, 0, nullptr, 0, C.data(), 3, false);
  for (float v : C) EXPECT_EQ(v, 0.0f);
}

std::vector<const Table*> supported_tables() {
  std::vector<const Table*> v;
  for (const char* isa : {"sse2", "avx2", "avx512"})
    if (const Table* t = table(isa)) v.push_back(t);
  return v;
}

// E = 37 values per row (vector tails for every width), 5 rows; every term (quartic included) on
// or off.
TEST(Kernels, ReadoutPassesMatchFloat64) {
  const Index n = 5, E = 37;
  std::vector<float> u = random(std::size_t(n * E), 10);
  for (std::size_t i = 0; i < u.size(); i += 3) u[i] = -std::abs(u[i]);  // some ReLUs off
  const std::vector<float> w = random(std::size_t(n), 11), lin = random(std::size_t(E), 12),
                           quad = random(std::size_t(E), 13), cubic = random(std::size_t(E), 14),
                           tt = random(std::size_t(n * E), 15), tq = random(std::size_t(n * E), 16),
                           child = random(std::size_t(n * E), 17),
                           quartic = random(std::size_t(E), 18);
  for (const Table* t : supported_tables())
    for (int mask = 0; mask < 128; ++mask) {
      const bool own = mask & 1, q = mask & 2, c = mask & 4, has_t = mask & 8, has_tq = mask & 16,
                 ch = mask & 32, c4 = mask & 64;
      std::vector<float> du = child;
      kernels::ReadoutBackward rb{};
      rb.n = n;
      rb.E = E;
      rb.u = u.data();
      rb.du = du.data();
      rb.w = w.data();
      rb.lin = own ? lin.data() : nullptr;
      rb.quad = own && q ? quad.data() : nullptr;
      rb.cubic = own && c ? cubic.data() : nullptr;
      rb.quartic = own && c4 ? quartic.data() : nullptr;
      rb.t = own && has_t ? tt.data() : nullptr;
      rb.tq = own && has_tq ? tq.data() : nullptr;
      rb.child = ch;
      t->readout_backward(rb);
      std::vector<float> fl(E, 1.0f), fq(E, 2.0f), fc(E, 3.0f), f4(E, 4.0f), f(n, 0.5f);
      kernels::FeatureSums fs{};
      fs.n = n;
      fs.E = E;
      fs.u = u.data();
      fs.w = w.data();
      fs.lin = fl.data();
      fs.quad = q ? fq.data() : nullptr;
      fs.cubic = c ? fc.data() : nullptr;
      fs.quartic = c4 ? f4.data() : nullptr;
      t->feature_sums(fs);
      kernels::ReadoutScore sc{};
      sc.n = n;
      sc.E = E;
      sc.u = u.data();
      sc.f = f.data();
      sc.lin = own ? lin.data() : nullptr;
      sc.quad = q ? quad.data() : nullptr;
      sc.cubic = c ? cubic.data() : nullptr;
      sc.quartic = c4 ? quartic.data() : nullptr;
      sc.t = has_t ? tt.data() : nullptr;
      sc.tq = has_tq ? tq.data() : nullptr;
      t->readout_score(sc);
      // Float64 from the definitions. Tolerances: a few float32 roundings of O(10) values
      // (backward, sums over 5 rows), 2^-24 x 4 E x the largest term (score over 37 positions).
      for (Index i = 0; i < n; ++i) {
        double score = 0.5, mag = 0.5;
        for (Index e = 0; e < E; ++e) {
          const std::size_t k = std::size_t(i * E + e);
          const double ue = u[k];
          double r = own ? lin[e] : 0.0, v = 0.0;
          if (own) {
            if (q) r += 2.0 * quad[e] * ue;
            if (c) r += 3.0 * cubic[e] * ue * ue;
            if (c4) r += 4.0 * quartic[e] * ue * ue * ue;
            if (has_t) r += tt[k];
            if (has_tq) r += tq[k];
            v = w[i] * r;
          }
          if (ch) v += child[k];
          const double want = ue > 0 ? v : 0.0;
          ASSERT_NEAR(du[k], want, 1e-5 * (1 + std::abs(want))) << t->isa << " mask " << mask;
          double s = own ? lin[e] : 0.0;
          if (q) s += quad[e] * ue;
          if (c) s += cubic[e] * ue * ue;
          if (c4) s += quartic[e] * ue * ue * ue;
          if (has_t) s += tt[k];
          if (has_tq) s += tq[k];
          score += ue * s;
          mag += std::abs(ue * s);
        }
        ASSERT_NEAR(f[i], score, 4 * E * 0x1p-24 * mag) << t->isa << " score, mask " << mask;
      }
      for (Index e = 0; e < E; ++e) {
        double sl = 1, sq = 2, sc3 = 3, sc4 = 4;
        for (Index i = 0; i < n; ++i) {
          const double ue = u[std::size_t(i * E + e)];
          sl += w[i] * ue;
          sq += w[i] * ue * ue;
          sc3 += w[i] * ue * ue * ue;
          sc4 += w[i] * ue * ue * ue * ue;
        }
        ASSERT_NEAR(fl[e], sl, 1e-5 * (1 + std::abs(sl))) << t->isa;
        if (q) {
          ASSERT_NEAR(fq[e], sq, 1e-5 * (1 + std::abs(sq))) << t->isa;
        }
        if (c) {
          ASSERT_NEAR(fc[e], sc3, 1e-5 * (1 + std::abs(sc3))) << t->isa;
        }
        if (c4) {
          ASSERT_NEAR(f4[e], sc4, 1e-5 * (1 + std::abs(sc4))) << t->isa;
        }
      }
    }
}

// The single-precision polynomials (Cephes logf, sinf/cosf after the quadrant reduction) against
// the formula in float64 from the same bits: |error| <= 2e-6 (1 + |z|), ~10 float32 roundings.
TEST(Kernels, BoxMullerMatchesFloat64Formula) {
  Rng rng(11, 3);
  std::vector<std::uint64_t> bits(4099);
  rng.fill_u64(bits.data(), bits.size());
  bits[0] = ~std::uint64_t{0};  // u1 = 1 exactly: radius 0
  bits[1] = 0;                  // u1 = 2^-24, u2 = 0: the largest radius, angle 0
  for (const Table* t : supported_tables()) {
    std::vector<float> out(2 * bits.size() - 1);  // odd: the last sine is dropped
    t->normals(bits.data(), out.data(), Index(out.size()));
    double worst = 0;
    for (std::size_t k = 0; k < out.size(); ++k) {
      const std::uint64_t b = bits[k / 2];
      const double u1 = (double((b >> 40) & 0xFFFFFFu) + 1) * 0x1p-24;
      const double u2 = double((b >> 16) & 0xFFFFFFu) * 0x1p-24;
      const double r = std::sqrt(-2 * std::log(u1)), a = 2 * M_PI * u2;
      const double want = k % 2 == 0 ? r * std::cos(a) : r * std::sin(a);
      worst = std::max(worst, std::abs(out[k] - want) / (1 + std::abs(want)));
      ASSERT_NEAR(out[k], want, 2e-6 * (1 + std::abs(want))) << t->isa << " value " << k;
    }
    std::printf("%s: normals worst relative error %.2g\n", t->isa, worst);
  }
}

}  // namespace
}  // namespace fsr::fast::kernels
