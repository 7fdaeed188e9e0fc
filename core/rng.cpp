#include "core/rng.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace fsr {
namespace {
inline std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Rng::Rng(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t x = mix64(seed) ^ mix64(stream ^ 0x5851f42d4c957f2dULL);
  for (auto& s : s_) {
    x += 0x9e3779b97f4a7c15ULL;
    s = mix64(x);
  }
}

std::uint64_t Rng::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

void Rng::fill_u64(std::uint64_t* out, std::size_t n) {
  std::uint64_t s0 = s_[0], s1 = s_[1], s2 = s_[2], s3 = s_[3];  // in registers for the loop
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = rotl(s1 * 5, 7) * 9;
    const std::uint64_t t = s1 << 17;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 45);
  }
  s_[0] = s0;
  s_[1] = s1;
  s_[2] = s2;
  s_[3] = s3;
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::uniform_open() { return (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53; }

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double u1 = uniform_open();
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(angle);
  has_spare_ = true;
  return r * std::cos(angle);
}

void Rng::fill_normal(double* out, std::size_t n) {
  std::size_t i = 0;
  if (has_spare_ && n > 0) {
    has_spare_ = false;
    out[i++] = spare_;
  }
  constexpr std::size_t kPairs = 32;  // uniforms drawn per chunk
  std::uint64_t u[2 * kPairs];
  while (n - i >= 2) {
    const std::size_t pairs = std::min(kPairs, (n - i) / 2);
    fill_u64(u, 2 * pairs);
    for (std::size_t k = 0; k < pairs; ++k, i += 2) {
      // normal()'s arithmetic: u1 = uniform_open(), then u2 = uniform().
      const double u1 = (static_cast<double>(u[2 * k] >> 11) + 0.5) * 0x1.0p-53;
      const double u2 = static_cast<double>(u[2 * k + 1] >> 11) * 0x1.0p-53;
      const double r = std::sqrt(-2.0 * std::log(u1));
      const double angle = 2.0 * std::numbers::pi * u2;
      out[i] = r * std::cos(angle);
      out[i + 1] = r * std::sin(angle);
    }
  }
  if (i < n) out[i] = normal();  // an odd count leaves the spare, as normal() does
}

std::uint64_t Rng::uniform_int(std::uint64_t bound) {
  if (bound == 0) return 0;
  // Lemire's rejection: unbiased for any bound.
  const std::uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const std::uint64_t r = next_u64();
    if (r >= threshold) return r % bound;
  }
}

}  // namespace fsr
