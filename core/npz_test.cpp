// core/npz.h: CRC-32 against the standard check value; float32 and float64 arrays of several
// ranks round-trip exactly in order; a flipped byte, a truncated file and a compressed entry are
// InputErrors naming the rule.
#include "core/checksum.h"
#include "core/npz.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/validate.h"

namespace fsr {
namespace {

namespace fs = std::filesystem;

TEST(Npz, Crc32CheckValue) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);  // the CRC-32/ISO-HDLC check value
  EXPECT_EQ(crc32(""), 0u);
}

NamedArrays sample_arrays() {
  NpyArray a{{2, 3}, DType::kFloat64, {1, -2, 3.5, 1e-300, -0.0, 7}};
  NpyArray b{{4}, DType::kFloat32, {0.5, 1.25, -3, 0x1p100}};  // values a float holds exactly
  NpyArray c{{1}, DType::kFloat64, {42}};
  NpyArray d{{2, 1, 2}, DType::kFloat32, {1, 2, 3, 4}};
  return {{"A", a}, {"b1", b}, {"W2.step", c}, {"M1.exp_avg", d}};
}

TEST(Npz, RoundTripKeepsOrderValuesAndDtypes) {
  const fs::path p = fs::temp_directory_path() / ("fsr_npz_" + std::to_string(::getpid()) + ".npz");
  const NamedArrays in = sample_arrays();
  write_npz(p, in);
  const NamedArrays out = read_npz(p);
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].first, in[i].first);
    EXPECT_EQ(out[i].second.shape, in[i].second.shape);
    EXPECT_EQ(out[i].second.dtype, in[i].second.dtype);
    EXPECT_EQ(out[i].second.data, in[i].second.data);  // float32 values are exact as doubles
  }
  fs::remove(p);
}

TEST(Npz, DamagedArchivesAreInputErrors) {
  const fs::path p =
      fs::temp_directory_path() / ("fsr_npz_bad_" + std::to_string(::getpid()) + ".npz");
  write_npz(p, sample_arrays());
  const std::string good = read_file(p);
  auto expect_error = [&](const std::string& bytes, const std::string& rule) {
    write_file_atomic(p, bytes);
    try {
      read_npz(p);
      FAIL() << "expected InputError: " << rule;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(rule), std::string::npos) << e.what();
    }
  };
  std::string flipped = good;
  flipped[120] ^= 0x01;  // inside the first entry's data
  expect_error(flipped, "fails its CRC-32 check");
  expect_error(good.substr(0, 10), "too short");
  expect_error(good.substr(0, good.size() / 2), "no zip end record");
  std::string compressed = good;
  compressed[8] = 8;  // the first local header's method: deflate
  const std::size_t first_cd = good.find(std::string("PK\x01\x02", 4));
  ASSERT_NE(first_cd, std::string::npos);
  compressed[first_cd + 10] = 8;  // and its central record
  expect_error(compressed, "is compressed");
  EXPECT_THROW(write_npz(p, {{"a/b", NpyArray{{1}, DType::kFloat64, {1}}}}), InputError);
  EXPECT_THROW(write_npz(p, {{"x", NpyArray{{1}, DType::kFloat64, {1}}},
                             {"x", NpyArray{{1}, DType::kFloat64, {2}}}}),
               InputError);
  fs::remove(p);
}

}  // namespace
}  // namespace fsr
