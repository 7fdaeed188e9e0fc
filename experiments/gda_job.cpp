#include "experiments/gda_job.h"

#include <filesystem>

#include "core/validate.h"
#include "experiments/analysis.h"
#include "experiments/jobs.h"
#include "gda/learner_config.h"
#include "gda/trainer.h"
#include "synth/config.h"
#include "synth/target.h"

namespace fsr {
namespace {

namespace fs = std::filesystem;

constexpr const char* kReseedTarget = "reseed_target";
constexpr const char* kAnalyze = "analyze";

// Splits the job config into the kind's own keys and the learner config.
Json learner_part(const Json& config) {
  Json learner = config;
  learner.erase(kReseedTarget);
  learner.erase(kAnalyze);
  return learner;
}

Json normalize_gda(const Json& config, const std::string& field, const fs::path& /*base_dir*/) {
  if (!config.is_object()) fail_field(field, config.dump(), "must be a learner config object");
  for (const char* key : {kReseedTarget, kAnalyze}) {
    if (config.contains(key) && !config[key].is_boolean()) {
      fail_field(field + "." + key, config[key].dump(), "must be true or false");
    }
  }
  Json normalized;
  try {
    normalized = to_json(parse_learner_config(learner_part(config)));
  } catch (const InputError& e) {
    throw InputError(field + "." + e.what());
  }
  normalized[kReseedTarget] = config.value(kReseedTarget, true);
  normalized[kAnalyze] = config.value(kAnalyze, true);
  return normalized;
}

Json run_gda(const JobSpec& spec, const JobContext& context) {
  Json target_json = spec.target;
  if (spec.config.value(kReseedTarget, true)) target_json["seed"] = spec.seed;
  const Target truth = build_target(parse_target_config(target_json));

  Json learner_json = learner_part(spec.config);
  learner_json["seed"] = spec.seed;
  const LearnerConfig learner = parse_learner_config(learner_json);

  const fs::path target_dir = context.dir / "target";
  const fs::path run_dir = context.dir / "run";
  save_target(target_dir, truth);
  TrainOptions options;
  options.out = run_dir;
  options.progress = false;
  // An earlier attempt of this job left a checkpoint: continue it (bit-identical on CPU).
  options.resume = context.resuming && fs::exists(run_dir / "checkpoint");
  const TrainResult result = train(truth, learner, options);

  Json payload{{"status", result.status}, {"train", to_json(result)}};
  if (result.status == "completed" && spec.config.value(kAnalyze, true)) {
    AnalysisOptions analysis_options;
    analysis_options.seed = spec.seed;
    const RunAnalysis analysis = analyze_run(target_dir, run_dir, analysis_options);
    // Also as its own document beside the model, where `fsr report` finds it.
    write_analysis(run_dir / "analysis.json", analysis,
                   RunInfo{.seed = spec.seed, .threads = learner.threads, .config = spec.config});
    payload["analysis"] = to_json(analysis);
  }
  return payload;
}

}  // namespace

void register_gda_job_kind() {
  register_job_kind({.name = "gda",
                     .description = "train the GDA learner on the target and score the model",
                     .normalize = normalize_gda,
                     .run = run_gda});
}

}  // namespace fsr
