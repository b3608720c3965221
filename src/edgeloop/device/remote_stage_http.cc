#include "edgeloop/device/remote_stage_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <utility>

#ifndef EDGELOOP_VERSION
#define EDGELOOP_VERSION "0.1.0"
#endif

namespace edgeloop::device {
namespace {

constexpr const char* kUserAgent = "edgeloop/" EDGELOOP_VERSION;
constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr size_t kQuotedErrorBytes = 300;  // of an error reply's body, in our message

CURLcode global_init() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  return code;
}

struct Reply {
  std::vector<std::byte> body;
  size_t max_bytes = 0;
  size_t header_bytes = 0;
  bool too_big = false;
  bool headers_too_big = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<Reply*>(user);
  const size_t n = size * count;
  if (n > r->max_bytes - r->body.size()) {
    r->too_big = true;
    return 0;  // aborts the transfer
  }
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  r->body.insert(r->body.end(), bytes, bytes + n);
  return n;
}

size_t on_header(char*, size_t size, size_t count, void* user) {
  auto* r = static_cast<Reply*>(user);
  const size_t n = size * count;
  r->header_bytes += n;
  if (r->header_bytes > kMaxHeaderBytes) {
    r->headers_too_big = true;
    return 0;
  }
  return n;
}

// Printable text of an error reply, shortened.
std::string quote(const std::vector<std::byte>& body) {
  std::string s;
  for (size_t i = 0; i < std::min(body.size(), kQuotedErrorBytes); ++i) {
    const auto c = static_cast<char>(body[i]);
    s += (c >= 0x20 && c < 0x7f) ? c : ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (body.size() > kQuotedErrorBytes) s += "…";
  return s;
}

}  // namespace

struct HttpRemoteStage::Curl {
  CURL* handle = nullptr;
  curl_slist* headers = nullptr;
  ~Curl() {
    if (handle != nullptr) curl_easy_cleanup(handle);
    if (headers != nullptr) curl_slist_free_all(headers);
  }
};

HttpRemoteStage::HttpRemoteStage(std::string base_url, const Clock& clock, HttpRemoteStageOptions options)
    : base_(std::move(base_url)), clock_(clock), options_(options) {
  const size_t authority = base_.find("://");
  const size_t min_size = authority == std::string::npos ? 0 : authority + 3;
  while (base_.size() > min_size && base_.back() == '/') base_.pop_back();
  url_ = base_ + "/v1/tail";
}

HttpRemoteStage::~HttpRemoteStage() = default;

bool HttpRemoteStage::online() const {
  return clock_.now().count() >= offline_until_ns_.load(std::memory_order_acquire);
}

std::string HttpRemoteStage::describe() const {
  const uint64_t failures = failures_.load(std::memory_order_relaxed);
  return fmt::format("stage server {} ({}; {} failed request{} so far)", url_,
                     online() ? "online" : "offline after a failure", failures, failures == 1 ? "" : "s");
}

Result<std::vector<model::TensorData>> HttpRemoteStage::run(const model::TensorData& activation,
                                                            std::chrono::nanoseconds budget) {
  const auto start = std::chrono::steady_clock::now();
  if (budget <= std::chrono::nanoseconds::zero())
    return make_error(ErrorCode::kIo, "no time left in the budget for the stage server at {}", base_);
  std::unique_lock lock(busy_, std::try_to_lock);
  if (!lock.owns_lock())
    return make_error(ErrorCode::kFailedPrecondition, "another call to the stage server at {} is in flight", base_);
  EL_TRY(std::vector<std::byte> body, encode_tensors(std::span(&activation, 1)));
  const auto left = budget - (std::chrono::steady_clock::now() - start);
  auto result = post(body, std::chrono::duration_cast<std::chrono::nanoseconds>(left));
  if (result) {
    offline_until_ns_.store(std::numeric_limits<int64_t>::min(), std::memory_order_release);
  } else {
    failures_.fetch_add(1, std::memory_order_relaxed);
    const auto until = clock_.now() + std::chrono::duration_cast<std::chrono::nanoseconds>(options_.retry_after);
    offline_until_ns_.store(until.count(), std::memory_order_release);
  }
  return result;
}

Result<std::vector<model::TensorData>> HttpRemoteStage::post(const std::vector<std::byte>& body,
                                                             std::chrono::nanoseconds budget) {
  // Whole milliseconds, rounded down (never past the budget), at least 1 (0 means "no timeout").
  const long timeout_ms =
      static_cast<long>(std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(budget).count()));
  if (const CURLcode init = global_init(); init != CURLE_OK)
    return make_error(ErrorCode::kIo, "cannot initialise libcurl: {}", curl_easy_strerror(init));
  if (!curl_) {
    auto c = std::make_unique<Curl>();
    c->handle = curl_easy_init();
    if (c->handle == nullptr) return make_error(ErrorCode::kIo, "cannot create a libcurl handle");
    for (const char* h : {"Content-Type: application/x-edgeloop-tensors", "Accept: application/x-edgeloop-tensors",
                          "Expect:"}) {  // no 100-continue round trip before the body
      curl_slist* next = curl_slist_append(c->headers, h);
      if (next == nullptr) return make_error(ErrorCode::kIo, "cannot build the request headers");
      c->headers = next;
    }
    curl_ = std::move(c);
  }
  CURL* h = curl_->handle;
  curl_easy_reset(h);  // options only: the connection stays open for the next call

  Reply reply;
  reply.max_bytes = options_.max_reply_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {};
  bool set_ok = true;
  const auto set = [&](CURLoption option, auto value) { set_ok = set_ok && curl_easy_setopt(h, option, value) == CURLE_OK; };
  set(CURLOPT_URL, url_.c_str());
  set(CURLOPT_ERRORBUFFER, error_buffer);
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_TIMEOUT_MS, timeout_ms);
  set(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  set(CURLOPT_USERAGENT, kUserAgent);
  set(CURLOPT_HTTPHEADER, curl_->headers);
  set(CURLOPT_POST, 1L);
  set(CURLOPT_POSTFIELDS, static_cast<const void*>(body.data()));
  set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_reply_bytes));
  set(CURLOPT_HEADERFUNCTION, &on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&reply));
  set(CURLOPT_WRITEFUNCTION, &on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&reply));
  if (!set_ok) return make_error(ErrorCode::kIo, "cannot configure libcurl for {}", url_);

  const CURLcode code = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  const std::string detail = error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(code);
  const bool success_status = status >= 200 && status <= 299;

  if (reply.headers_too_big)
    return make_error(ErrorCode::kCorrupt, "POST {}: the reply's headers exceed {} bytes", url_, kMaxHeaderBytes);
  if (success_status && (reply.too_big || code == CURLE_FILESIZE_EXCEEDED))
    return make_error(ErrorCode::kCorrupt, "POST {}: the reply is larger than its cap of {} bytes", url_,
                      options_.max_reply_bytes);
  if (code == CURLE_OPERATION_TIMEDOUT)
    return make_error(ErrorCode::kIo, "POST {}: no answer within the budget of {} ms ({})", url_, timeout_ms, detail);
  if (status != 0 && !success_status) {
    const std::string message = quote(reply.body);
    return make_error(ErrorCode::kIo, "POST {}: the stage server answered HTTP {}{}{}", url_, status,
                      message.empty() ? "" : ": ", message);
  }
  if (code != CURLE_OK) return make_error(ErrorCode::kIo, "POST {} failed: {}", url_, detail);
  auto outputs = decode_tensors(reply.body);
  if (!outputs) return std::unexpected(std::move(outputs).error().context(fmt::format("the reply of {}", url_)));
  if (outputs->empty()) return make_error(ErrorCode::kCorrupt, "the reply of {} holds no outputs", url_);
  return outputs;
}

}  // namespace edgeloop::device
