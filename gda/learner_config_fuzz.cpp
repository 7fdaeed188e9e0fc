// libFuzzer target: learner config text -> parse_json -> parse_learner_config. Contract: a config
// whose normalised form parses back to itself, or fsr::InputError; any other exception, a
// sanitizer report, a crash or an allocation past the limit is a finding. docs/reliability.md.
#include <cstdint>
#include <string_view>

#include "core/validate.h"
#include "gda/learner_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fsr::Json normalised;
  try {
    normalised = fsr::to_json(fsr::parse_learner_config(fsr::parse_json(text, "fuzz.json")));
  } catch (const fsr::InputError&) {
    return 0;
  }
  if (fsr::to_json(fsr::parse_learner_config(normalised)) != normalised) __builtin_trap();
  if (!fsr::config_differences(normalised, normalised).empty()) __builtin_trap();
  return 0;
}
