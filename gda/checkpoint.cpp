#include "gda/checkpoint.h"

#include "core/atomic_file.h"
#include "core/npz.h"
#include "core/validate.h"
#include "gda/learner_config.h"

namespace fsr {
namespace {

namespace fs = std::filesystem;
const std::string kOpt = "opt.";

}  // namespace

void save_checkpoint(const fs::path& run, const Engine& engine, const Json& config,
                     std::uint64_t target_fingerprint, std::int64_t global_step, int stage) {
  const fs::path dir = run / "checkpoint";
  fs::create_directories(dir);
  NamedArrays arrays;
  for (const std::string& n : engine.tensor_names()) arrays.emplace_back(n, engine.tensor(n));
  for (auto& [n, a] : engine.optimizer_state()) arrays.emplace_back(kOpt + n, std::move(a));
  write_npz(dir / "state.npz", arrays);
  write_json_atomic(dir / "state.json", Json{{"schema_version", kSchemaVersion},
                                             {"global_step", global_step},
                                             {"stage", stage},
                                             {"engine", engine.name()},
                                             {"precision", engine.precision()},
                                             {"config", config},
                                             {"target_fingerprint", target_fingerprint}});
}

CheckpointInfo read_checkpoint_info(const fs::path& run, const Json& config,
                                    std::uint64_t target_fingerprint) {
  const fs::path dir = run / "checkpoint";
  if (!fs::exists(dir / "state.json") || !fs::exists(dir / "state.npz")) {
    fail_field("--resume", run.string(),
               "has no checkpoint (checkpoint/state.json and state.npz) to resume from");
  }
  const Json state = read_json(dir / "state.json");
  const auto changes = config_differences(state["config"], config);
  if (!changes.empty()) {
    std::string list;
    for (const auto& ch : changes) list += (list.empty() ? "" : "; ") + ch;
    fail_field("--resume", run.string(), "the config differs from the checkpoint's: " + list);
  }
  if (state["target_fingerprint"].get<std::uint64_t>() != target_fingerprint) {
    fail_field("--resume", run.string(), "the checkpoint was trained on a different target");
  }
  return {state["global_step"].get<std::int64_t>(), state["stage"].get<int>()};
}

void load_checkpoint_state(const fs::path& run, Engine& engine) {
  NamedArrays optimizer;
  for (auto& [n, a] : read_npz(run / "checkpoint" / "state.npz")) {
    if (n.rfind(kOpt, 0) == 0)
      optimizer.emplace_back(n.substr(kOpt.size()), std::move(a));
    else
      engine.set_tensor(n, a.data);
  }
  engine.set_optimizer_state(optimizer);
}

}  // namespace fsr
