// libFuzzer target: suite text -> parse_json -> parse_suite -> expand_suite at both sizes, with
// relative paths resolved in experiments/suites (so the seeds' target files are found). Contract:
// a grid of job specs, each written and read back unchanged (job_spec_from_json), or
// fsr::InputError; any other exception, a sanitizer report, a crash or an allocation past the
// limit is a finding. docs/reliability.md.
#include <cstdint>
#include <string_view>

#include "core/validate.h"
#include "experiments/suite.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const fsr::Suite suite =
        fsr::parse_suite(fsr::parse_json(text, "fuzz.json"), FSR_SOURCE_DIR "/experiments/suites");
    for (const std::string& s : fsr::kSuiteSizes) {
      for (const fsr::JobSpec& spec : fsr::expand_suite(suite, s)) {
        if (fsr::to_json(fsr::job_spec_from_json(fsr::to_json(spec))) != fsr::to_json(spec)) {
          __builtin_trap();
        }
      }
    }
  } catch (const fsr::InputError&) {
  }
  return 0;
}
