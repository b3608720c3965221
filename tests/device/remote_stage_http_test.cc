// HttpRemoteStage against the real stage server on 127.0.0.1, and against misbehaving servers
// (cpp-httplib handlers that stall, fail or send garbage).
#include "edgeloop/device/remote_stage_http.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <csignal>
#include <nlohmann/json.hpp>
#include <thread>

#include "edgeloop/device/stage_server.h"
#include "edgeloop/device/tensor_wire.h"
#include "edgeloop/runtime/golden.h"
#include "edgeloop/runtime/session.h"
#include "fixtures.h"

namespace edgeloop::device {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class FakeClock final : public Clock {
 public:
  std::chrono::nanoseconds now() const override { return std::chrono::nanoseconds(ns_.load()); }
  int64_t unix_seconds() const override { return 1'700'000'000; }
  void advance(std::chrono::nanoseconds d) { ns_ += d.count(); }

 private:
  std::atomic<int64_t> ns_{1'000'000'000};
};

const model::SplitModel& cnn_split() { return fixtures::fashion_cnn_split(); }

std::vector<model::TensorData> run_reference(const model::Graph& g, std::span<const model::TensorData> inputs) {
  auto program = runtime::Program::from_graph(g, runtime::LoadOptions::reference());
  EXPECT_TRUE(program) << program.error().message;
  runtime::Session session(*program);
  auto out = session.run(inputs);
  EXPECT_TRUE(out) << out.error().message;
  return out.value_or(std::vector<model::TensorData>{});
}

model::TensorData activation(uint64_t seed = 7) {
  const model::Graph& head = cnn_split().head;
  const auto input = runtime::random_input(head.tensors[head.inputs[0]], seed);
  return run_reference(head, std::span(&input, 1)).at(0);
}

std::unique_ptr<StageServer> start_server() {
  std::signal(SIGPIPE, SIG_IGN);
  StageServerOptions o;
  o.load = runtime::LoadOptions::reference();
  auto server = StageServer::start(cnn_split(), o);
  EXPECT_TRUE(server) << server.error().message;
  return server ? std::move(*server) : nullptr;
}

// A bare HTTP server on 127.0.0.1 answering POST /v1/tail with `handler`.
class RawServer {
 public:
  explicit RawServer(httplib::Server::Handler handler) {
    std::signal(SIGPIPE, SIG_IGN);
    server_.set_keep_alive_timeout(1);
    server_.Post("/v1/tail", std::move(handler));
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~RawServer() {
    stopping = true;
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::atomic<bool> stopping{false};

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::string wire(const std::vector<model::TensorData>& ts) {
  auto bytes = encode_tensors(ts);
  EXPECT_TRUE(bytes);
  return std::string(as_chars(*bytes));
}

TEST(HttpRemoteStage, OutputsEqualTheLocalTail) {
  auto server = start_server();
  ASSERT_TRUE(server);
  FakeClock clock;
  HttpRemoteStage stage(server->url() + "/", clock);  // a trailing '/' is fine
  EXPECT_TRUE(stage.online());
  EXPECT_THAT(stage.describe(), HasSubstr(server->url() + "/v1/tail"));
  for (uint64_t seed : {1, 2, 3}) {
    const auto a = activation(seed);
    const auto local = run_reference(cnn_split().tail, std::span(&a, 1));
    auto remote = stage.run(a, 5s);
    ASSERT_TRUE(remote) << remote.error().message;
    ASSERT_EQ(remote->size(), local.size());
    for (size_t i = 0; i < local.size(); ++i) {
      EXPECT_EQ((*remote)[i].name, local[i].name);
      EXPECT_EQ((*remote)[i].shape, local[i].shape);
      EXPECT_EQ((*remote)[i].bytes, local[i].bytes);
    }
    EXPECT_TRUE(stage.online());
  }
  EXPECT_EQ(server->stats().served, 3u);
}

TEST(HttpRemoteStage, AWrongActivationIsRefusedWithTheServersReason) {
  auto server = start_server();
  ASSERT_TRUE(server);
  FakeClock clock;
  HttpRemoteStage stage(server->url(), clock);
  auto a = activation();
  a.shape.insert(a.shape.begin(), 1);  // one more dimension, same bytes
  auto r = stage.run(a, 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_THAT(r.error().message, HasSubstr("HTTP 400"));
  EXPECT_THAT(r.error().message, HasSubstr(fmt::format("'{}' must be f32", cnn_split().cut)));
  EXPECT_FALSE(stage.online());
  EXPECT_EQ(server->stats().refused, 1u);
}

TEST(HttpRemoteStage, TheBudgetBoundsACallToAStalledServer) {
  RawServer stalled([](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(1500ms);
    res.set_content("late", "text/plain");
  });
  FakeClock clock;
  HttpRemoteStage stage(stalled.url(), clock);
  for (auto budget : {50ms, 300ms}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = stage.run(activation(), budget);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kIo);
    EXPECT_THAT(r.error().message, HasSubstr("within the budget"));
    EXPECT_LT(took, budget + 200ms) << "took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    EXPECT_FALSE(stage.online());
  }
}

TEST(HttpRemoteStage, AServerThatIsDownFailsFastAndStaysOfflineForRetryAfter) {
  std::string url;
  {
    auto server = start_server();
    ASSERT_TRUE(server);
    url = server->url();
  }  // stopped: nothing listens on that port any more
  FakeClock clock;
  HttpRemoteStage stage(url, clock, {.retry_after = 2000ms});
  const auto start = std::chrono::steady_clock::now();
  auto r = stage.run(activation(), 3s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);  // refused, not waited for
  EXPECT_FALSE(stage.online());
  EXPECT_THAT(stage.describe(), HasSubstr("offline"));
  clock.advance(1999ms);
  EXPECT_FALSE(stage.online());
  clock.advance(1ms);
  EXPECT_TRUE(stage.online());
  // A budget already spent fails without a request and says nothing about the network.
  r = stage.run(activation(), 0ns);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_THAT(r.error().message, HasSubstr("no time left"));
  EXPECT_TRUE(stage.online());
  EXPECT_FALSE(stage.run(activation(), -5ms));
  EXPECT_TRUE(stage.online());
}

TEST(HttpRemoteStage, ASuccessAfterAFailureIsOnlineAgain) {
  std::atomic<int> calls{0};
  const auto reply = wire({model::TensorData::zeros("logits", model::DType::kF32, {1, 10})});
  RawServer flaky([&](const httplib::Request& req, httplib::Response& res) {
    if (calls++ == 0) {
      res.status = 503;
      res.set_content("warming up", "text/plain");
      return;
    }
    EXPECT_EQ(req.get_header_value("Content-Type"), kTensorWireContentType);
    res.set_content(reply, kTensorWireContentType);
  });
  FakeClock clock;
  HttpRemoteStage stage(flaky.url(), clock, {.retry_after = 100ms});
  auto r = stage.run(activation(), 5s);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("HTTP 503: warming up"));
  EXPECT_FALSE(stage.online());
  clock.advance(100ms);
  ASSERT_TRUE(stage.online());
  r = stage.run(activation(), 5s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0].name, "logits");
  EXPECT_TRUE(stage.online());
}

TEST(HttpRemoteStage, ARepliesThatAreNotOutputsAreCorrupt) {
  const std::string big = wire({model::TensorData::zeros("big", model::DType::kF32, {1024})});
  std::atomic<int> which{0};
  RawServer bad([&](const httplib::Request&, httplib::Response& res) {
    switch (which.load()) {
      case 0: res.set_content("<html>hello</html>", "text/html"); break;
      case 1: res.set_content(wire({}), kTensorWireContentType); break;
      default: res.set_content(big, kTensorWireContentType); break;
    }
  });
  FakeClock clock;
  HttpRemoteStage stage(bad.url(), clock, {.retry_after = 0ms, .max_reply_bytes = 1024});
  const char* messages[] = {"not a tensor message", "holds no outputs", "larger than its cap of 1024 bytes"};
  for (int i = 0; i < 3; ++i) {
    which = i;
    auto r = stage.run(activation(), 5s);
    ASSERT_FALSE(r) << i;
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt) << i;
    EXPECT_THAT(r.error().message, HasSubstr(messages[i]));
  }
}

TEST(StageServer, AnswersInfoAndRefusesMalformedOrOversizedRequests) {
  std::signal(SIGPIPE, SIG_IGN);
  StageServerOptions o;
  o.load = runtime::LoadOptions::reference();
  o.max_request_bytes = 64 * 1024;
  auto server = StageServer::start(cnn_split(), o);
  ASSERT_TRUE(server) << server.error().message;
  httplib::Client client("127.0.0.1", (*server)->port());
  auto info = client.Get("/v1/info");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, 200);
  const auto j = nlohmann::json::parse(info->body);
  EXPECT_EQ(j["cut"], cnn_split().cut);
  EXPECT_EQ(j["input"]["shape"].get<model::Shape>(), cnn_split().tail.tensors[cnn_split().tail.inputs[0]].shape);
  EXPECT_EQ(j["outputs"].size(), 1u);

  auto garbage = client.Post("/v1/tail", "hello", "application/octet-stream");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);
  EXPECT_THAT(garbage->body, HasSubstr("not a tensor message"));
  // Two tensors, or one with another name.
  const auto a = activation();
  auto two = client.Post("/v1/tail", wire({a, a}), kTensorWireContentType);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->status, 400);
  auto renamed = a;
  renamed.name = "something_else";
  auto other = client.Post("/v1/tail", wire({renamed}), kTensorWireContentType);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 400);
  EXPECT_THAT(other->body, HasSubstr("not after 'something_else'"));
  auto huge = client.Post("/v1/tail", std::string(100 * 1024, 'x'), "application/octet-stream");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  auto unknown = client.Get("/v1/nothing");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  // Unnamed is fine: it is the cut tensor by position.
  auto unnamed = a;
  unnamed.name.clear();
  auto ok = client.Post("/v1/tail", wire({unnamed}), kTensorWireContentType);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto outputs = decode_tensors(as_bytes(ok->body));
  ASSERT_TRUE(outputs) << outputs.error().message;
  EXPECT_EQ((*outputs)[0].bytes, run_reference(cnn_split().tail, std::span(&a, 1))[0].bytes);
  const auto stats = (*server)->stats();
  EXPECT_EQ(stats.served, 1u);
  EXPECT_GE(stats.refused, 5u);
  EXPECT_EQ(stats.failed, 0u);
  (*server)->stop();
  (*server)->stop();  // idempotent
}

TEST(StageServer, ABusyPortIsAClearError) {
  auto first = start_server();
  ASSERT_TRUE(first);
  StageServerOptions o;
  o.port = first->port();
  auto second = StageServer::start(cnn_split(), o);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kIo);
  EXPECT_THAT(second.error().message, HasSubstr(fmt::format("127.0.0.1:{}", first->port())));
  o.port = 70000;
  EXPECT_EQ(StageServer::start(cnn_split(), o).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeloop::device
