// The HTTP(S) transport over libcurl's easy API. The server is untrusted: every limit (size,
// header size, time, stall) is enforced here, before signature checks ever see the bytes.
#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include "edgeloop/ota/transport.h"

#ifndef EDGELOOP_VERSION
#define EDGELOOP_VERSION "0.1.0"
#endif

namespace edgeloop::ota {
namespace {

constexpr const char* kUserAgent = "edgeloop/" EDGELOOP_VERSION;
// Response headers of a static file are a few hundred bytes; the cap stops a server that sends
// headers forever (libcurl before 8.3 keeps all of them in memory).
constexpr size_t kMaxHeaderBytes = 64 * 1024;

// curl_global_init is not safe to race; a function-local static runs it exactly once.
CURLcode global_init() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  return code;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Percent-encodes everything but unreserved characters and the separating '/', so a path
// cannot smuggle a query, a fragment or an encoded "..": the server sees the file name as is.
std::string encode_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (const char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || c == '/') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// What one transfer collected; curl's callbacks fill it.
struct Transfer {
  CURL* curl = nullptr;
  size_t max_bytes = 0;
  std::vector<std::byte> body;
  size_t header_bytes = 0;
  bool body_too_big = false;
  bool headers_too_big = false;
  bool bad_status = false;  // a non-2xx status: its body is not read at all
};

size_t on_header(char* /*data*/, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  t->header_bytes += n;
  if (t->header_bytes > kMaxHeaderBytes) {
    t->headers_too_big = true;
    return 0;  // anything but n aborts the transfer
  }
  return n;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    t->bad_status = true;
    return 0;
  }
  if (n > t->max_bytes - t->body.size()) {  // body.size() <= max_bytes always holds
    t->body_too_big = true;
    return 0;
  }
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  t->body.insert(t->body.end(), bytes, bytes + n);
  return n;
}

class HttpTransport final : public Transport {
 public:
  HttpTransport(std::string base_url, HttpOptions options) : base_(std::move(base_url)), options_(options) {
    // "http://host/repo/" and "http://host/repo" name the same repository.
    const size_t authority = base_.find("://");
    const size_t min_size = authority == std::string::npos ? 0 : authority + 3;
    while (base_.size() > min_size && base_.back() == '/') base_.pop_back();
    if (base_.find_first_of("?#") != std::string::npos)
      config_error_ = Error{ErrorCode::kInvalidArgument,
                            fmt::format("repository URL {} has a query or fragment; give the folder's URL", base_)};
    else if (options_.connect_timeout.count() <= 0 || options_.total_timeout.count() <= 0 ||
             options_.low_speed_window.count() <= 0)
      config_error_ = Error{ErrorCode::kInvalidArgument,
                            fmt::format("HTTP timeouts must be positive (connect {} ms, total {} ms, low speed {} ms)",
                                        options_.connect_timeout.count(), options_.total_timeout.count(),
                                        options_.low_speed_window.count())};
  }

  Result<std::vector<std::byte>> fetch(std::string_view path, size_t max_bytes) override {
    if (config_error_) return std::unexpected(*config_error_);
    EL_CHECK(validate_repository_path(path));
    if (const CURLcode init = global_init(); init != CURLE_OK)
      return make_error(ErrorCode::kIo, "cannot initialise libcurl: {}", curl_easy_strerror(init));
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return make_error(ErrorCode::kIo, "cannot create a libcurl handle");
    const std::string url = base_ + "/" + encode_path(path);

    Transfer t;
    t.curl = curl.get();
    t.max_bytes = max_bytes;
    char error_buffer[CURL_ERROR_SIZE] = {};
    // The cap as a hint: curl refuses a Content-Length above it before any body arrives. The
    // write callback is what enforces it, for chunked bodies and lying headers alike.
    const auto max_file_size = static_cast<curl_off_t>(
        std::min<uint64_t>(max_bytes, static_cast<uint64_t>(std::numeric_limits<curl_off_t>::max())));
    const long low_speed_seconds =
        static_cast<long>(std::max<int64_t>(1, (options_.low_speed_window.count() + 999) / 1000));

    CURL* h = curl.get();
    bool set_ok = true;
    const auto set = [&](CURLoption option, auto value) {
      set_ok = set_ok && curl_easy_setopt(h, option, value) == CURLE_OK;
    };
    set(CURLOPT_URL, url.c_str());
    set(CURLOPT_ERRORBUFFER, error_buffer);
    set(CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: safe in threaded programs
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    // A repository is a static folder: a redirect is a misconfiguration or an attack, and the
    // error names the status so an operator can point the URL at the final location.
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
    set(CURLOPT_LOW_SPEED_LIMIT, 1L);
    set(CURLOPT_LOW_SPEED_TIME, low_speed_seconds);
    set(CURLOPT_MAXFILESIZE_LARGE, max_file_size);
    set(CURLOPT_USERAGENT, kUserAgent);
    // CURLOPT_ACCEPT_ENCODING stays unset: the bytes counted against the cap are the bytes
    // stored, so a compressed bomb cannot expand past it.
    set(CURLOPT_HEADERFUNCTION, &on_header);
    set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
    set(CURLOPT_WRITEFUNCTION, &on_body);
    set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
    if (!set_ok) return make_error(ErrorCode::kIo, "cannot configure libcurl for {}", url);

    const CURLcode code = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    const std::string detail = error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(code);

    if (t.headers_too_big)
      return make_error(ErrorCode::kOutOfRange, "GET {}: response headers exceed {} bytes", url, kMaxHeaderBytes);
    if (t.body_too_big || (code == CURLE_FILESIZE_EXCEEDED && (status == 0 || (status >= 200 && status <= 299))))
      return make_error(ErrorCode::kOutOfRange, "GET {}: {} is larger than its cap of {} bytes", url, path, max_bytes);
    if (status == 404 || status == 410)
      return make_error(ErrorCode::kNotFound, "{} not found at {} (HTTP {})", path, base_, status);
    if (status >= 300 && status <= 399)
      return make_error(ErrorCode::kIo,
                        "GET {}: the server answered HTTP {}, a redirect; redirects are not followed, so give the "
                        "repository's final URL",
                        url, status);
    if (status != 0 && (status < 200 || status > 299))
      return make_error(ErrorCode::kIo, "GET {}: the server answered HTTP {}", url, status);
    if (code == CURLE_OPERATION_TIMEDOUT) return make_error(ErrorCode::kIo, "GET {} timed out: {}", url, detail);
    if (code != CURLE_OK) return make_error(ErrorCode::kIo, "GET {} failed: {}", url, detail);
    return std::move(t.body);
  }

  std::string describe() const override { return base_; }

 private:
  std::string base_;
  HttpOptions options_;
  std::optional<Error> config_error_;
};

}  // namespace

std::unique_ptr<Transport> make_http_transport(std::string base_url, HttpOptions options) {
  return std::make_unique<HttpTransport>(std::move(base_url), options);
}

}  // namespace edgeloop::ota
