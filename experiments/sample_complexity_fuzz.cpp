// libFuzzer target: sample-complexity suite text -> parse_json -> parse_sample_complexity_suite
// at both sizes, relative paths resolved in experiments/. Contract: a suite or fsr::InputError;
// any other exception, a sanitizer report, a crash or an allocation past the limit is a finding.
#include <cstdint>
#include <string_view>

#include "core/validate.h"
#include "experiments/sample_complexity.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const char* s : {"ci", "paper"}) {
    try {
      const fsr::Json j = fsr::parse_json(text, "fuzz.json");
      const fsr::SampleComplexitySuite suite =
          fsr::parse_sample_complexity_suite(j, s, FSR_SOURCE_DIR "/experiments");
      if (!suite.normalized.is_object()) __builtin_trap();
    } catch (const fsr::InputError&) {
    }
  }
  return 0;
}
