// Shared pieces of the `fsr` command line. Each group of subcommands lives in its own file and
// registers itself on the root app; a subcommand's callback does the work and prints through
// print_result(). Bad input is thrown as fsr::InputError and becomes one line on stderr and exit
// code 2 in main.cpp; nothing is written in that case.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>

#include "core/json_io.h"

namespace fsr::cli {

// Thrown by a subcommand whose work is done and printed but must end with a non-zero status
// (e.g. `fsr run` when a job failed), so that schedulers and CI see it.
struct ExitStatus {
  int code;
};

// With `as_json`, prints exactly one JSON object on stdout — the payload with "schema_version",
// "kind" (the subcommand) and a run "manifest" whose config is `config` (the parsed arguments),
// so that output redirected to a file is a complete fsrlab document. Otherwise calls `human`
// to print a readable table.
void print_result(std::string_view kind, const Json& payload, bool as_json, const Json& config,
                  const std::function<void(std::ostream&)>& human);

void register_theory_commands(CLI::App& app);      // moments, fit-first-layer, match
void register_synth_commands(CLI::App& app);       // synth, pyramid, inspect
void register_gda_commands(CLI::App& app);         // train (only in builds with LibTorch)
void register_analysis_commands(CLI::App& app);    // analyze
void register_run_commands(CLI::App& app);         // run, merge (suites)
void register_report_commands(CLI::App& app);      // report (figures from JSON)
void register_complexity_commands(CLI::App& app);  // complexity (sample complexity N*(d, eps))

}  // namespace fsr::cli
