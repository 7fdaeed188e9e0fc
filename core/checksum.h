// CRC-32 of a byte string: the IEEE 802.3 polynomial, as zlib's crc32() and Python's
// zlib.crc32() compute it, so a checksum fsrlab writes can be checked with any of them. It
// detects every error burst up to 32 bits (a flipped bit, a torn sector) with certainty and a
// random corruption with probability 1 - 2^-32; it is no defence against a deliberate forger.
//
//   std::uint32_t c = fsr::crc32(bytes);   // crc32("123456789") == 0xCBF43926
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fsr {

std::uint32_t crc32(std::string_view bytes);

// "cbf43926": eight lower-case hex digits, as written in files.
std::string crc32_hex(std::uint32_t crc);

}  // namespace fsr
