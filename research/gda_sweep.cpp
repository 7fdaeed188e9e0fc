// Success rate of a learner config over seeds: for each seed s, builds the target of
// `--target-config` with its seed set to s, trains the learner with its seed set to s, and scores
// recovery against the bar of docs/science.md §2. One line per seed, then the rate; --json for a
// document.
//
//   gda_sweep --target-config experiments/learners/target_level1.json
//             --learner experiments/learners/level1.json --seeds 1,2,3,4,5
//   gda_sweep ... --patch '{"sgda": {"lr_g": 1e-3}}'     # JSON merge patch on the learner config
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "core/json_io.h"
#include "core/json_read.h"
#include "core/validate.h"
#include "gda/learner_config.h"
#include "gda/trainer.h"
#include "synth/config.h"

int main(int argc, char** argv) {
  CLI::App app("GDA learner success rate over seeds");
  std::string target_config, learner, seeds = "1,2,3,4,5", patch, target_patch;
  bool json = false, progress = false, verbose = false, oracle = false;
  app.add_option("--target-config", target_config, "target config JSON (synth)")->required();
  app.add_option("--learner", learner, "learner config JSON")->required();
  app.add_option("--seeds", seeds, "comma-separated seeds")->capture_default_str();
  app.add_option("--patch", patch, "JSON merge patch applied to the learner config");
  app.add_option("--target-patch", target_patch, "JSON merge patch applied to the target config");
  app.add_flag("--json", json, "print one JSON document");
  app.add_flag("--progress", progress, "progress lines on stderr");
  app.add_flag("--verbose", verbose, "print every metrics record");
  app.add_flag("--oracle-init", oracle, "diagnostic: start the generator at the target");
  bool oracle_columns = false;
  std::string refine;
  app.add_flag("--oracle-columns", oracle_columns,
               "diagnostic: start the columns (and W) at the target's, the first layer at the "
               "config's fixed start");
  app.add_option("--refine", refine,
                 "diagnostic refine stage after the schedule, JSON: {\"steps\": N, \"patch\": "
                 "learner merge patch, \"tie_decoder\": bool, \"tie_taus\": [..], "
                 "\"freeze_columns\": bool}");
  CLI11_PARSE(app, argc, argv);
  try {
    fsr::Json tj = fsr::read_json(target_config);
    if (!target_patch.empty()) tj.merge_patch(fsr::parse_json(target_patch, "--target-patch"));
    fsr::Json lj = fsr::read_json(learner);
    if (!patch.empty()) lj.merge_patch(fsr::parse_json(patch, "--patch"));
    fsr::TrainOptions base{.oracle_init = oracle || oracle_columns,
                           .oracle_columns_only = oracle_columns};
    if (!refine.empty()) {
      const fsr::Json r = fsr::parse_json(refine, "--refine");
      for (const auto& [k, v] : r.items())
        if (k != "steps" && k != "patch" && k != "tie_decoder" && k != "tie_taus" &&
            k != "freeze_columns")
          fsr::fail_field("--refine", k,
                          "unknown key (steps, patch, tie_decoder, tie_taus, freeze_columns)");
      base.refine_steps = fsr::read_int(r, "steps", "--refine", 1000, 1, 100000000);
      base.refine_patch = r.value("patch", fsr::Json::object());
      base.tie_decoder = r.value("tie_decoder", false);
      base.tie_taus = r.value("tie_taus", std::vector<double>{});
      base.freeze_columns = r.value("freeze_columns", false);
    }
    std::vector<std::uint64_t> list;
    std::stringstream ss(seeds);
    for (std::string s; std::getline(ss, s, ',');) list.push_back(std::stoull(s));
    int ok = 0;
    fsr::Json runs = fsr::Json::array();
    for (std::uint64_t seed : list) {
      tj["seed"] = seed;
      lj["seed"] = seed;
      const fsr::Target truth = fsr::build_target(
          fsr::parse_target_config(tj, std::filesystem::path(target_config).parent_path()));
      const fsr::LearnerConfig config = fsr::parse_learner_config(lj);
      fsr::TrainOptions options = base;
      options.progress = progress;
      options.on_metrics = [&](const fsr::Json& m) {
        if (verbose) std::printf("  %s\n", m.dump().c_str());
      };
      const fsr::TrainResult r = fsr::train(truth, config, options);
      const bool pass = r.status == "completed" && r.recovery.meets_bar();
      ok += pass;
      fsr::Json run{
          {"seed", seed}, {"status", r.status}, {"seconds", r.seconds}, {"meets_bar", pass}};
      if (r.status == "completed") run["recovery"] = fsr::to_json(r.recovery);
      runs.push_back(run);
      std::printf("seed %llu  %-9s %6.1fs", static_cast<unsigned long long>(seed), r.status.c_str(),
                  r.seconds);
      for (const auto& l : r.recovery.levels) {
        std::printf("  L%d cos %.4f/%.4f", l.level, l.columns.match.mean_cosine,
                    l.columns.match.min_cosine);
        if (const auto& f = l.first_layer) {
          std::printf(" alpha %.3f beta %.3f rho %.3f dup %d junk %d", f->alpha_max_relative,
                      f->beta_max_relative, f->rho_max_abs_error, f->active_duplicates,
                      f->active_unmatched);
        } else if (const auto& s = l.super_resolution) {
          std::printf(" W %.3f (identified %.3f) b %.3f", s->w_relative, s->w_identified_relative,
                      s->bias_relative);
        }
      }
      std::printf("  %s\n", pass ? "PASS" : "fail");
      if (verbose && r.status == "completed") {  // matched units: truth vs learned (alpha, beta)
        const auto& perm = r.recovery.levels[0].columns.match.permutation;
        const int h2 = truth.grid * truth.grid;
        for (int i = 0; i < truth.channels[0]; ++i) {
          std::printf("   ch %d:", i);
          for (int p = 0; p < h2; ++p)
            std::printf("  (%.2f,%.2f|%.2f,%.2f)", truth.alpha(i * h2 + p), truth.beta(i * h2 + p),
                        r.model.alpha(perm[i] * h2 + p), r.model.beta(perm[i] * h2 + p));
          std::printf("\n");
        }
      }
      std::fflush(stdout);
    }
    std::printf("success %d/%zu\n", ok, list.size());
    if (json) {
      std::cout << fsr::Json{{"successes", ok},
                             {"seeds", list.size()},
                             {"runs", runs},
                             {"learner", lj},
                             {"target", tj}}
                       .dump(2)
                << "\n";
    }
  } catch (const fsr::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
