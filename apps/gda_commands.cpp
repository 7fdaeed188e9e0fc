#include "apps/cli.h"
namespace fsr::cli {
void register_gda_commands(CLI::App&) {}
}  // namespace fsr::cli
