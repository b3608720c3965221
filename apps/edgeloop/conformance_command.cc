#include "cli.h"

namespace edgeloop::cli {
void add_conformance_commands(CLI::App&) {}
}  // namespace edgeloop::cli
