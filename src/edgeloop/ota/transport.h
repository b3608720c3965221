// Where a device fetches repository files from: a local directory or HTTP(S). Every fetch has
// a size cap; a transport never reads past it (docs/repository.md, "Transports").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"

namespace edgeloop::ota {

class Transport {
 public:
  virtual ~Transport() = default;
  // The bytes of `path` (relative, '/'-separated, e.g. "metadata/timestamp.json"), at most
  // `max_bytes` of them. A file that does not exist is ErrorCode::kNotFound (the root chain
  // ends there); one longer than `max_bytes` is ErrorCode::kOutOfRange, detected without
  // reading more than max_bytes + 1 bytes; any other failure (I/O, timeout, HTTP status) is
  // ErrorCode::kIo. Paths that fail validate_repository_path are kInvalidArgument.
  virtual Result<std::vector<std::byte>> fetch(std::string_view path, size_t max_bytes) = 0;

  // Receives a fetch_to's bytes in order; an error it returns stops the transfer and is what
  // fetch_to returns, unchanged (a full disk, a download deferred by policy).
  using Sink = std::function<Status(ByteSpan)>;
  // The bytes of `path` from byte `offset` to its end, handed to `sink` in order and in chunks;
  // the ranged, streaming fetch that resumable downloads are built on (docs/repository.md,
  // "Transports"). At most `max_bytes` bytes reach the sink: a file with more than that after
  // `offset` is kOutOfRange, and the chunk that would cross the cap is not delivered (earlier
  // chunks may have been). An `offset` equal to the file's length delivers nothing; one past it
  // is kOutOfRange. Over HTTP, an offset above 0 sends "Range: bytes=OFFSET-"; a server that
  // ignores it (200) is handled by skipping the first `offset` bytes of the body; a 206 whose
  // Content-Range does not start at `offset` is kIo. Other errors as for fetch().
  // The default implementation goes through fetch() (whole file in memory), so transports that
  // hold files in memory need not implement it; the directory and HTTP transports stream, and
  // their fetch() is this with offset 0.
  virtual Status fetch_to(std::string_view path, uint64_t offset, uint64_t max_bytes, const Sink& sink);
  // For messages: "file:///srv/repo" or "http://127.0.0.1:8080/repo".
  virtual std::string describe() const = 0;

 protected:
  // fetch() in terms of fetch_to(path, 0, max_bytes, …): the one way the streaming transports
  // collect a whole file.
  Result<std::vector<std::byte>> fetch_whole(std::string_view path, size_t max_bytes);
};

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{60000};   // per fetch
  std::chrono::milliseconds low_speed_window{10000};  // abort when below 1 byte/s this long
};

// A path a transport accepts: relative, '/'-separated segments, none of them empty, "." or "..",
// and no '\\' or NUL anywhere ("metadata/1.root.json", not "/x", "a//b", "a/../b" or "a\\b").
// Both transports name the same file by the same path; anything else is kInvalidArgument.
Status validate_repository_path(std::string_view path);

// Files under `root`; symlinks are followed, but only regular files are read. A `root` that has
// gone away (an unmounted card) is kIo, not kNotFound: it says nothing about the file.
std::unique_ptr<Transport> make_directory_transport(std::string root);
// GET <base_url>/<path> (each segment percent-encoded); no redirects, no content decoding,
// TLS peers verified. Timeouts that are not positive make every fetch kInvalidArgument.
std::unique_ptr<Transport> make_http_transport(std::string base_url, HttpOptions options = {});
// "http://…" and "https://…" go over HTTP; "file://DIR" and plain paths are a directory, which
// must exist (kNotFound otherwise); any other scheme is kInvalidArgument.
Result<std::unique_ptr<Transport>> make_transport(std::string_view url, HttpOptions options = {});

}  // namespace edgeloop::ota
