// Seeded, platform-independent random numbers. std::normal_distribution differs between standard
// libraries, so fsrlab draws its own: xoshiro256** seeded through SplitMix64 from (seed, stream).
// A stream is an independent sequence: synth/ uses one per sample index so that sample i is the
// same whatever the batch size or thread count.
//
//   fsr::Rng rng(/*seed=*/1, /*stream=*/sample_index);
//   double g = rng.normal();      // N(0, 1)
//   double u = rng.uniform();     // [0, 1), 53 random bits
#pragma once

#include <cstddef>
#include <cstdint>

namespace fsr {

class Rng {
 public:
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0);

  std::uint64_t next_u64();
  void fill_u64(std::uint64_t* out, std::size_t n);  // the next n values of next_u64(), in a loop
  double uniform();                                  // [0, 1)
  double uniform_open();                             // (0, 1), for logarithms
  double normal();                                   // N(0, 1) by Box–Muller (both values used)
  std::uint64_t uniform_int(std::uint64_t bound);    // [0, bound), unbiased
  // The next n values of normal(), bit for bit (the same draws and float64 arithmetic, the
  // uniforms drawn in one loop); the state afterwards, spare included, is normal()'s.
  void fill_normal(double* out, std::size_t n);

 private:
  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// SplitMix64 finaliser: a good 64-bit mix, also handy to derive sub-seeds.
std::uint64_t mix64(std::uint64_t x);

}  // namespace fsr
