#include "edgeloop/device/stage_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "edgeloop/device/tensor_wire.h"
#include "edgeloop/runtime/session.h"

namespace edgeloop::device {
namespace {

nlohmann::ordered_json tensor_json(const model::Tensor& t) {
  return {{"name", t.name}, {"dtype", model::dtype_name(t.dtype)}, {"shape", t.shape}, {"bytes", t.byte_size()}};
}

}  // namespace

struct StageServer::Impl {
  runtime::Program tail;
  std::string cut;
  std::string host;
  size_t max_request_bytes = 0;
  httplib::Server server;
  std::thread thread;
  int port = -1;
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> served{0}, refused{0}, failed{0};
  // Sessions are one per thread (session.h); httplib runs handlers on a pool, so each request
  // borrows one here and returns it.
  std::mutex sessions_mutex;
  std::vector<std::unique_ptr<runtime::Session>> sessions;

  explicit Impl(runtime::Program program) : tail(std::move(program)) {}

  std::unique_ptr<runtime::Session> borrow() {
    std::lock_guard lock(sessions_mutex);
    if (sessions.empty()) return std::make_unique<runtime::Session>(tail);
    auto s = std::move(sessions.back());
    sessions.pop_back();
    return s;
  }
  void give_back(std::unique_ptr<runtime::Session> s) {
    std::lock_guard lock(sessions_mutex);
    sessions.push_back(std::move(s));
  }

  void answer_error(httplib::Response& res, int status, const std::string& message) {
    (status >= 500 ? failed : refused).fetch_add(1);
    res.status = status;
    res.set_content(message + "\n", "text/plain");
  }

  void handle_tail(const httplib::Request& req, httplib::Response& res) {
    const model::Graph& g = tail.graph();
    const model::Tensor& input = g.tensors[g.inputs.front()];
    TensorWireLimits limits;
    limits.max_tensors = 1;
    limits.max_tensor_bytes = input.byte_size();
    auto decoded = decode_tensors(as_bytes(req.body), limits);
    if (!decoded) return answer_error(res, 400, decoded.error().message);
    if (decoded->size() != 1)
      return answer_error(res, 400, fmt::format("send exactly one tensor, the value of '{}'", cut));
    model::TensorData& activation = decoded->front();
    if (!activation.name.empty() && activation.name != cut)
      return answer_error(res, 400, fmt::format("this server runs the tail after '{}', not after '{}'", cut, activation.name));
    if (activation.dtype != input.dtype || activation.shape != input.shape)
      return answer_error(res, 400,
                          fmt::format("'{}' must be {} {}, got {} {}", cut, model::dtype_name(input.dtype),
                                      model::shape_str(input.shape), model::dtype_name(activation.dtype),
                                      model::shape_str(activation.shape)));
    activation.name = cut;
    auto session = borrow();
    auto outputs = session->run(std::span(&activation, 1));
    give_back(std::move(session));
    if (!outputs) return answer_error(res, 500, "running the tail: " + outputs.error().message);
    auto body = encode_tensors(*outputs);
    if (!body) return answer_error(res, 500, "encoding the outputs: " + body.error().message);
    served.fetch_add(1);
    res.status = 200;
    res.set_content(std::string(as_chars(*body)), kTensorWireContentType);
  }

  void handle_info(httplib::Response& res) {
    const model::Graph& g = tail.graph();
    nlohmann::ordered_json j{{"model", g.meta.name},
                             {"version", g.meta.version},
                             {"variant", g.meta.variant},
                             {"cut", cut},
                             {"input", tensor_json(g.tensors[g.inputs.front()])},
                             {"outputs", nlohmann::ordered_json::array()},
                             {"backends", tail.backends_used()}};
    for (model::TensorId id : g.outputs) j["outputs"].push_back(tensor_json(g.tensors[id]));
    res.status = 200;
    res.set_content(j.dump(), "application/json");
  }
};

StageServer::StageServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StageServer::~StageServer() { stop(); }

Result<std::unique_ptr<StageServer>> StageServer::start(const model::SplitModel& split, const StageServerOptions& options) {
  if (options.port < 0 || options.port > 65535)
    return make_error(ErrorCode::kInvalidArgument, "port {} is not a TCP port (0-65535; 0 picks a free one)", options.port);
  auto program = runtime::Program::from_graph(split.tail, options.load);
  if (!program) return std::unexpected(std::move(program).error().context("preparing the tail"));
  if (program->graph().inputs.size() != 1)
    return make_error(ErrorCode::kInvalidArgument, "a tail takes exactly one input (the cut tensor), this one takes {}",
                      program->graph().inputs.size());
  auto impl = std::make_unique<Impl>(std::move(*program));
  impl->cut = split.cut;
  impl->host = options.host;
  impl->max_request_bytes = options.max_request_bytes;
  Impl* p = impl.get();
  p->server.set_payload_max_length(options.max_request_bytes);
  // httplib's default sets SO_REUSEPORT: a second server on a busy port would then share it,
  // silently splitting the devices' requests between two models. SO_REUSEADDR only, so a busy
  // port is an error (and a restart still binds while old connections sit in TIME_WAIT).
  p->server.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Without TCP_NODELAY the reply's header and body writes meet Nagle's algorithm and the
  // client's delayed ACK: ~40 ms added to every answer on loopback (measured: p95 past 29 ms).
  p->server.set_tcp_nodelay(true);
  p->server.Post("/v1/tail", [p](const httplib::Request& req, httplib::Response& res) { p->handle_tail(req, res); });
  p->server.Get("/v1/info", [p](const httplib::Request&, httplib::Response& res) { p->handle_info(res); });
  // What httplib answers on its own (404, 413, a malformed request) counts as refused too.
  p->server.set_error_handler([p](const httplib::Request&, httplib::Response& res) {
    if (res.status >= 400 && res.status < 500 && res.body.empty()) {
      p->refused.fetch_add(1);
      res.set_content(res.status == 413 ? fmt::format("the request is larger than {} bytes\n", p->max_request_bytes)
                                        : fmt::format("HTTP {}: this server answers POST /v1/tail and GET /v1/info\n", res.status),
                      "text/plain");
    }
  });
  if (options.port == 0) {
    p->port = p->server.bind_to_any_port(options.host);
  } else if (p->server.bind_to_port(options.host, options.port)) {
    p->port = options.port;
  }
  if (p->port <= 0) return make_error(ErrorCode::kIo, "cannot listen on {}:{} (in use, or not an address of this machine)",
                                      options.host, options.port);
  p->thread = std::thread([p] { p->server.listen_after_bind(); });
  // httplib's stop() does nothing before the accept loop runs: wait for it, so stop() always ends it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!p->server.is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      p->server.stop();
      p->thread.join();
      return make_error(ErrorCode::kInternal, "the HTTP server on port {} did not start", p->port);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::unique_ptr<StageServer>(new StageServer(std::move(impl)));
}

int StageServer::port() const { return impl_->port; }

std::string StageServer::url() const {
  const bool v6 = impl_->host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", impl_->host, v6 ? "]" : "", impl_->port);
}

const runtime::Program& StageServer::tail() const { return impl_->tail; }

StageServerStats StageServer::stats() const {
  return {impl_->served.load(), impl_->refused.load(), impl_->failed.load()};
}

void StageServer::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace edgeloop::device
