// libFuzzer target: .npy bytes -> parse_npy. Contract: a valid array (its size matches its shape,
// and encode_npy writes it back to bytes that parse to the same array) or fsr::InputError; any
// other exception, a sanitizer report, a crash or an allocation past the fuzzer's limit is a
// finding. docs/reliability.md.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/npy.h"
#include "core/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  fsr::NpyArray a;
  try {
    a = fsr::parse_npy(bytes, "fuzz.npy");
  } catch (const fsr::InputError&) {
    return 0;
  }
  if (a.size() < 0 || static_cast<std::size_t>(a.size()) != a.data.size()) __builtin_trap();
  const fsr::NpyArray again = fsr::parse_npy(fsr::encode_npy(a.data.data(), a.shape, a.dtype), "x");
  if (again.shape != a.shape || again.data.size() != a.data.size() ||
      (!a.data.empty() &&
       std::memcmp(again.data.data(), a.data.data(), a.data.size() * sizeof(double)) != 0)) {
    __builtin_trap();
  }
  return 0;
}
