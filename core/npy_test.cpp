#include "core/npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "core/atomic_file.h"
#include "core/validate.h"

namespace fsr {
namespace {

// Reference bytes written by numpy 1.24 (np.save), independent of this code:
//   np.arange(6, dtype='<f8').reshape(2, 3) / 4   and   np.array([1.5, -2, 3.25], dtype='<f4')
constexpr char kNumpyF8x2x3[] =
    "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046"
    "616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020"
    "202020202020202020202020202020202020202020202020202020202020202020202020200a00000000000000"
    "00000000000000d03f000000000000e03f000000000000e83f000000000000f03f000000000000f43f";
constexpr char kNumpyF4x3[] =
    "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046"
    "616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020"
    "202020202020202020202020202020202020202020202020202020202020202020202020200a0000c03f000000"
    "c000005040";

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

// A header in numpy's own layout, for building malformed files.
std::string npy_with_header(const std::string& dict, std::string_view data) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h + std::string(data);
}

void expect_input_error(std::string_view bytes, std::string_view needle) {
  try {
    parse_npy(bytes, "bad.npy");
    FAIL() << "expected InputError containing '" << needle << "'";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.npy"), std::string::npos) << e.what();
  }
}

TEST(Npy, ReadsNumpyFloat64) {
  const NpyArray a = parse_npy(from_hex(kNumpyF8x2x3), "ref.npy");
  ASSERT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a.dtype, DType::kFloat64);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.data[i], i / 4.0);
}

TEST(Npy, ReadsNumpyFloat32) {
  const NpyArray a = parse_npy(from_hex(kNumpyF4x3), "ref.npy");
  ASSERT_EQ(a.shape, (std::vector<std::int64_t>{3}));
  EXPECT_EQ(a.dtype, DType::kFloat32);
  EXPECT_EQ(a.data, (std::vector<double>{1.5, -2.0, 3.25}));
}

TEST(Npy, WritesExactlyWhatNumpyWrites) {
  const double f8[] = {0, 0.25, 0.5, 0.75, 1.0, 1.25};
  EXPECT_EQ(encode_npy(f8, {2, 3}, DType::kFloat64), from_hex(kNumpyF8x2x3));
  const double f4[] = {1.5, -2.0, 3.25};
  EXPECT_EQ(encode_npy(f4, {3}, DType::kFloat32), from_hex(kNumpyF4x3));
}

TEST(Npy, RoundTripsAnyRankThroughFiles) {
  const auto dir = std::filesystem::temp_directory_path() / "fsr_npy_test";
  std::filesystem::create_directories(dir);
  std::vector<double> values(2 * 3 * 4 * 5);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = std::sin(1.0 + i) * 1e3;
  write_npy(dir / "r4.npy", values.data(), {2, 3, 4, 5});
  const NpyArray a = read_npy(dir / "r4.npy");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(a.data, values);  // float64 is stored exactly

  const double scalar = 7.0;
  write_npy(dir / "r0.npy", &scalar, {});
  EXPECT_EQ(read_npy(dir / "r0.npy").data, std::vector<double>{7.0});

  Eigen::MatrixXd m(2, 3);
  m << 1, 2, 3, 4, 5, 6;  // numpy [i, j] must be m(i, j)
  write_npy(dir / "m.npy", m, DType::kFloat32);
  const NpyArray b = read_npy(dir / "m.npy");
  EXPECT_EQ(b.data, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(read_npy_matrix(dir / "m.npy", "m"), m);
  std::filesystem::remove_all(dir);
}

TEST(Npy, ReadsBigEndian) {
  const double v = 2.0;
  std::string be(8, '\0');
  std::memcpy(be.data(), &v, 8);
  std::reverse(be.begin(), be.end());
  const NpyArray a = parse_npy(
      npy_with_header("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", be), "be.npy");
  EXPECT_EQ(a.data, std::vector<double>{2.0});
}

TEST(Npy, RejectsWhatItCannotRead) {
  const std::string eight(8, '\0');
  expect_input_error("hello world, not numpy", "magic");
  expect_input_error(
      npy_with_header("{'descr': '<f8', 'fortran_order': True, 'shape': (1,), }", eight),
      "Fortran order");
  expect_input_error(
      npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", eight),
      "dtype '<i4'");
  expect_input_error(
      npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", eight),
      "truncated");
  expect_input_error(
      npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }", eight),
      "bytes after the data");
  expect_input_error(npy_with_header("{'descr': '<f8', 'shape': (1,), }", eight), "fortran_order");
  expect_input_error(from_hex(kNumpyF8x2x3).substr(0, 40), "truncated inside its header");
}

// Shapes are counted with overflow checks and against the bytes present before anything is
// allocated. Before, (2^32, 2^32) wrapped to 0 elements, and (500, 1050655, 684737634023226)
// wrapped to 3000 and was read as 500 x 6 and fitted (exit 0).
TEST(Npy, ShapesThatOverflowOrExceedTheFileAreRefused) {
  const std::string wrapped(3000 * 8, '\0');
  expect_input_error(
      npy_with_header(
          "{'descr': '<f8', 'fortran_order': False, 'shape': (500, 1050655, 684737634023226), }",
          wrapped),
      "the product overflows");
  expect_input_error(npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': "
                                     "(4294967296, 4294967296), }",
                                     ""),
                     "the product overflows");
  expect_input_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                     "(100000, 100000), }",
                                     std::string(64, '\0')),
                     "needs 40000000000 data bytes, found 64");
  std::string rank33 = "(";
  for (int i = 0; i < 33; ++i) rank33 += "1,";
  expect_input_error(
      npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': " + rank33 + "), }",
                      std::string(8, '\0')),
      "more than 32 dimensions");
}

// The float64 copy of the values is checked against the memory available (here a limit set for
// the test through FSR_MEMORY_LIMIT) before it is allocated.
TEST(Npy, ValuesBeyondTheMemoryAvailableAreRefused) {
  const double values[64] = {};
  const std::string bytes = encode_npy(values, {8, 8}, DType::kFloat32);
  ::setenv("FSR_MEMORY_LIMIT", "400", 1);
  try {
    parse_npy(bytes, "big.npy");
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("as float64 would take 5.12e-07 GB; 4e-07 GB of memory"),
              std::string::npos)
        << e.what();
  }
  ::unsetenv("FSR_MEMORY_LIMIT");
  EXPECT_EQ(parse_npy(bytes, "big.npy").data.size(), 64u);
}

TEST(Npy, MatrixReaderNamesTheFieldAndTheBadEntry) {
  const auto dir = std::filesystem::temp_directory_path() / "fsr_npy_test2";
  const double bad[] = {1, 2, std::numeric_limits<double>::quiet_NaN(), 4};
  write_npy(dir / "nan.npy", bad, {2, 2});
  try {
    read_npy_matrix(dir / "nan.npy", "--samples");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--samples[1, 0] = nan: must be finite"),
              std::string::npos)
        << e.what();
  }
  write_npy(dir / "v.npy", bad, {4});
  try {
    read_npy_matrix(dir / "v.npy", "--truth");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("rank-2"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fsr
