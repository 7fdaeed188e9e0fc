#include "apps/cli.h"
namespace fsr::cli {
void register_analysis_commands(CLI::App&) {}
}  // namespace fsr::cli
