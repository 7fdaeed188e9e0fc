#include "experiments/gda_job.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/validate.h"
#include "experiments/analysis.h"
#include "experiments/jobs.h"
#include "gda/learner_config.h"
#include "gda/trainer.h"
#include "gda/training_data.h"
#include "synth/config.h"
#include "synth/image_pyramid.h"
#include "synth/target.h"

namespace fsr {
namespace {

namespace fs = std::filesystem;

constexpr const char* kReseedTarget = "reseed_target";
constexpr const char* kAnalyze = "analyze";
constexpr const char* kSamples = "samples";
// Where the job trains (fsr train --device): "auto" (the default), "cpu" or "cuda".
constexpr const char* kDevice = "device";

// Splits the job config into the kind's own keys and the learner config. "samples" (the name the
// first_layer_baseline kind uses, so that one sample-complexity suite can hold both kinds) is a
// fixed training set of that many samples.
Json learner_part(const Json& config) {
  Json learner = config;
  learner.erase(kReseedTarget);
  learner.erase(kAnalyze);
  learner.erase(kSamples);
  learner.erase(kDevice);
  if (config.contains(kSamples)) {
    learner["data"]["source"] = "fixed";
    learner["data"]["train_samples"] = config[kSamples];
  }
  return learner;
}

Json normalize_gda(const Json& config, const std::string& field, const fs::path& /*base_dir*/) {
  if (!config.is_object()) fail_field(field, config.dump(), "must be a learner config object");
  for (const char* key : {kReseedTarget, kAnalyze}) {
    if (config.contains(key) && !config[key].is_boolean()) {
      fail_field(field + "." + key, config[key].dump(), "must be true or false");
    }
  }
  if (config.contains(kSamples)) {
    const Json& n = config[kSamples];
    if (!n.is_number_integer() || n.get<std::int64_t>() < 1) {
      fail_field(field + "." + kSamples, n.dump(), "must be an integer >= 1");
    }
  }
  if (config.contains(kDevice)) {
    const Json& d = config[kDevice];
    if (!d.is_string() || (d != "auto" && d != "cpu" && d != "cuda"))
      fail_field(field + "." + kDevice, d.dump(), "must be \"auto\", \"cpu\" or \"cuda\"");
  }
  Json normalized;
  try {
    normalized = to_json(parse_learner_config(learner_part(config)));
  } catch (const InputError& e) {
    throw InputError(field + "." + e.what());
  }
  normalized[kReseedTarget] = config.value(kReseedTarget, true);
  normalized[kAnalyze] = config.value(kAnalyze, true);
  if (config.contains(kSamples)) normalized[kSamples] = config[kSamples];
  if (config.contains(kDevice)) normalized[kDevice] = config[kDevice];
  return normalized;
}

// Level-1 recovery errors, lower is better, under the names of the first_layer_baseline kind
// (experiments/jobs.cpp) so that one sample-complexity suite can put both kinds on one error path
// (docs/sample_complexity.md). Columns: 1 - matched cosine of M_1 (worst and mean unit).
Json level1_errors(const Json& level) {
  const Json& c = level["columns"];
  const Json& f = level["first_layer"];
  return Json{{"alpha_max_relative", f["alpha_max_relative"]},
              {"alpha_mean_relative", f["alpha_mean_relative"]},
              {"beta_max_relative", f["beta_max_relative"]},
              {"beta_mean_relative", f["beta_mean_relative"]},
              {"rho_max_abs_error", f["rho_max_abs_error"]},
              {"columns_one_minus_min_cosine", 1.0 - c["min_cosine"].get<double>()},
              {"columns_one_minus_mean_cosine", 1.0 - c["mean_cosine"].get<double>()}};
}

// The training trajectory of the level-1 errors, [{"step", "error"}] per error name, read back
// from RUN/metrics.jsonl (the trainer keeps that file consistent across a resume, which an
// on_metrics callback would not see). The sample-complexity steps-to-eps hook reads these.
Json level1_trajectories(const fs::path& metrics_file) {
  static const std::vector<std::pair<const char*, const char*>> kFields = {
      {"alpha_max_relative", "alpha_max_relative"},
      {"beta_max_relative", "beta_max_relative"},
      {"columns_one_minus_min_cosine", "min_cosine"},
      {"columns_one_minus_mean_cosine", "mean_cosine"}};
  Json out = Json::object();
  for (const auto& [name, field] : kFields) out[name] = Json::array();
  std::ifstream in(metrics_file);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    Json m;
    try {
      m = parse_json(line, metrics_file.string());
    } catch (const InputError&) {
      continue;  // a torn line
    }
    if (!m.is_object() || !m.contains("recovery") || !m["recovery"].is_array()) continue;
    for (const Json& level : m["recovery"]) {
      if (!level.is_object() || level.value("level", Json()) != Json(1)) continue;
      for (const auto& [name, field] : kFields) {
        if (!level.contains(field) || !level[field].is_number()) continue;
        const double v = level[field].get<double>();
        const bool cosine = std::string(field).find("cosine") != std::string::npos;
        out[name].push_back({{"step", m["step"]}, {"error", cosine ? 1.0 - v : v}});
      }
    }
  }
  return out;
}

// The trainer's options of a job: its run directory, no progress lines, the job's device. An
// earlier attempt of this job left a checkpoint: continue it (bit-identical on CPU). One killed
// before its first checkpoint (or run with checkpoint_every = 0) left only a partial run
// directory, which the trainer refuses to overwrite: start that attempt afresh.
TrainOptions job_train_options(const JobSpec& spec, const JobContext& context,
                               const fs::path& run_dir) {
  TrainOptions options;
  options.out = run_dir;
  options.progress = false;
  options.device = spec.config.value(kDevice, std::string("auto"));
  options.resume = context.resuming && fs::exists(run_dir / "checkpoint");
  if (context.resuming && !options.resume) fs::remove_all(run_dir);
  return options;
}

// The analysis of a completed run (unless the job says analyze = false), into the payload and
// as its own document beside the model, where `fsr report` finds it.
void add_analysis(Json& payload, const TrainResult& result, const JobSpec& spec, int threads,
                  const fs::path& target_dir, const fs::path& run_dir) {
  if (result.status != "completed" || !spec.config.value(kAnalyze, true)) return;
  AnalysisOptions analysis_options;
  analysis_options.seed = spec.seed;
  const RunAnalysis analysis = analyze_run(target_dir, run_dir, analysis_options);
  write_analysis(run_dir / "analysis.json", analysis,
                 RunInfo{.seed = spec.seed, .threads = threads, .config = spec.config});
  payload["analysis"] = to_json(analysis);
}

// An image-pyramid target (synth/image_pyramid.h PyramidTarget): the pyramid built with the job's
// seed (reseed_target) and stored as context.dir/target (fsr pyramid's layout); the learner trains
// on its first train_samples with m_l = its channels — data.source = fixed, data.train_samples and
// generator.channels are set from the target (the job's "samples" key, when given, sets
// train_samples instead) — and the analysis measures against its held-out samples.
Json run_gda_on_pyramid(const JobSpec& spec, const JobContext& context) {
  PyramidTarget pt = parse_pyramid_target(spec.target, {}, "target");
  if (spec.config.value(kReseedTarget, true)) pt.seed = spec.seed;
  Json learner_json = learner_part(spec.config);
  learner_json["seed"] = spec.seed;
  if (!spec.config.contains(kSamples)) {
    learner_json["data"]["source"] = "fixed";
    learner_json["data"]["train_samples"] = pt.train_samples;
  }
  learner_json["generator"]["channels"] = pt.channels;
  const LearnerConfig learner = parse_learner_config(learner_json);

  const fs::path target_dir = context.dir / "target";
  const fs::path run_dir = context.dir / "run";
  if (!fs::exists(target_dir / "pyramid.json")) save_pyramid(target_dir, build_image_pyramid(pt));
  const DataSet data = load_data_set(target_dir);
  const TrainResult result = train(data, learner, job_train_options(spec, context, run_dir));

  Json payload{{"status", result.status}, {"train", to_json(result)}};
  add_analysis(payload, result, spec, learner.threads, target_dir, run_dir);
  return payload;
}

Json run_gda(const JobSpec& spec, const JobContext& context) {
  if (is_pyramid_target(spec.target)) return run_gda_on_pyramid(spec, context);
  Json target_json = spec.target;
  if (spec.config.value(kReseedTarget, true)) target_json["seed"] = spec.seed;
  const Target truth = build_target(parse_target_config(target_json));

  Json learner_json = learner_part(spec.config);
  learner_json["seed"] = spec.seed;
  const LearnerConfig learner = parse_learner_config(learner_json);

  const fs::path target_dir = context.dir / "target";
  const fs::path run_dir = context.dir / "run";
  save_target(target_dir, truth);
  const TrainResult result = train(truth, learner, job_train_options(spec, context, run_dir));

  Json payload{{"status", result.status}, {"train", to_json(result)}};
  payload["trajectory"] = level1_trajectories(run_dir / "metrics.jsonl");
  if (result.status == "completed") {
    const Json& levels = payload["train"]["recovery"]["levels"];  // to_json(result) has it
    if (!levels.empty()) payload["errors"] = level1_errors(levels[0]);
  }
  add_analysis(payload, result, spec, learner.threads, target_dir, run_dir);
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
