// libFuzzer target: result files a suite output directory is read back from (`fsr merge`,
// re-running `fsr run`). The bytes are written as plan.json, then as jobs/<id>/result.json of a
// valid one-job plan, and each time merge_runs() reads the directory. Contract: a summary or
// fsr::InputError; any other exception, a sanitizer report, a crash or an allocation past the
// limit is a finding. docs/reliability.md.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "core/validate.h"
#include "experiments/runner.h"

namespace {
namespace fs = std::filesystem;

fs::path run_dir;

// Plain writes: write_file_atomic's fsync would make each input cost milliseconds.
void put(const fs::path& file, std::string_view bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
}

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
  const std::string_view content(reinterpret_cast<const char*>(data), size);
  std::error_code ec;
  static const std::string plan = plan_document();
  // The bytes as the plan, then as the result of the plan's one job.
  for (int as_result = 0; as_result < 2; ++as_result) {
    fs::remove_all(run_dir / "jobs", ec);
    put(run_dir / "plan.json", as_result ? std::string_view(plan) : content);
    if (as_result) put(run_dir / "jobs" / "t.j.seed1" / "result.json", content);
    try {
      const fsr::SuiteSummary s = fsr::merge_runs({run_dir});
      fsr::dump_json(fsr::to_json(s));
    } catch (const fsr::InputError&) {
    }
  }
  return 0;
}
