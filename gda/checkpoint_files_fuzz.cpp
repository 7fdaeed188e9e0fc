// libFuzzer target: the files `fsr train --resume` reads back, without LibTorch — the bytes as
// checkpoint/state.json (parse_checkpoint_state, a 3-stage run) and as metrics.jsonl
// (metrics_up_to). Contract: a validated state / the kept lines, or fsr::InputError; any other
// exception, a sanitizer report, a crash or an allocation past the limit is a finding.
#include <cstdint>
#include <string_view>

#include "core/validate.h"
#include "gda/checkpoint_files.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::vector<std::int64_t> kStages = {300, 100, 50};
  try {
    const fsr::CheckpointState s =
        fsr::parse_checkpoint_state(fsr::parse_json(text, "state.json"), kStages, "state.json");
    if (s.stage < 0 || s.stage > 2 || s.global_step < 0 || s.global_step > 450 ||
        !s.config.is_object()) {
      __builtin_trap();
    }
  } catch (const fsr::InputError&) {
  }
  try {
    const std::string kept = fsr::metrics_up_to(text, 200, "metrics.jsonl");
    // What is kept is whole lines of the input, and keeping again changes nothing.
    if (!kept.empty() && kept.back() != '\n') __builtin_trap();
    if (fsr::metrics_up_to(kept, 200, "kept") != kept) __builtin_trap();
  } catch (const fsr::InputError&) {
  }
  return 0;
}
