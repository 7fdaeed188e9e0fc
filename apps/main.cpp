// fsr: the fsrlab command line. `fsr --help` lists the subcommands.
#include <iostream>

#include "apps/cli.h"
#include "core/validate.h"
#ifdef FSR_WITH_GDA
#include "experiments/gda_job.h"
#endif

namespace fsr::cli {
namespace {
// Started before main(), so manifests report the wall time of the whole command.
const Stopwatch& process_clock() {
  static const Stopwatch clock;
  return clock;
}
[[maybe_unused]] const Stopwatch& kStartClock = process_clock();
}  // namespace

void print_result(std::string_view kind, const Json& payload, bool as_json, const Json& config,
                  const std::function<void(std::ostream&)>& human) {
  if (as_json) {
    RunInfo run{.config = config};
    if (config.contains("seed") && config["seed"].is_number_unsigned()) {
      run.seed = config["seed"].get<std::uint64_t>();
    }
    run.wall_seconds = process_clock().seconds();
    std::cout << dump_json(make_document(kind, payload, run)) << std::endl;
  } else {
    human(std::cout);
  }
}

}  // namespace fsr::cli

int main(int argc, char** argv) {
  CLI::App app{"fsrlab: planted forward super-resolution targets and the GDA learner", "fsr"};
  app.require_subcommand(1);
  app.set_version_flag("--version", fsr::build_info().version);
  fsr::cli::register_theory_commands(app);
  fsr::cli::register_synth_commands(app);
  fsr::cli::register_analysis_commands(app);
  fsr::cli::register_run_commands(app);
  fsr::cli::register_report_commands(app);
  fsr::cli::register_complexity_commands(app);
#ifdef FSR_WITH_GDA
  fsr::cli::register_gda_commands(app);
  fsr::register_gda_job_kind();
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const fsr::cli::ExitStatus& e) {
    return e.code;
  } catch (const CLI::ParseError& e) {
    std::cerr << "fsr: " << e.what() << " (see fsr --help)\n";
    return 2;
  } catch (const fsr::InputError& e) {
    std::cerr << "fsr: " << fsr::escape_control(e.what()) << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "fsr: error: " << fsr::escape_control(e.what()) << "\n";
    return 1;
  }
  return 0;
}
