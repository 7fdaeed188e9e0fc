// fsr train: the GDA learner (gda/, docs/science.md §4) on the command line. The run directory holds the
// learned model in the target layout (model/, readable by load_target and `fsr match`), the
// decoder rows V_l.npy, metrics.jsonl, checkpoint/ and result.json; see gda/trainer.h.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <ostream>

#include "apps/cli.h"
#include "core/atomic_file.h"
#include "core/validate.h"
#include "gda/learner_config.h"
#include "gda/trainer.h"
#include "gda/training_data.h"
#include "synth/target.h"

namespace fsr::cli {
namespace {

void add_train(CLI::App& app) {
  struct Args {
    std::string target, config, out, device = "auto";
    bool resume = false, json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "train", "train a GDA learner against a planted target or an image pyramid");
  cmd->add_option(
         "--target", args->target,
         "target directory (fsr synth --out), or an image pyramid (fsr pyramid --out: a data set, "
         "no planted truth; the config gives generator.channels and generator.kernel)")
      ->required();
  cmd->add_option("--config", args->config, "learner config JSON (experiments/learners/*.json)")
      ->required();
  cmd->add_option("--out", args->out, "run directory (new, or existing with --resume)")->required();
  cmd->add_option("--device", args->device, "auto | cpu | cuda")->capture_default_str();
  cmd->add_flag("--resume", args->resume, "continue the run in --out from its checkpoint");
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] {
    if (args->device != "auto" && args->device != "cpu" && args->device != "cuda") {
      fail_field("--device", args->device, "must be auto, cpu or cuda");
    }
    check_output_directory(args->out, "--out");
    const LearnerConfig config = parse_learner_config(read_json(args->config));
    const TrainOptions options{
        .out = args->out, .device = args->device, .resume = args->resume, .progress = !args->json};
    // A folder of fsr pyramid is a data set (no planted truth); anything else a target.
    const bool data_set =
        std::filesystem::exists(std::filesystem::path(args->target) / "pyramid.json");
    const TrainResult r = data_set ? train(load_data_set(args->target), config, options)
                                   : train(load_target(args->target), config, options);
    Json payload = to_json(r);
    payload["out"] = args->out;
    const Json cli_config{{"target", args->target}, {"config", args->config},
                          {"out", args->out},       {"device", args->device},
                          {"resume", args->resume}, {"learner", to_json(config)}};
    print_result("train", payload, args->json, cli_config, [&](std::ostream& out) {
      out << "train: " << r.status << " after " << r.steps << "/" << r.total_steps
          << " generator steps in " << r.seconds << " s on " << r.device << "\n";
      if (!r.message.empty()) out << "  " << r.message << "\n";
      if (!r.no_planted_truth.empty()) out << "  " << r.no_planted_truth << "\n";
      char line[200];
      for (const auto& l : r.recovery.levels) {
        std::snprintf(line, sizeof line, "  level %d: columns mean %.4f worst %.4f", l.level,
                      l.columns.match.mean_cosine, l.columns.match.min_cosine);
        out << line;
        if (l.first_layer) {
          const FirstLayerRecovery& f = *l.first_layer;
          std::snprintf(line, sizeof line, "; alpha %.4f beta %.4f (max rel.) rho %.4f (max abs.)",
                        f.alpha_max_relative, f.beta_max_relative, f.rho_max_abs_error);
        } else if (l.super_resolution && !l.super_resolution->comparable) {
          std::snprintf(line, sizeof line, "; W not comparable (%s)",
                        l.super_resolution->not_comparable.c_str());
        } else if (l.super_resolution) {
          std::snprintf(line, sizeof line, "; W rel. error %.4f (identified entries %.4f)",
                        l.super_resolution->w_relative, l.super_resolution->w_identified_relative);
        }
        out << line << (l.meets_bar() ? "  [meets bar]" : "") << "\n";
      }
      out << "  run directory: " << args->out << "\n";
    });
  });
}

}  // namespace

void register_gda_commands(CLI::App& app) { add_train(app); }

}  // namespace fsr::cli
