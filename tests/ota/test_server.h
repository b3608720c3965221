// A real HTTP server on 127.0.0.1 for tests that fetch over the network: it serves the files of
// a folder, and any path can be answered by a handler instead — the hostile server's toolbox
// (wrong status, stalls, endless or oversized bodies, lying headers, swapped files).
#pragma once

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace edgeloop::testing {

class TestServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Starts serving at once on a port the kernel picks. Files come from `root` ("" serves no
  // files: every path without a handler is 404). Throws if it cannot bind.
  explicit TestServer(std::filesystem::path root = {}) : root_(std::move(root)) {
    // A client that hangs up mid-body must not kill the test with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    server_.set_keep_alive_timeout(1);  // idle keep-alive connections must not delay stop()
    server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) { dispatch(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("TestServer: cannot bind a port on 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // httplib's stop() does nothing before the accept loop runs; wait for it, so that stop()
    // always ends the loop and the destructor cannot hang.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running()) {
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("TestServer: listen loop did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~TestServer() { stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const { return port_; }
  const std::filesystem::path& root() const { return root_; }
  // "http://127.0.0.1:PORT" (no trailing slash); a repository at the root of the server.
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Answers GET `path` (as requested, e.g. "/metadata/timestamp.json") with `handler` instead
  // of the file. Replaces an earlier handler for the same path; safe while serving.
  void on(const std::string& path, Handler handler) {
    std::lock_guard lock(mutex_);
    overrides_[path] = std::move(handler);
  }
  // Answers every path with no handler of its own (runs instead of the folder's files).
  void on_any(Handler handler) {
    std::lock_guard lock(mutex_);
    fallback_ = std::move(handler);
  }
  void remove(const std::string& path) {
    std::lock_guard lock(mutex_);
    overrides_.erase(path);
  }

  // Every path requested so far, in order: what a client fetched (or tried to).
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // The Range header of every request for `path`, in order ("" when there was none).
  std::vector<std::string> ranges(const std::string& path) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [p, range] : ranges_)
      if (p == path) out.push_back(range);
    return out;
  }
  size_t request_count(const std::string& path) const {
    std::lock_guard lock(mutex_);
    return static_cast<size_t>(std::count(requests_.begin(), requests_.end(), path));
  }

  // True once stop() has begun. Handlers that stall must return when it is: the server joins
  // its worker threads on stop.
  bool stopping() const { return stopping_.load(); }
  // Sleeps up to `duration` in small steps; false if the server began stopping meanwhile.
  bool pause(std::chrono::milliseconds duration) const {
    const auto until = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < until) {
      if (stopping()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return !stopping();
  }

  void stop() {
    if (stopping_.exchange(true)) return;
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // --- Handlers for common hostile behaviours -------------------------------------------------

  // `status` with `body` as text/plain.
  static Handler status(int code, std::string body = {}) {
    return [code, body = std::move(body)](const httplib::Request&, httplib::Response& res) {
      res.status = code;
      res.set_content(body, "text/plain");
    };
  }
  // 200 with exactly these bytes (a swapped, tampered or truncated file).
  static Handler bytes(std::string body) {
    return [body = std::move(body)](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "application/octet-stream");
    };
  }
  // Sends the status line and headers (announcing `content_length` bytes), then nothing, until
  // the client gives up or the server stops.
  Handler stall_after_headers(size_t content_length = 1024) {
    return [this, content_length](const httplib::Request&, httplib::Response& res) {
      res.set_content_provider(content_length, "application/octet-stream", [this](size_t, size_t, httplib::DataSink&) {
        pause(std::chrono::seconds(30));
        return false;  // then drop the connection
      });
    };
  }
  // A chunked body that never ends: `chunk` bytes of 'x' per write, until the client hangs up.
  Handler endless_chunked(size_t chunk = 16 * 1024) {
    return [this, chunk](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("application/octet-stream",
                                       [this, block = std::string(chunk, 'x')](size_t, httplib::DataSink& sink) {
                                         return !stopping() && sink.write(block.data(), block.size());
                                       });
    };
  }
  // A Content-Length of `claimed` bytes, then `actual` bytes and a hang-up.
  static Handler lying_content_length(size_t claimed, std::string actual) {
    return [claimed, actual = std::move(actual)](const httplib::Request&, httplib::Response& res) {
      res.set_content_provider(claimed, "application/octet-stream",
                               [actual](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset < actual.size())
                                   return sink.write(actual.data() + offset, actual.size() - offset);
                                 return false;
                               });
    };
  }
  // `content`, honouring "Range: bytes=N-" (206 from N; 416 at or past the end) unless
  // `honor_range` is false (200 and the whole body, as a server without Range support), in
  // blocks of 16 KiB; after `limit` bytes of a response body it hangs up (a dropped connection).
  static Handler ranged(std::string content, size_t limit = static_cast<size_t>(-1), bool honor_range = true) {
    auto body = std::make_shared<const std::string>(std::move(content));
    return [body, limit, honor_range](const httplib::Request& req, httplib::Response& res) {
      // Answered here, not by httplib's own range handling (the request object is the server's).
      const_cast<httplib::Request&>(req).ranges.clear();
      const std::string range = req.get_header_value("Range");
      size_t start = 0;
      if (honor_range && range.rfind("bytes=", 0) == 0 && range.size() > 7 && range.back() == '-') {
        start = static_cast<size_t>(std::stoull(range.substr(6, range.size() - 7)));
        if (start >= body->size()) {
          res.status = 416;
          res.set_header("Content-Range", "bytes */" + std::to_string(body->size()));
          return;
        }
        res.status = 206;
        res.set_header("Content-Range", "bytes " + std::to_string(start) + "-" + std::to_string(body->size() - 1) +
                                            "/" + std::to_string(body->size()));
      } else {
        res.status = 200;
      }
      res.set_content_provider(body->size() - start, "application/octet-stream",
                               [body, start, limit](size_t offset, size_t length, httplib::DataSink& sink) {
                                 if (offset >= limit) return false;  // hang up mid-body
                                 const size_t n = std::min({length, limit - offset, size_t{16 * 1024}});
                                 return sink.write(body->data() + start + offset, n);
                               });
    };
  }
  // Status 200 with `count` junk headers of `size` bytes each, and an empty body.
  static Handler many_headers(size_t count, size_t size = 100) {
    return [count, size](const httplib::Request&, httplib::Response& res) {
      for (size_t i = 0; i < count; ++i) res.set_header("X-Junk-" + std::to_string(i), std::string(size, 'h'));
      res.set_content("", "text/plain");
    };
  }

 private:
  void dispatch(const httplib::Request& req, httplib::Response& res) {
    Handler handler;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(req.path);
      ranges_.emplace_back(req.path, req.get_header_value("Range"));
      if (auto it = overrides_.find(req.path); it != overrides_.end())
        handler = it->second;
      else if (fallback_)
        handler = fallback_;
    }
    if (handler) return handler(req, res);
    serve_file(req.path, res);
  }

  // The file at `request_path` under root_, never anything outside it.
  void serve_file(const std::string& request_path, httplib::Response& res) const {
    res.status = 404;
    if (root_.empty() || request_path.empty() || request_path.front() != '/') return;
    const std::filesystem::path relative = std::filesystem::path(request_path.substr(1)).lexically_normal();
    if (relative.empty() || relative.is_absolute() || *relative.begin() == "..") return;
    const std::filesystem::path file = root_ / relative;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) return;
    std::ifstream in(file, std::ios::binary);
    if (!in) return;
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // No status of our own: httplib then answers a "Range: bytes=N-" with 206 and the rest of
    // the file, or 416 past its end (with an explicit 200 it would send a sliced body as 200).
    res.status = -1;
    res.set_content(body, "application/octet-stream");
  }

  std::filesystem::path root_;
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::map<std::string, Handler> overrides_;
  Handler fallback_;
  std::vector<std::string> requests_;
  std::vector<std::pair<std::string, std::string>> ranges_;
};

}  // namespace edgeloop::testing
