// edgeloop: one command line for the model toolchain, the repository, the device and the server.
#include <unistd.h>

#include "cli.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/runtime/backends.h"

namespace edgeloop::cli {

void progress(std::string_view label, int64_t done, int64_t total) {
  if (!::isatty(STDERR_FILENO)) return;
  fmt::print(stderr, "\r{}: {}/{}{}", label, done, total, done == total ? "\n" : "");
  std::fflush(stderr);
}

runtime::LoadOptions RuntimeFlags::load() const {
  runtime::LoadOptions o;
  o.threads = threads;
  for (size_t begin = 0; begin < backends.size();) {
    size_t end = backends.find(',', begin);
    if (end == std::string::npos) end = backends.size();
    if (end > begin) o.backends.push_back(backends.substr(begin, end - begin));
    begin = end + 1;
  }
  return o;
}

void add_runtime_flags(CLI::App* command, RuntimeFlags& flags, bool threads) {
  command->add_option("--backends", flags.backends,
                      fmt::format("backends to use, in priority order, comma-separated (known: {}); the reference kernels run "
                                  "what none claims (default: {})",
                                  fmt::join(runtime::known_backends(), ", "),
                                  flags.backends.empty() ? std::string("the ones this CPU supports") : flags.backends));
  if (threads) command->add_option("--threads", flags.threads, "threads of the model's thread pool (default 1)")->check(CLI::Range(1, 256));
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
  add_repo_commands(app);
  add_device_commands(app);
  add_delta_commands(app);
  add_stage_server_command(app);
  add_conformance_commands(app);
  add_bench_command(app);
  add_keys_commands(app);
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
