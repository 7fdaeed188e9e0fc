// libFuzzer target: a target directory read back (load_target, as `fsr train --target`, `fsr
// analyze` and `fsr inspect` do) whose target.json is the input and whose .npy files are those of
// the quick-start target. Contract: a validated target or fsr::InputError; any other exception, a
// sanitizer report, a crash or an allocation past the limit is a finding. docs/reliability.md.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "core/atomic_file.h"
#include "core/validate.h"
#include "synth/config.h"
#include "synth/target.h"

namespace {
namespace fs = std::filesystem;
fs::path target_dir;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/fsr-target-fuzz-XXXXXX";
  if (!::mkdtemp(tmpl)) std::abort();
  target_dir = fs::path(tmpl) / "target";
  // The quick-start target: the architecture of the seed reports/fixtures/analysis/target.
  const fs::path config = FSR_SOURCE_DIR "/experiments/targets/quickstart.json";
  fsr::save_target(target_dir, fsr::build_target(fsr::parse_target_config(fsr::read_json(config),
                                                                          config.parent_path())));
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(target_dir.parent_path(), ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fsr::write_file_atomic(target_dir / "target.json",
                         std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const fsr::Target t = fsr::load_target(target_dir);
    fsr::validate_target(t);
  } catch (const fsr::InputError&) {
  }
  return 0;
}
