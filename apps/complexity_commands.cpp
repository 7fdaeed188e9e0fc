// fsr complexity: sample complexity N*(d, eps) of a job kind over a grid of dimensions and
// accuracies, with fitted exponents and the polynomial-vs-exponential verdict
// (experiments/sample_complexity.h, docs/sample_complexity.md).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <ostream>
#include <string>

#include "apps/cli.h"
#include "core/validate.h"
#include "experiments/sample_complexity.h"

namespace fsr::cli {

namespace {
namespace fs = std::filesystem;

std::string cell(const Json& v, const char* format = "%.4g") {
  if (v.is_null()) return "-";
  if (v.is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, format, v.get<double>());
    return buf;
  }
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// The seeds a cell needs below eps: the smallest k with k >= fraction n (the search's rule,
// experiments/sample_complexity_search.cpp meets()), so fraction 1.0 of 2 seeds prints 2, not 1.
std::size_t seeds_needed(double fraction, std::size_t n) {
  return static_cast<std::size_t>(std::ceil(fraction * double(n) - 1e-9));
}

void print_complexity(std::ostream& os, const Json& r, const std::string& written) {
  const Json& s = r["suite"];
  os << "sample complexity " << s["suite"].get<std::string>() << " (size "
     << s["size"].get<std::string>() << "): error " << s["error"].get<std::string>()
     << ", d = " << s["dimension"].get<std::string>() << ", success in >= "
     << seeds_needed(s["search"]["success_fraction"].get<double>(), s["seeds"].size()) << " of "
     << s["seeds"].size() << " seeds; trials " << r["counts"]["trials"] << " (ran "
     << r["counts"]["ran"] << ", reused " << r["counts"]["reused"] << ", failed "
     << r["counts"]["failed"] << ")\n";
  for (const auto& [job, t] : r["n_star_table"].items()) {
    os << "\n"
       << job << ": N* (rows d, columns eps; - = not reached)\n  "
       << "point";
    for (const Json& e : t["eps"]) os << "\teps=" << cell(e);
    os << "\n";
    for (std::size_t i = 0; i < t["points"].size(); ++i) {
      os << "  " << t["points"][i].get<std::string>() << " (d=" << cell(t["d"][i]) << ")";
      for (const Json& n : t["n_star"][i]) os << "\t" << cell(n, "%.0f");
      os << "\n";
    }
    const Json& v = r["verdict"][job];
    os << "  " << cell(v["summary"]) << "\n";
    for (const Json& p : v["error_slope"]["points"]) {
      os << "  error-vs-N slope at " << p["point"].get<std::string>() << ": "
         << cell(p["slope"], "%.3f");
      if (p["slope_interval"].is_array()) {
        os << " [" << cell(p["slope_interval"][0], "%.3f") << ", "
           << cell(p["slope_interval"][1], "%.3f") << "]";
      }
      os << "\n";
    }
    if (v["error_slope"].contains("expected")) {
      os << "  expected slope -0.5 (truncated moments) in every interval: "
         << (v["error_slope"]["expected_in_every_interval"].get<bool>() ? "yes" : "no") << "\n";
    }
  }
  os << "\nwritten: " << written << "\n";
}

void add_complexity(CLI::App& app) {
  struct Args {
    std::string suite, out, size = "ci";
    int threads = 1;
    bool json = false, quiet = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "complexity",
      "sample complexity N*(d, eps): doubling + bisection per dimension point and accuracy, "
      "fitted exponents, polynomial vs exponential (resumable)");
  cmd->add_option("suite", args->suite, "suite JSON (experiments/sample_complexity_*.json)")
      ->required();
  cmd->add_option("--out", args->out,
                  "output directory: jobs/<id>/result.json and sample_complexity.json "
                  "(re-running reuses finished trials)")
      ->required();
  cmd->add_option("--size", args->size, "ci (seconds) or paper (the real figure)")
      ->check(CLI::IsMember({"ci", "paper"}))
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "threads given to each trial")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "no progress line per trial on stderr");
  cmd->add_flag("--json", args->json, "print the result as one JSON object");
  cmd->callback([args] {
    const SampleComplexitySuite suite = load_sample_complexity_suite(args->suite, args->size);
    SampleComplexityOptions o;
    o.out = args->out;
    o.threads = args->threads;
    if (!args->quiet) o.log = [](const std::string& line) { std::cerr << line << std::endl; };
    const Json r = run_sample_complexity(suite, o);
    const std::string written = (fs::path(args->out) / "sample_complexity.json").string();
    const Json config{{"suite", args->suite},
                      {"out", args->out},
                      {"size", args->size},
                      {"threads", args->threads}};
    print_result("complexity", r, args->json, config,
                 [&](std::ostream& os) { print_complexity(os, r, written); });
  });
}

}  // namespace

void register_complexity_commands(CLI::App& app) { add_complexity(app); }

}  // namespace fsr::cli
