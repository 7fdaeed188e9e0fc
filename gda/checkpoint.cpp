#include "gda/checkpoint.h"

#include "core/npz.h"
#include "core/validate.h"

namespace fsr {
namespace {

namespace fs = std::filesystem;
const std::string kOpt = "opt.";

}  // namespace

void save_checkpoint(const fs::path& run, const Engine& engine, const Json& config,
                     std::uint64_t target_fingerprint, std::int64_t global_step, int stage) {
  NamedArrays arrays;
  for (const std::string& n : engine.tensor_names()) arrays.emplace_back(n, engine.tensor(n));
  for (auto& [n, a] : engine.optimizer_state()) arrays.emplace_back(kOpt + n, std::move(a));
  // Written as a unit with a checksum; the previous checkpoint stays until this one is complete.
  write_checkpoint(run / "checkpoint", npz_bytes(arrays),
                   checkpoint_state(global_step, stage, config, target_fingerprint));
}

void load_checkpoint_state(const ResumePoint& resume, const fs::path& run, Engine& engine) {
  const std::string where = (run / "checkpoint" / kCheckpointArchive).string();
  NamedArrays optimizer;
  try {
    for (auto& [n, a] : parse_npz(resume.archive, where)) {
      if (n.rfind(kOpt, 0) == 0)
        optimizer.emplace_back(n.substr(kOpt.size()), std::move(a));
      else
        engine.set_tensor(n, a.data);
    }
    engine.set_optimizer_state(optimizer);
  } catch (const InputError& e) {
    // Its checksum held, so it was written so: by another build, or for other shapes.
    fail_field("--resume", where, std::string("cannot be loaded into this model: ") + e.what());
  }
}

}  // namespace fsr
