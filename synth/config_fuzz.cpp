// libFuzzer target: target config text -> parse_json -> parse_target_config. Contract: a config
// whose normalised form parses back to itself (docs/target_format.md) or fsr::InputError; any
// other exception, a sanitizer report, a crash or an allocation past the limit is a finding.
#include <cstdint>
#include <string_view>

#include "core/validate.h"
#include "synth/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fsr::Json normalised;
  try {
    const fsr::TargetConfig c =
        fsr::parse_target_config(fsr::parse_json(text, "fuzz.json"), FSR_SOURCE_DIR);
    normalised = fsr::to_json(c);
  } catch (const fsr::InputError&) {
    return 0;
  }
  if (fsr::to_json(fsr::parse_target_config(normalised)) != normalised) __builtin_trap();
  return 0;
}
