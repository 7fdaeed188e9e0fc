#include "core/checksum.h"

#include <gtest/gtest.h>

namespace fsr {
namespace {

// Reference values: the CRC-32 check value of "123456789" (0xCBF43926) from the catalogue of
// parametrised CRC algorithms (CRC-32/ISO-HDLC), and zlib.crc32 of the pangram (0x414FA339).
TEST(Crc32, MatchesPublishedCheckValues) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32_hex(0xCBF43926u), "cbf43926");
  EXPECT_EQ(crc32_hex(0x1u), "00000001");
}

// Every single-bit flip of a 1 KiB buffer changes the checksum (a CRC detects all bursts of up
// to 32 bits; this checks the implementation does).
TEST(Crc32, DetectsEverySingleBitFlip) {
  std::string bytes(1024, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 + 7);
  const std::uint32_t base = crc32(bytes);
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    bytes[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    ASSERT_NE(crc32(bytes), base) << "bit " << bit;
    bytes[bit / 8] ^= static_cast<char>(1 << (bit % 8));
  }
}

}  // namespace
}  // namespace fsr
