// `fsr synth` (build a planted target, optionally sample it) and `fsr inspect` (property report).
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <string>

#include "apps/cli.h"
#include "core/atomic_file.h"
#include "core/memory_budget.h"
#include "core/image_io.h"
#include "core/npy.h"
#include "core/validate.h"
#include "synth/config.h"
#include "synth/image_pyramid.h"
#include "synth/report.h"
#include "synth/sample.h"
#include "synth/target.h"

namespace fsr::cli {
namespace {
namespace fs = std::filesystem;

struct SynthArgs {
  std::string config, out;
  std::int64_t samples = 0;
  bool hidden = false, json = false;
  int threads = 1;
};

struct PyramidArgs {
  std::vector<std::string> images;
  std::string out;
  int levels = 4, grid = 2, patch = 2, colors = 3, scale = 1;
  std::int64_t samples = 1000;
  std::uint64_t seed = 0;
  bool json = false;
};

struct InspectArgs {
  std::string dir;
  std::int64_t samples = 2000;
  bool json = false;
  int threads = 1;
};

std::string hex64(std::uint64_t x) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

void print_activity(std::ostream& os, const Json& activity) {
  os << "  level  channels  requested  achieved  (stderr)   per-patch  k  P(<=k)   k99\n";
  for (const Json& a : activity) {
    char line[160];
    std::snprintf(line, sizeof line, "  %5d  %8d  %9s  %8.4f  (%.4f)  %9.3f  %d  %.4f  %4d\n",
                  a["level"].get<int>(), a["channels"].get<int>(),
                  a.contains("requested")
                      ? std::to_string(a["requested"].get<double>()).substr(0, 6).c_str()
                      : "-",
                  a["achieved"].get<double>(), a["stderr"].get<double>(),
                  a["mean_active_per_patch"].get<double>(), a["k"].get<int>(),
                  a["fraction_patches_at_most_k"].get<double>(), a["k99"].get<int>());
    os << line;
  }
}

void run_synth(const SynthArgs& a) {
  Stopwatch clock;
  if (a.samples < 0) fail_field("--samples", a.samples, "must be >= 1");
  if (a.hidden && a.samples == 0) fail_field("--hidden", "true", "needs --samples N");
  require_int_in_range("--threads", a.threads, 1, 256);
  check_output_directory(a.out, "--out");  // before the work: /dev/null, a dangling link
  const fs::path config_path(a.config);
  const Json j = read_json(config_path);
  const TargetConfig config = parse_target_config(j, config_path.parent_path());
  if (a.samples > 0) {
    double per_sample = 0;
    for (int l = 1; l <= config.levels; ++l) {
      per_sample += double(config.colors) * config.side_at(l) * config.side_at(l);
      if (a.hidden)
        per_sample += double(config.channels[l - 1]) * config.grid_at(l) * config.grid_at(l);
    }
    if (per_sample * a.samples * 8 > 8e9) {
      fail_field("--samples", a.samples,
                 "the arrays would take " + format_value(per_sample * a.samples * 8 / 1e9) +
                     " GB; must stay <= 8 GB");
    }
    require_memory("--samples", std::to_string(a.samples), per_sample * a.samples * 8,
                   "the sample arrays");
  }
  const fs::path out(a.out);

  const Target target = build_target(config);
  SampleBatch batch;
  if (a.samples > 0) {
    batch =
        sample(target, 0, a.samples, SampleOptions{.with_hidden = a.hidden, .threads = a.threads});
  }
  Json files = Json::array({"target.json", "A.npy", "alpha.npy", "beta.npy"});
  for (int l = 1; l <= target.levels; ++l) {
    const std::string s = std::to_string(l);
    files.push_back("M_" + s + ".npy");
    if (l >= 2) files.push_back("W_" + s + ".npy"), files.push_back("b_" + s + ".npy");
  }
  // The samples go into the directory being built, so the target appears with them or not at all.
  const auto write_samples = [&](const fs::path& dir) {
    for (int l = 1; l <= target.levels && a.samples > 0; ++l) {
      const std::string s = std::to_string(l);
      write_npy(dir / ("X_" + s + ".npy"), batch.x[l - 1].data(),
                {a.samples, target.colors, target.side_at(l), target.side_at(l)});
      if (a.hidden) {
        write_npy(dir / ("S_" + s + ".npy"), batch.s[l - 1].data(),
                  {a.samples, target.channels[l - 1], target.grid_at(l), target.grid_at(l)});
      }
    }
  };
  // Checks the directory before writing anything.
  save_target(out, target, "--out", write_samples);
  for (int l = 1; l <= target.levels && a.samples > 0; ++l) {
    files.push_back("X_" + std::to_string(l) + ".npy");
    if (a.hidden) files.push_back("S_" + std::to_string(l) + ".npy");
  }
  const Json payload{{"out", out.string()},           {"fingerprint", hex64(fingerprint(target))},
                     {"config", target.config},       {"achieved", target.achieved},
                     {"samples", a.samples},          {"files", files},
                     {"wall_time_s", clock.seconds()}};
  const Json args{{"config", a.config}, {"out", a.out},         {"samples", a.samples},
                  {"hidden", a.hidden}, {"threads", a.threads}, {"seed", config.seed}};
  print_result("synth", payload, a.json, args, [&](std::ostream& os) {
    os << "target written to " << out.string() << " (" << files.size() << " files)\n";
    os << "activity (requested vs achieved on " << target.achieved["activity"][0]["samples"]
       << " samples):\n";
    print_activity(os, target.achieved["activity"]);
    os << "dictionary coherence:";
    for (const Json& c : target.achieved["coherence"]) {
      os << "  M_" << c["level"].get<int>() << " " << std::setprecision(4)
         << c["achieved"].get<double>() << (c["within_bound"].get<bool>() ? "" : " (ABOVE mu)");
    }
    os << "\nrho off-diagonal: max |rho| = " << target.achieved["rho"]["max_abs"].get<double>()
       << "\n";
    if (a.samples > 0)
      os << a.samples << " samples written as X_<l>.npy" << (a.hidden ? " and S_<l>.npy" : "")
         << "\n";
  });
}

void run_pyramid(const PyramidArgs& a) {
  Stopwatch clock;
  if (a.out.empty()) fail_field("--out", a.out, "must name a directory");
  const fs::path out(a.out);
  if (fs::exists(out) && (!fs::is_directory(out) || !fs::is_empty(out)))
    fail_field("--out", a.out, "exists and is not an empty directory");
  std::vector<fs::path> files;
  for (const std::string& p : a.images) {
    const auto found = find_images(p, "--images");
    files.insert(files.end(), found.begin(), found.end());
  }
  const PyramidGeometry g{.levels = a.levels, .grid = a.grid, .patch = a.patch, .colors = a.colors};
  const ImagePyramid pyr = build_image_pyramid(
      g, {.images = files, .samples = a.samples, .image_scale = a.scale, .seed = a.seed});
  save_pyramid(out, pyr);
  Json sides = Json::array();
  for (int l = 1; l <= g.levels; ++l) sides.push_back(g.side_at(l));
  const Json payload{{"out", out.string()},
                     {"images", pyr.images},
                     {"samples", a.samples},
                     {"sides", sides},
                     {"wall_time_s", clock.seconds()}};
  const Json args{{"images", a.images}, {"out", a.out},         {"levels", a.levels},
                  {"grid", a.grid},     {"patch", a.patch},     {"colors", a.colors},
                  {"scale", a.scale},   {"samples", a.samples}, {"seed", a.seed}};
  print_result("pyramid", payload, a.json, args, [&](std::ostream& os) {
    os << a.samples << " crops of " << pyr.images.size() << " images written to " << out.string()
       << " as X_1.npy .. X_" << g.levels << ".npy, sides " << sides.dump() << "\n";
  });
}

void run_inspect(const InspectArgs& a) {
  if (a.samples < 2) fail_field("--samples", a.samples, "must be >= 2");
  require_int_in_range("--threads", a.threads, 1, 256);
  const Target target = load_target(a.dir);
  const Json report = property_report(target, a.samples, a.threads);
  Json payload{{"dir", a.dir}};
  for (auto it = report.begin(); it != report.end(); ++it) payload[it.key()] = it.value();
  const Json args{{"dir", a.dir}, {"samples", a.samples}, {"threads", a.threads}};
  print_result("inspect", payload, a.json, args, [&](std::ostream& os) {
    const Json& arch = report["architecture"];
    os << "target " << a.dir << ": " << arch["levels"] << " levels, grid " << arch["grid"]
       << ", channels " << arch["channels"] << ", patch " << arch["patch"] << ", colours "
       << arch["colors"] << ", kernel " << arch["kernel"] << "\n";
    os << "activity over " << a.samples << " samples:\n";
    print_activity(os, report["activity"]);
    os << "coherence:";
    for (const Json& c : report["coherence"])
      os << "  M_" << c["level"] << " " << c["coherence"].get<double>();
    os << "\nrho: max |offdiag| " << report["rho"]["max_abs"] << ", rms " << report["rho"]["rms"]
       << "\n";
    for (const Json& l : report["locality"]) {
      os << "locality level " << l["level"] << ": <= " << l["parents_per_patch_max"]
         << " parent patches, level-1 receptive field at most "
         << l["level1_receptive_field_box_max"] << "\n";
    }
    for (const Json& d : report["downscale"]) {
      os << "downscale X_" << d["fine_level"] << " -> X_" << d["coarse_level"]
         << ": relative error " << d["relative_error"].get<double>() << ", cosine "
         << d["cosine"].get<double>() << "\n";
    }
  });
}

}  // namespace

void register_synth_commands(CLI::App& app) {
  auto synth_args = std::make_shared<SynthArgs>();
  CLI::App* synth = app.add_subcommand("synth", "Build a planted target G* from a JSON config");
  synth->add_option("--config", synth_args->config, "target config (docs/target_format.md)")
      ->required();
  synth->add_option("--out", synth_args->out, "target directory to write")->required();
  synth->add_option("--samples", synth_args->samples, "also write the first N samples X_<l>.npy");
  synth->add_flag("--hidden", synth_args->hidden, "with --samples, also write S_<l>.npy");
  synth->add_option("--threads", synth_args->threads,
                    "sampling threads (results do not depend on it)");
  synth->add_flag("--json", synth_args->json, "print one JSON object");
  synth->callback([synth_args] { run_synth(*synth_args); });

  auto pyr = std::make_shared<PyramidArgs>();
  CLI::App* pyramid = app.add_subcommand(
      "pyramid", "Crop image files into an L-level average-pooled pyramid in a target's layout");
  pyramid->add_option("--images", pyr->images, "image files or folders (PNG, JPEG, ...)")
      ->required();
  pyramid->add_option("--out", pyr->out, "directory to write (new or empty)")->required();
  pyramid->add_option("--levels", pyr->levels, "L (default 4)");
  pyramid->add_option("--grid", pyr->grid, "h_1 (default 2): sides r h_1 2^(l-1)");
  pyramid->add_option("--patch", pyr->patch, "r (default 2)");
  pyramid->add_option("--colors", pyr->colors, "1 (grey) or 3 (RGB, default)");
  pyramid->add_option("--samples", pyr->samples, "crops (default 1000)");
  pyramid->add_option("--scale", pyr->scale, "average-pool each image by this factor first");
  pyramid->add_option("--seed", pyr->seed, "crop positions derive from it");
  pyramid->add_flag("--json", pyr->json, "print one JSON object");
  pyramid->callback([pyr] { run_pyramid(*pyr); });

  auto inspect_args = std::make_shared<InspectArgs>();
  CLI::App* inspect = app.add_subcommand("inspect", "Property report of a target directory");
  inspect->add_option("dir", inspect_args->dir, "target directory")->required();
  inspect->add_option("--samples", inspect_args->samples,
                      "samples for the statistics (default 2000)");
  inspect->add_option("--threads", inspect_args->threads, "sampling threads");
  inspect->add_flag("--json", inspect_args->json, "print one JSON object");
  inspect->callback([inspect_args] { run_inspect(*inspect_args); });
}

}  // namespace fsr::cli
