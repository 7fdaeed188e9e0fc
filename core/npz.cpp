#include "core/npz.h"

#include <array>
#include <set>

#include "core/atomic_file.h"
#include "core/checksum.h"
#include "core/validate.h"

namespace fsr {
namespace {

void put16(std::string& out, std::uint32_t v) {
  out.push_back(char(v & 0xFF));
  out.push_back(char((v >> 8) & 0xFF));
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xFFFF);
  put16(out, v >> 16);
}
std::uint32_t get16(std::string_view s, std::size_t at) {
  return std::uint32_t(std::uint8_t(s[at])) | std::uint32_t(std::uint8_t(s[at + 1])) << 8;
}
std::uint32_t get32(std::string_view s, std::size_t at) {
  return get16(s, at) | get16(s, at + 2) << 16;
}

constexpr std::uint32_t kLocal = 0x04034b50, kCentral = 0x02014b50, kEnd = 0x06054b50;
constexpr std::uint32_t kDosDate = 0x21;  // 1980-01-01, 00:00: archives do not depend on the clock

[[noreturn]] void bad(std::string_view name, std::string_view rule) {
  fail_field("npz file", std::string(name), rule);
}

}  // namespace

std::string npz_bytes(const NamedArrays& arrays) {
  std::string out, central;
  std::set<std::string> seen;
  for (const auto& [name, array] : arrays) {
    if (name.empty() || name.find('/') != std::string::npos || !seen.insert(name).second)
      fail_field("npz entry", name, "must be a unique, non-empty name without '/'");
    const std::string file = name + ".npy";
    const std::string data = encode_npy(array.data.data(), array.shape, array.dtype);
    if (out.size() + data.size() > 0xFFFFFFF0u)
      fail_field("npz archive", std::to_string(out.size() + data.size()) + " bytes",
                 "must stay below 4 GB (no zip64)");
    const std::uint32_t crc = crc32(data), offset = std::uint32_t(out.size());
    const std::uint32_t size = std::uint32_t(data.size());
    put32(out, kLocal);
    put16(out, 20);  // version needed: 2.0
    put16(out, 0);   // flags
    put16(out, 0);   // stored
    put16(out, 0);   // time
    put16(out, kDosDate);
    put32(out, crc);
    put32(out, size);
    put32(out, size);
    put16(out, std::uint32_t(file.size()));
    put16(out, 0);  // extra
    out += file;
    out += data;
    put32(central, kCentral);
    put16(central, 20);  // made by
    put16(central, 20);  // needed
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, kDosDate);
    put32(central, crc);
    put32(central, size);
    put32(central, size);
    put16(central, std::uint32_t(file.size()));
    put16(central, 0);  // extra
    put16(central, 0);  // comment
    put16(central, 0);  // disk
    put16(central, 0);  // internal attributes
    put32(central, 0);  // external attributes
    put32(central, offset);
    central += file;
  }
  const std::uint32_t cd_offset = std::uint32_t(out.size());
  out += central;
  put32(out, kEnd);
  put16(out, 0);
  put16(out, 0);
  put16(out, std::uint32_t(arrays.size()));
  put16(out, std::uint32_t(arrays.size()));
  put32(out, std::uint32_t(central.size()));
  put32(out, cd_offset);
  put16(out, 0);  // comment
  return out;
}

void write_npz(const std::filesystem::path& path, const NamedArrays& arrays) {
  write_file_atomic(path, npz_bytes(arrays));
}

NamedArrays read_npz(const std::filesystem::path& path) {
  return parse_npz(read_file(path), path.string());
}

NamedArrays parse_npz(std::string_view s, std::string_view path) {
  if (s.size() < 22) bad(path, "is too short for a zip archive");
  std::size_t end = s.size() - 22;  // the end record, searched back over a comment
  while (get32(s, end) != kEnd) {
    if (end == 0 || s.size() - end > 22 + 0xFFFF) bad(path, "has no zip end record");
    --end;
  }
  const std::uint32_t count = get16(s, end + 10);
  std::size_t at = get32(s, end + 16);
  NamedArrays out;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (at + 46 > s.size() || get32(s, at) != kCentral) bad(path, "has a broken central directory");
    const std::uint32_t method = get16(s, at + 10), crc = get32(s, at + 16);
    const std::uint32_t csize = get32(s, at + 20), usize = get32(s, at + 24);
    const std::uint32_t nlen = get16(s, at + 28), elen = get16(s, at + 30),
                        clen = get16(s, at + 32);
    const std::uint32_t local = get32(s, at + 42);
    if (at + 46 + nlen > s.size()) bad(path, "has a broken central directory");
    const std::string file(s.substr(at + 46, nlen));
    if (method != 0 || csize != usize)
      bad(path, "entry " + file + " is compressed (only stored entries are read)");
    if (local + 30 > s.size() || get32(s, local) != kLocal) bad(path, "has a broken entry " + file);
    const std::size_t data = local + 30 + get16(s, local + 26) + get16(s, local + 28);
    if (data + csize > s.size()) bad(path, "is truncated in entry " + file);
    const std::string_view body = s.substr(data, csize);
    if (crc32(body) != crc) bad(path, "entry " + file + " fails its CRC-32 check");
    if (file.size() < 5 || file.substr(file.size() - 4) != ".npy")
      bad(path, "entry " + file + " is not a .npy file");
    out.emplace_back(file.substr(0, file.size() - 4), parse_npy(body, std::string(path) + ":" + file));
    at += 46 + nlen + elen + clen;
  }
  return out;
}

}  // namespace fsr
