#include "core/rng.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace fsr {
namespace {

TEST(Rng, SameSeedAndStreamSameSequenceOtherStreamDiffers) {
  Rng a(42, 7), b(42, 7), c(42, 8), d(43, 7);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    EXPECT_NE(x, c.next_u64());
    EXPECT_NE(x, d.next_u64());
  }
}

// Moments of 2e5 normal draws. Standard errors: mean 1/sqrt(n) = 2.2e-3, variance
// sqrt(2/n) = 3.2e-3, fourth moment sqrt(96/n) = 2.2e-2; bounds at 5 standard errors make a
// false failure (fixed seed, so deterministic anyway) a < 1e-6 event for a correct generator.
TEST(Rng, NormalHasStandardMoments) {
  Rng rng(1);
  const int n = 200000;
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (int i = 0; i < n; ++i) {
    const double g = rng.normal();
    m1 += g;
    m2 += g * g;
    m3 += g * g * g;
    m4 += g * g * g * g;
  }
  m1 /= n, m2 /= n, m3 /= n, m4 /= n;
  EXPECT_NEAR(m1, 0.0, 5 * 2.2e-3) << "mean";
  EXPECT_NEAR(m2, 1.0, 5 * 3.2e-3) << "variance";
  EXPECT_NEAR(m3, 0.0, 5 * 5.5e-3) << "third moment (sd sqrt(15/n))";
  EXPECT_NEAR(m4, 3.0, 5 * 2.2e-2) << "fourth moment";
}

TEST(Rng, UniformIntIsInRangeAndCoversIt) {
  Rng rng(3);
  int counts[5] = {};
  for (int i = 0; i < 50000; ++i) {
    const auto k = rng.uniform_int(5);
    ASSERT_LT(k, 5u);
    ++counts[k];
  }
  // Each count ~ Binomial(5e4, 0.2): sd ~ 89; 5 sd = 450.
  for (int c : counts) EXPECT_NEAR(c, 10000, 450);
  for (int i = 0; i < 1000; ++i) {
    const double u = rng.uniform_open();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(Rng, FillU64IsTheSameSequenceAsNextU64) {
  Rng a(5, 9), b(5, 9);
  std::vector<std::uint64_t> bulk(1001);
  b.fill_u64(bulk.data(), bulk.size());
  for (std::uint64_t v : bulk) ASSERT_EQ(v, a.next_u64());
  EXPECT_EQ(a.next_u64(), b.next_u64());  // and leaves the generator where the loop would
}

// fill_normal is normal() called n times, bit for bit: counts below, at and above its chunk of
// 32 pairs, even and odd, starting with and without a spare value; afterwards both generators
// give the same next values (state and spare alike).
TEST(Rng, FillNormalIsTheSameSequenceAsNormal) {
  for (const std::size_t n : {0, 1, 2, 3, 32, 63, 64, 65, 200, 1001}) {
    for (const int lead : {0, 1, 2}) {  // normal() calls before: 1 leaves a spare
      Rng a(11, n), b(11, n);
      for (int i = 0; i < lead; ++i) ASSERT_EQ(a.normal(), b.normal());
      std::vector<double> bulk(n);
      b.fill_normal(bulk.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        const double want = a.normal();
        ASSERT_EQ(want, bulk[i]) << "n " << n << ", lead " << lead << ", value " << i;
      }
      for (int i = 0; i < 3; ++i) ASSERT_EQ(a.normal(), b.normal()) << "n " << n << " after";
      EXPECT_EQ(a.next_u64(), b.next_u64());
    }
  }
}

}  // namespace
}  // namespace fsr
