// `fsr analyze --target DIR --run RUN`: how far a learned generator (and its discriminator's first
// layer) recovered the planted target, per level (experiments/analysis.h, docs/analysis.md).
// Writes RUN/analysis.json (or --out) and prints a table, or the document with --json.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

#include "apps/cli.h"
#include "core/validate.h"
#include "experiments/analysis.h"

namespace fsr::cli {
namespace {
namespace fs = std::filesystem;

struct AnalyzeArgs {
  std::string target, run, out;
  AnalysisOptions options;
  bool json = false, no_floor = false;
};

void print_human(std::ostream& os, const RunAnalysis& r, const std::string& written) {
  char line[256];
  os << "analysis of " << r.run_dir << " (model " << r.model_dir << ") against " << r.target_dir
     << ", " << r.levels_scored << " level(s)";
  if (r.run_result.is_object() && r.run_result.contains("status"))
    os << ", run status " << r.run_result["status"].get<std::string>();
  os << "\n";
  const double thr = r.options.threshold;
  for (const LevelAnalysis& a : r.levels) {
    if (!a.planted) {
      std::snprintf(line, sizeof line,
                    "level %d: %d learned channels; no planted truth (a data set: held-out samples "
                    "from %lld): recovery not scored\n",
                    a.level, a.learned_channels, static_cast<long long>(r.held_out_first));
      os << line;
    }
    const ColumnMatch& m = a.columns.match;
    std::string extra;
    if (thr != 0.99) {
      std::snprintf(line, sizeof line, ", >=%.3g %.2f", thr, m.fraction_above);
      extra = line;
    }
    if (a.planted) {
      std::snprintf(line, sizeof line,
                    "level %d: M columns %d vs learned %d: matched |cos| mean %.4f worst %.4f, "
                    ">=0.99 %.2f%s; best-match mean %.4f; duplicates %zu, dead %zu\n",
                    a.level, a.channels, a.learned_channels, m.mean_cosine, m.min_cosine,
                    a.columns.fraction_above_099, extra.c_str(), m.mean_best_cosine,
                    m.duplicate_columns.size(), m.dead_columns.size());
      os << line;
      if (a.decoder_vs_target) {
        std::snprintf(
            line, sizeof line,
            "  decoder V_%d: vs M mean %.4f worst %.4f; vs M_hat mean %.4f worst %.4f\n", a.level,
            a.decoder_vs_target->match.mean_cosine, a.decoder_vs_target->match.min_cosine,
            a.decoder_vs_learned->match.mean_cosine, a.decoder_vs_learned->match.min_cosine);
        os << line;
      }
      if (a.first_layer) {
        const FirstLayerRecovery& f = *a.first_layer;
        std::snprintf(line, sizeof line,
                      "  first layer (%d units scored%s): alpha rel err mean %.4f max %.4f, beta "
                      "mean %.4f max %.4f, rho abs err mean %.4f max %.4f\n",
                      f.units_scored, f.identifiable ? "" : ", some channels NOT identifiable",
                      f.alpha_mean_relative, f.alpha_max_relative, f.beta_mean_relative,
                      f.beta_max_relative, f.rho_mean_abs_error, f.rho_max_abs_error);
        os << line;
      }
      if (a.super_resolution && !a.super_resolution->comparable && a.functional) {
        std::snprintf(line, sizeof line,
                      "  super-resolution W_%d: not comparable (%s); functional %.4f (codes) %.4f "
                      "(images)\n",
                      a.level, a.super_resolution->not_comparable.c_str(),
                      a.functional->functional_error, a.functional->output_functional_error);
        os << line;
      } else if (a.super_resolution && a.functional) {
        const SuperResolutionRecovery& s = *a.super_resolution;
        std::snprintf(line, sizeof line,
                      "  super-resolution W_%d: rel Frobenius %.4f (identified entries %.4f, %d "
                      "left out), bias %.4f, functional %.4f (codes) %.4f (images)\n",
                      a.level, s.w_relative, s.w_identified_relative, s.unidentified_entries,
                      s.bias_relative, a.functional->functional_error,
                      a.functional->output_functional_error);
        os << line;
      }
    }  // a.planted
    const DistributionMetrics& d = a.distribution;
    os << "  moments of patches, orders 1.." << d.moment_mismatch.size() << ":";
    for (std::size_t k = 0; k < d.moment_mismatch.size(); ++k) {
      std::snprintf(line, sizeof line, " %.4g", d.moment_mismatch[k]);
      os << line;
      if (!d.moment_mismatch_floor.empty()) {
        std::snprintf(line, sizeof line, " (floor %.2g)", d.moment_mismatch_floor[k]);
        os << line;
      }
    }
    std::snprintf(line, sizeof line,
                  "\n  sliced W1 %.4g (floor %.2g), W2 %.4g (floor %.2g), projection scale %.3g\n",
                  d.sliced_w1, d.sliced_w1_floor, d.sliced_w2, d.sliced_w2_floor,
                  d.projection_scale);
    os << line;
    if (!a.planted) {
      std::snprintf(line, sizeof line, "  activity: learned %.4f (%.2f per patch)\n",
                    a.activity.learned.achieved, a.activity.learned.mean_active_per_patch);
      os << line;
      continue;
    }
    std::snprintf(line, sizeof line,
                  "  activity: target %.4f (%.2f per patch, P(<=%d) %.3f), learned %.4f (%.2f "
                  "per patch, P(<=%d) %.3f)\n",
                  a.activity.target.achieved, a.activity.target.mean_active_per_patch, a.activity.k,
                  a.activity.target.fraction_patches_at_most_k, a.activity.learned.achieved,
                  a.activity.learned.mean_active_per_patch, a.activity.k,
                  a.activity.learned.fraction_patches_at_most_k);
    os << line;
  }
  os << "written to " << written << "\n";
}

void run_analyze(const AnalyzeArgs& a) {
  Stopwatch clock;
  AnalysisOptions o = a.options;
  o.noise_floor = !a.no_floor;
  if (o.samples < 2) fail_field("--samples", o.samples, "must be >= 2");
  require_int_in_range("--directions", o.directions, 1, 100000);
  require_in_range("--threshold", o.threshold, 0, 1, true, true);
  require_int_in_range("--threads", o.threads, 1, 256);
  const RunAnalysis r = analyze_run(a.target, a.run, o);
  const fs::path out = a.out.empty() ? fs::path(a.run) / "analysis.json" : fs::path(a.out);
  const Json args{{"target", a.target},
                  {"run", a.run},
                  {"out", out.string()},
                  {"samples", o.samples},
                  {"directions", o.directions},
                  {"threshold", o.threshold},
                  {"seed", o.seed},
                  {"threads", o.threads},
                  {"noise_floor", o.noise_floor}};
  RunInfo run{.seed = o.seed, .threads = o.threads, .config = args};
  run.wall_seconds = clock.seconds();
  try {
    write_analysis(out, r, run);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    fail_field("--out", out.string(), std::string("cannot be written: ") + e.what());
  }
  print_result("analyze", to_json(r), a.json, args,
               [&](std::ostream& os) { print_human(os, r, out.string()); });
}

}  // namespace

void register_analysis_commands(CLI::App& app) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "analyze", "Score a learned generator (and discriminator) against its planted target");
  cmd->add_option("--target", args->target, "target directory (fsr synth --out)")->required();
  cmd->add_option("--run", args->run,
                  "run directory: the model in RUN/model or RUN itself, optional V_<l>.npy, "
                  "result.json")
      ->required();
  cmd->add_option("--out", args->out, "where to write the analysis (default RUN/analysis.json)");
  cmd->add_option("--samples", args->options.samples,
                  "samples of each model for distribution and activity")
      ->capture_default_str();
  cmd->add_option("--directions", args->options.directions,
                  "random directions for moments and sliced Wasserstein")
      ->capture_default_str();
  cmd->add_option("--threshold", args->options.threshold, "cosine bar reported beside 0.99")
      ->capture_default_str();
  cmd->add_option("--seed", args->options.seed, "seed of samples and directions")
      ->capture_default_str();
  cmd->add_option("--threads", args->options.threads, "sampling threads")->capture_default_str();
  cmd->add_flag("--no-floor", args->no_floor,
                "skip the noise floor (second independent batch of the target)");
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] { run_analyze(*args); });
}

}  // namespace fsr::cli
