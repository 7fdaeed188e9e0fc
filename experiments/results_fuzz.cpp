// libFuzzer target: result files a suite output directory is read back from (`fsr merge`,
// re-running `fsr run`). The first byte picks the file, the rest is its content, written into a
// suite output directory whose other file is a valid one: 0 = plan.json, 1 = jobs/<id>/result.json
// of the plan's one job. Then merge_runs() reads the directory. Contract: a summary or
// fsr::InputError; any other exception, a sanitizer report, a crash or an allocation past the
// limit is a finding. docs/reliability.md.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "core/atomic_file.h"
#include "core/validate.h"
#include "experiments/runner.h"

namespace {
namespace fs = std::filesystem;

fs::path run_dir;

std::string plan_document() {
  fsr::JobSpec spec;
  spec.id = "t.j.seed1";
  spec.target_name = "t";
  spec.job_name = "j";
  spec.kind = "first_layer_baseline";
  spec.seed = 1;
  const fsr::Json payload{{"suite", "s"}, {"description", ""},      {"source", ""},
                          {"size", "ci"}, {"record", {"errors.x"}}, {"jobs", {fsr::to_json(spec)}}};
  return fsr::dump_json(fsr::make_document("suite-plan", payload, fsr::RunInfo{}));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/fsr-results-fuzz-XXXXXX";
  if (!::mkdtemp(tmpl)) std::abort();
  run_dir = tmpl;
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(run_dir, ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view content(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::error_code ec;
  fs::remove_all(run_dir / "jobs", ec);
  if (data[0] % 2 == 0) {
    fsr::write_file_atomic(run_dir / "plan.json", content);
  } else {
    fsr::write_file_atomic(run_dir / "plan.json", plan_document());
    fsr::write_file_atomic(run_dir / "jobs" / "t.j.seed1" / "result.json", content);
  }
  try {
    const fsr::SuiteSummary s = fsr::merge_runs({run_dir});
    fsr::dump_json(fsr::to_json(s));
  } catch (const fsr::InputError&) {
  }
  return 0;
}
