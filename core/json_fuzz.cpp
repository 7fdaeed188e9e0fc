// libFuzzer target: text -> parse_json, the reader every config and result file goes through.
// Contract: a document (that dumps and parses back to itself, within the nesting limit) or
// fsr::InputError; any other exception, a sanitizer report, a crash, deep recursion or an
// allocation past the fuzzer's limit is a finding. docs/reliability.md.
#include <cstdint>
#include <string_view>

#include "core/json_io.h"
#include "core/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fsr::Json j;
  try {
    j = fsr::parse_json(text, "fuzz.json");
  } catch (const fsr::InputError&) {
    return 0;
  }
  // What fsrlab writes it reads back unchanged (NaN cannot occur: the parser refuses it).
  const fsr::Json again = fsr::parse_json(fsr::dump_json(j), "again.json");
  if (again != j) __builtin_trap();
  // A message about any value stays one bounded line.
  const std::string m = fsr::field_message("f", fsr::dump_json(j), "rule");
  if (m.find('\n') != std::string::npos || m.size() > 1400) __builtin_trap();
  return 0;
}
