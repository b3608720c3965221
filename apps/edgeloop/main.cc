// edgeloop: one command line for the model toolchain, the repository, the device and the server.
#include <unistd.h>

#include "cli.h"
#include "edgeloop/model/artifact.h"

namespace edgeloop::cli {

void progress(std::string_view label, int64_t done, int64_t total) {
  if (!::isatty(STDERR_FILENO)) return;
  fmt::print(stderr, "\r{}: {}/{}{}", label, done, total, done == total ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace edgeloop::cli

int main(int argc, char** argv) {
  using namespace edgeloop::cli;
  CLI::App app{
      "edgeloop ships ML models to fleets of edge devices and keeps them healthy there.\n"
      "Run `edgeloop <command> --help` for each command."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(EDGELOOP_VERSION) + " (runtime " + edgeloop::model::kRuntimeVersion +
                                        ", .edge format " + std::to_string(edgeloop::model::kArtifactFormatVersion) + ")");
  add_model_commands(app);
  add_conformance_commands(app);
  add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const CommandError& e) {
    fmt::print(stderr, "edgeloop: error: {}\n", e.message);
    return 1;
  }
  return 0;
}
