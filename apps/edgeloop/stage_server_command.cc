// edgeloop stage-server: serves the tail of a split model over HTTP (docs/split-inference.md)
// until SIGINT or SIGTERM. The server itself is device::StageServer.
#include <pthread.h>

#include <csignal>
#include <filesystem>

#include "cli.h"
#include "edgeloop/device/stage_server.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/model/split.h"
#include "edgeloop/runtime/golden.h"

namespace edgeloop::cli {
namespace {

struct StageServerArgs {
  std::string model, cut, host = "127.0.0.1";
  int port = 0;
  RuntimeFlags rt;
  bool json = false;
};

void run_stage_server(const StageServerArgs& a) {
  const model::Graph g = unwrap(model::load_artifact(std::filesystem::path(a.model)), "loading " + a.model);
  model::SplitModel split = unwrap(model::split_at(g, a.cut));
  // The tail's smoke test: the whole model's golden vector, through the head here and the tail
  // on the backends it will serve with.
  bool golden = false;
  if (g.meta.golden) {
    unwrap(runtime::attach_split_golden(split, g), "deriving the tail's golden vector");
    golden = true;
  }

  // Block the stop signals before any thread starts, so that the server's threads inherit the
  // mask and sigwait below is the only place they are taken.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-reply must not end the server

  device::StageServerOptions options;
  options.host = a.host;
  options.port = a.port;
  options.load = a.rt.load();
  auto server = unwrap(device::StageServer::start(split, options));
  if (golden) unwrap(runtime::check_golden(server->tail()), "the tail's smoke test");

  const model::Tensor& input = split.tail.tensors[split.tail.inputs.front()];
  if (a.json) {
    print_json({{"url", server->url()}, {"port", server->port()}, {"model", g.meta.name}, {"version", g.meta.version},
                {"variant", g.meta.variant}, {"cut", split.cut},
                {"input", {{"dtype", model::dtype_name(input.dtype)}, {"shape", input.shape}, {"bytes", input.byte_size()}}},
                {"backends", server->tail().backends_used()}, {"golden", golden ? "match" : "none"}});
  } else {
    fmt::print("serving the tail of {} after {} on {}\n", g.meta.name, split.cut, server->url());
    fmt::print("  model {} v{} ({}); POST /v1/tail takes {} {} ({} bytes); tail runs {} node{} on {}; smoke test {}\n",
               g.meta.name, g.meta.version, g.meta.variant, model::dtype_name(input.dtype), model::shape_str(input.shape),
               input.byte_size(), split.tail.nodes.size(), split.tail.nodes.size() == 1 ? "" : "s",
               fmt::join(server->tail().backends_used(), "+"),
               golden ? "passed (the whole model's golden outputs)" : "skipped (the model has no golden vector)");
  }
  std::fflush(stdout);  // whoever started us in the background reads the port now

  int signal = 0;
  sigwait(&stop_signals, &signal);
  server->stop();
  const auto stats = server->stats();
  fmt::print(a.json ? stderr : stdout, "stopped on {}: {} served, {} refused, {} failed\n",
             signal == SIGINT ? "SIGINT" : "SIGTERM", stats.served, stats.refused, stats.failed);
}

}  // namespace

void add_stage_server_command(CLI::App& app) {
  auto a = std::make_shared<StageServerArgs>();
  auto* cmd = app.add_subcommand(
      "stage-server",
      "Serve the tail of a split model over HTTP: devices run the head and send the cut tensor, never the raw input "
      "(docs/split-inference.md). Runs until SIGINT or SIGTERM");
  cmd->add_option("--model", a->model, ".edge file")->required();
  cmd->add_option("--cut", a->cut, "the tensor to cut at (`edgeloop model cuts MODEL` lists them)")->required();
  cmd->add_option("--host", a->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", a->port, "TCP port; 0 picks a free one and prints it")->capture_default_str()->check(CLI::Range(0, 65535));
  add_runtime_flags(cmd, a->rt);
  cmd->add_flag("--json", a->json, "print the address and the tail's input as JSON");
  cmd->callback([a] { run_stage_server(*a); });
}

}  // namespace edgeloop::cli
