// The stage server (docs/split-inference.md): serves the tail of a split model over HTTP, the
// other end of HttpRemoteStage. `edgeloop stage-server` wraps it; tests start it in-process.
//
// It lives in the device module, next to the client it answers and the wire codec both share,
// but it is server code: the device library (CMakeLists.txt) leaves this file out, as it leaves
// out the repository tool and the delta generator of `ota`, so no device binary links an HTTP
// server (cpp-httplib).
//
//   POST /v1/tail  body: one tensor (tensor_wire.h), the cut tensor's value
//                  200: the model's outputs, in the same format
//                  400: not a tensor message, or not the tensor the tail takes (text/plain says why)
//                  413: larger than max_request_bytes; 500: the tail failed to run
//   GET  /v1/info  200: JSON — model, version, variant, cut, input and outputs (name, dtype, shape)
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "edgeloop/base/error.h"
#include "edgeloop/model/split.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::device {

struct StageServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: the kernel picks a free one (port() says which)
  // A request body beyond this is refused with 413 before it is read: the cut tensor's own
  // size plus the wire header is all a client ever needs to send.
  size_t max_request_bytes = size_t{64} << 20;
  runtime::LoadOptions load;  // how the tail runs (backends, threads)
};

struct StageServerStats {
  uint64_t served = 0;    // 200 answers
  uint64_t refused = 0;   // 4xx answers
  uint64_t failed = 0;    // 500 answers
};

class StageServer {
 public:
  // Prepares the tail (runtime::Program::from_graph), binds and starts serving on a thread of
  // its own. kIo when the address cannot be bound.
  static Result<std::unique_ptr<StageServer>> start(const model::SplitModel& split, const StageServerOptions& options = {});
  ~StageServer();  // stop()s
  StageServer(const StageServer&) = delete;
  StageServer& operator=(const StageServer&) = delete;

  int port() const;
  // "http://HOST:PORT", what HttpRemoteStage takes.
  std::string url() const;
  const runtime::Program& tail() const;
  StageServerStats stats() const;
  // Stops accepting, waits for the requests in flight, joins the thread. Idempotent.
  void stop();

 private:
  struct Impl;
  explicit StageServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgeloop::device
