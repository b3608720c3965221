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

bool header_is(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = line[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != name[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// "bytes FIRST-LAST/TOTAL" (206) or "bytes */TOTAL" (416): FIRST (nullopt for '*') and TOTAL
// (nullopt for '*' or anything malformed).
struct ContentRange {
  std::optional<uint64_t> first;
  std::optional<uint64_t> total;
};
ContentRange parse_content_range(std::string_view value) {
  ContentRange r;
  if (value.substr(0, 6) != "bytes ") return r;
  value.remove_prefix(6);
  const size_t slash = value.find('/');
  if (slash == std::string_view::npos) return r;
  r.total = parse_u64(value.substr(slash + 1));
  const std::string_view range = value.substr(0, slash);
  r.first = parse_u64(range.substr(0, range.find('-')));
  return r;
}

// What one transfer collected; curl's callbacks fill it.
struct Transfer {
  CURL* curl = nullptr;
  uint64_t offset = 0;     // the first byte asked for
  uint64_t max_bytes = 0;  // delivered bytes allowed
  const Transport::Sink* sink = nullptr;
  uint64_t delivered = 0;
  uint64_t to_skip = 0;     // a 200 answer to a Range request: the bytes before `offset`
  bool body_started = false;
  std::string content_range;  // of the last response
  size_t header_bytes = 0;
  bool body_too_big = false;
  bool headers_too_big = false;
  bool bad_status = false;  // a non-2xx status: its body is not read at all
  std::optional<Error> range_error;
  std::optional<Error> sink_error;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  t->header_bytes += n;
  if (t->header_bytes > kMaxHeaderBytes) {
    t->headers_too_big = true;
    return 0;  // anything but n aborts the transfer
  }
  const std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") t->content_range.clear();  // a new response (after a 100)
  if (header_is(line, "content-range")) t->content_range = std::string(trim(line.substr(14)));
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
  if (!t->body_started) {
    t->body_started = true;
    // A 200 with a Content-Range is a partial answer mislabelled (cpp-httplib 0.11 sends one
    // when a handler sets 200 itself): its Content-Range says where the bytes start.
    const ContentRange range = parse_content_range(t->content_range);
    if (status == 200 && t->offset > 0 && range.first == 0) {
      t->to_skip = t->offset;  // a whole file labelled "bytes 0-…": skip to the offset as below
    } else if (status == 206 || !t->content_range.empty()) {
      if (range.first != t->offset) {
        t->range_error = Error{ErrorCode::kIo, fmt::format("the server answered {} with Content-Range {:?}, not "
                                                           "starting at byte {} as asked",
                                                           status, t->content_range, t->offset)};
        return 0;
      }
    } else if (t->offset > 0) {
      t->to_skip = t->offset;  // the Range header was ignored: the whole file follows
    }
  }
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  size_t skip = 0;
  if (t->to_skip > 0) {
    skip = static_cast<size_t>(std::min<uint64_t>(t->to_skip, n));
    t->to_skip -= skip;
    if (skip == n) return n;
  }
  const size_t rest = n - skip;
  if (rest > t->max_bytes - t->delivered) {  // delivered <= max_bytes always holds
    t->body_too_big = true;
    return 0;
  }
  if (auto status_or = (*t->sink)(ByteSpan(bytes + skip, rest)); !status_or) {
    t->sink_error = std::move(status_or).error();
    return 0;
  }
  t->delivered += rest;
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
    return fetch_whole(path, max_bytes);
  }

  Status fetch_to(std::string_view path, uint64_t offset, uint64_t max_bytes, const Sink& sink) override {
    if (config_error_) return std::unexpected(*config_error_);
    EL_CHECK(validate_repository_path(path));
    if (const CURLcode init = global_init(); init != CURLE_OK)
      return make_error(ErrorCode::kIo, "cannot initialise libcurl: {}", curl_easy_strerror(init));
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return make_error(ErrorCode::kIo, "cannot create a libcurl handle");
    const std::string url = base_ + "/" + encode_path(path);

    Transfer t;
    t.curl = curl.get();
    t.offset = offset;
    t.max_bytes = max_bytes;
    t.sink = &sink;
    char error_buffer[CURL_ERROR_SIZE] = {};
    // The cap as a hint: curl refuses a Content-Length above it before any body arrives. The
    // write callback is what enforces it, for chunked bodies and lying headers alike. With an
    // offset, a server ignoring the Range sends the whole file: offset + max_bytes.
    const uint64_t hint = offset > std::numeric_limits<uint64_t>::max() - max_bytes ? std::numeric_limits<uint64_t>::max()
                                                                                    : offset + max_bytes;
    const auto max_file_size = static_cast<curl_off_t>(
        std::min<uint64_t>(hint, static_cast<uint64_t>(std::numeric_limits<curl_off_t>::max())));
    const std::string range = fmt::format("{}-", offset);
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
    // CURLOPT_RANGE, not CURLOPT_RESUME_FROM: a 200 answer is handled above, not an error.
    if (offset > 0) set(CURLOPT_RANGE, range.c_str());
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
    if (t.sink_error) return std::unexpected(std::move(*t.sink_error));
    if (t.range_error) return std::unexpected(std::move(*t.range_error).context(fmt::format("GET {}", url)));
    if (t.body_too_big || (code == CURLE_FILESIZE_EXCEEDED && (status == 0 || (status >= 200 && status <= 299)))) {
      if (offset == 0)
        return make_error(ErrorCode::kOutOfRange, "GET {}: {} is larger than its cap of {} bytes", url, path,
                          max_bytes);
      return make_error(ErrorCode::kOutOfRange, "GET {}: {} has more than its cap of {} bytes after byte {}", url,
                        path, max_bytes, offset);
    }
    if (status == 416) {
      // Nothing at or after `offset`: fine when the file ends exactly there ("bytes */OFFSET").
      const ContentRange range_416 = parse_content_range(t.content_range);
      if (range_416.total == offset) return ok();
      if (range_416.total)
        return make_error(ErrorCode::kOutOfRange, "GET {}: {} is {} bytes; nothing at or after byte {} (HTTP 416)",
                          url, path, *range_416.total, offset);
      return make_error(ErrorCode::kOutOfRange, "GET {}: nothing in {} at or after byte {} (HTTP 416)", url, path,
                        offset);
    }
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
    if (status == 200 && offset > 0 && (t.to_skip > 0 || !t.body_started) &&
        parse_content_range(t.content_range).first.value_or(0) == 0)
      return make_error(ErrorCode::kOutOfRange, "GET {}: {} ended before byte {} (the server ignored the Range)", url,
                        path, offset);
    return ok();
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
