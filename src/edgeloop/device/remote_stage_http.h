// The remote stage over HTTP (docs/split-inference.md): POST <base_url>/v1/tail with the cut
// tensor in the tensor wire format (tensor_wire.h); the reply is the model's outputs in the same
// format. libcurl, bounded by the caller's budget; after a failure the stage reports itself
// offline for a while so that the engine does not keep paying for a dead network.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgeloop/base/clock.h"
#include "edgeloop/device/remote_stage.h"
#include "edgeloop/device/tensor_wire.h"

namespace edgeloop::device {

struct HttpRemoteStageOptions {
  // After a failed request, online() is false this long (then the next call may try again).
  std::chrono::milliseconds retry_after{5000};
  // The reply (the model's outputs) is refused beyond this many bytes.
  size_t max_reply_bytes = size_t{16} << 20;
};

class HttpRemoteStage final : public RemoteStage {
 public:
  // `base_url`: "http://host:port" (a trailing '/' is ignored). `clock` drives retry_after only
  // (the network timeouts are libcurl's, in real time) and must outlive the stage.
  HttpRemoteStage(std::string base_url, const Clock& clock, HttpRemoteStageOptions options = {});
  ~HttpRemoteStage() override;
  HttpRemoteStage(const HttpRemoteStage&) = delete;
  HttpRemoteStage& operator=(const HttpRemoteStage&) = delete;

  // One request, the whole of it (connect, send, wait, receive) within `budget`: libcurl's
  // timeout is the budget in whole milliseconds, rounded down, at least 1 ms. A budget <= 0
  // fails at once (kIo) without a request and without changing online(). Errors: kIo for the
  // network, a timeout or an HTTP error status (the server's message quoted); kCorrupt for a reply
  // that does not decode; kFailedPrecondition when another call is in flight (one caller at a
  // time; the second is refused, never queued). Every failed request sets online() false for
  // retry_after; a successful one sets it true.
  Result<std::vector<model::TensorData>> run(const model::TensorData& activation, std::chrono::nanoseconds budget) override;
  // Never blocks; safe from any thread.
  bool online() const override;
  std::string describe() const override;

 private:
  struct Curl;
  Result<std::vector<model::TensorData>> post(const std::vector<std::byte>& body, std::chrono::nanoseconds budget);

  std::string base_;
  std::string url_;
  const Clock& clock_;
  HttpRemoteStageOptions options_;
  std::atomic<int64_t> offline_until_ns_{std::numeric_limits<int64_t>::min()};
  std::atomic<uint64_t> failures_{0};
  std::mutex busy_;
  std::unique_ptr<Curl> curl_;  // kept between calls: libcurl reuses the connection
};

}  // namespace edgeloop::device
