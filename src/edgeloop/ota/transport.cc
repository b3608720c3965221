#include "edgeloop/ota/transport.h"

#include "edgeloop/base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <utility>

namespace edgeloop::ota {
namespace {

class DirectoryTransport final : public Transport {
 public:
  explicit DirectoryTransport(std::string root) : root_(std::move(root)) {}

  Result<std::vector<std::byte>> fetch(std::string_view path, size_t max_bytes) override {
    return fetch_whole(path, max_bytes);
  }

  Status fetch_to(std::string_view path, uint64_t offset, uint64_t max_bytes, const Sink& sink) override {
    EL_CHECK(validate_repository_path(path));
    const std::string full = join(path);
    // O_NONBLOCK: opening a FIFO planted in the repository must not wait for a writer. It does
    // not change reads from regular files, the only kind read below.
    UniqueFd fd(::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) {
      const int err = errno;
      if (err == ENOENT || err == ENOTDIR) {
        struct stat root_st {};
        if (::stat(root_or_dot().c_str(), &root_st) != 0 || !S_ISDIR(root_st.st_mode))
          return make_error(ErrorCode::kIo, "repository folder {} is not there (unmounted?); cannot fetch {}",
                            root_or_dot(), path);
        return make_error(ErrorCode::kNotFound, "{} not found in {}", path, describe());
      }
      return make_error(ErrorCode::kIo, "cannot open {}: {}", full, std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
      return make_error(ErrorCode::kIo, "cannot stat {}: {}", full, std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::kIo, "{} is not a regular file; refusing to read it", full);
    const auto size = static_cast<uint64_t>(st.st_size);
    if (offset > 0) {
      if (offset > size)
        return make_error(ErrorCode::kOutOfRange, "{} in {} is {} bytes; nothing at or after byte {}", path,
                          describe(), size, offset);
      if (::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0)
        return make_error(ErrorCode::kIo, "cannot seek in {}: {}", full, std::strerror(errno));
    }
    if (size - std::min(size, offset) > max_bytes) return too_big(path, offset, max_bytes);

    // Read until EOF or one byte past the cap, whichever comes first: st_size is only a hint
    // (the file may grow while we read), so the loop itself enforces the cap.
    constexpr size_t kChunk = 64 * 1024;
    std::vector<std::byte> buffer(static_cast<size_t>(std::min<uint64_t>(kChunk, size - std::min(size, offset) + 1)));
    uint64_t delivered = 0;
    while (true) {
      const uint64_t room = max_bytes - delivered;
      const size_t want = room >= buffer.size() ? buffer.size() : static_cast<size_t>(room) + 1;
      const ssize_t n = ::read(fd.get(), buffer.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return make_error(ErrorCode::kIo, "cannot read {}: {}", full, std::strerror(errno));
      if (n == 0) break;
      if (static_cast<uint64_t>(n) > room) return too_big(path, offset, max_bytes);
      EL_CHECK(sink(ByteSpan(buffer.data(), static_cast<size_t>(n))));
      delivered += static_cast<uint64_t>(n);
      if (buffer.size() < kChunk) buffer.resize(kChunk);  // the size was only a hint
    }
    return ok();
  }

  std::string describe() const override {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(root_or_dot(), ec);
    return "file://" + (ec ? root_ : absolute.lexically_normal().string());
  }

 private:
  std::string root_or_dot() const { return root_.empty() ? std::string(".") : root_; }
  std::string join(std::string_view path) const {
    if (root_.empty()) return std::string(path);
    std::string full = root_;
    if (full.back() != '/') full += '/';
    full += path;
    return full;
  }
  std::unexpected<Error> too_big(std::string_view path, uint64_t offset, uint64_t max_bytes) const {
    if (offset == 0)
      return make_error(ErrorCode::kOutOfRange, "{} in {} is larger than its cap of {} bytes", path, describe(),
                        max_bytes);
    return make_error(ErrorCode::kOutOfRange, "{} in {} has more than its cap of {} bytes after byte {}", path,
                      describe(), max_bytes, offset);
  }

  std::string root_;
};

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
         });
}

// "scheme://" at the start of `url` (RFC 3986: a letter, then letters, digits, '+', '-', '.').
bool has_scheme(std::string_view url) {
  const size_t colon = url.find("://");
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!is_alpha(url[0])) return false;
  return std::all_of(url.begin(), url.begin() + static_cast<std::ptrdiff_t>(colon),
                     [&](char c) { return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'; });
}

}  // namespace

Status Transport::fetch_to(std::string_view path, uint64_t offset, uint64_t max_bytes, const Sink& sink) {
  const uint64_t cap = offset > std::numeric_limits<uint64_t>::max() - max_bytes ? std::numeric_limits<uint64_t>::max()
                                                                                 : offset + max_bytes;
  EL_TRY(const std::vector<std::byte> bytes,
         fetch(path, static_cast<size_t>(std::min<uint64_t>(cap, std::numeric_limits<size_t>::max()))));
  if (offset > bytes.size())
    return make_error(ErrorCode::kOutOfRange, "{} in {} is {} bytes; nothing at or after byte {}", path, describe(),
                      bytes.size(), offset);
  if (offset == bytes.size()) return ok();
  return sink(ByteSpan(bytes).subspan(static_cast<size_t>(offset)));
}

Result<std::vector<std::byte>> Transport::fetch_whole(std::string_view path, size_t max_bytes) {
  std::vector<std::byte> data;
  EL_CHECK(fetch_to(path, 0, max_bytes, [&](ByteSpan chunk) {
    data.insert(data.end(), chunk.begin(), chunk.end());
    return ok();
  }));
  return data;
}

Status validate_repository_path(std::string_view path) {
  if (path.empty()) return make_error(ErrorCode::kInvalidArgument, "repository path is empty");
  if (path.find('\0') != std::string_view::npos)
    return make_error(ErrorCode::kInvalidArgument, "repository path contains a NUL byte");
  if (path.find('\\') != std::string_view::npos)
    return make_error(ErrorCode::kInvalidArgument, "repository path {:?} contains a backslash", path);
  if (path.front() == '/')
    return make_error(ErrorCode::kInvalidArgument, "repository path {:?} is absolute; it must be relative", path);
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    const std::string_view segment = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (segment.empty())
      return make_error(ErrorCode::kInvalidArgument, "repository path {:?} has an empty segment", path);
    if (segment == "." || segment == "..")
      return make_error(ErrorCode::kInvalidArgument, "repository path {:?} has a {:?} segment", path, segment);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return ok();
}

std::unique_ptr<Transport> make_directory_transport(std::string root) {
  return std::make_unique<DirectoryTransport>(std::move(root));
}

Result<std::unique_ptr<Transport>> make_transport(std::string_view url, HttpOptions options) {
  if (url.empty()) return make_error(ErrorCode::kInvalidArgument, "repository URL is empty");
  if (starts_with_ci(url, "http://") || starts_with_ci(url, "https://"))
    return make_http_transport(std::string(url), options);
  std::string dir;
  if (starts_with_ci(url, "file://")) {
    dir = std::string(url.substr(7));
    if (starts_with_ci(dir, "localhost/")) dir.erase(0, 9);  // file://localhost/srv/repo
    if (dir.empty()) return make_error(ErrorCode::kInvalidArgument, "repository URL {:?} names no folder", url);
  } else if (has_scheme(url)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "repository URL {:?} has an unsupported scheme; use http://, https://, file:// or a folder", url);
  } else {
    dir = std::string(url);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR)
      return make_error(ErrorCode::kNotFound, "repository folder {} does not exist", dir);
    return make_error(ErrorCode::kIo, "cannot open repository folder {}: {}", dir, std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) return make_error(ErrorCode::kInvalidArgument, "repository path {} is not a folder", dir);
  return make_directory_transport(std::move(dir));
}

}  // namespace edgeloop::ota
