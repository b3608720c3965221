#include "edgeloop/ota/downloader.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <thread>
#include <utility>

#include "edgeloop/base/file.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;
using std::chrono::nanoseconds;

std::unexpected<Error> io_error(std::string_view what, const fs::path& path, int err) {
  return make_error(ErrorCode::kIo, "{} {}: {}", what, path.string(), std::strerror(err));
}

// The folder `path` is in ("." for a bare name).
fs::path folder_of(const fs::path& path) { return path.has_parent_path() ? path.parent_path() : fs::path("."); }

// DEST.partial, opened for appending and locked, so two downloads of one file cannot interleave.
class PartialFile {
 public:
  static Result<PartialFile> open(const fs::path& path, uint64_t fsync_bytes, const CrashHook& hook) {
    bool created = false;
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0 && errno == ENOENT) {
      fd = UniqueFd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
      created = fd.get() >= 0;
    }
    if (fd.get() < 0) return io_error("cannot open", path, errno);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        return make_error(ErrorCode::kFailedPrecondition, "{} is locked: another download of it is in progress",
                          path.string());
      return io_error("cannot lock", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat", path, errno);
    if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::kIo, "{} is not a regular file", path.string());
    // The name must survive a crash for the bytes behind it to be found again.
    if (created) {
      if (hook) hook("fsync-dir", folder_of(path));
      EL_CHECK(fsync_folder(folder_of(path)));
    }
    return PartialFile(path, std::move(fd), static_cast<uint64_t>(st.st_size), fsync_bytes, hook);
  }

  uint64_t size() const { return size_; }
  const fs::path& path() const { return path_; }

  Status append(ByteSpan bytes) {
    step("write");
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return io_error("cannot write", path_, errno);
      bytes = bytes.subspan(static_cast<size_t>(n));
      size_ += static_cast<uint64_t>(n);
      unsynced_ += static_cast<uint64_t>(n);
    }
    if (unsynced_ >= fsync_bytes_) return sync();
    return ok();
  }
  Status sync() {
    step("fsync");
    if (::fsync(fd_.get()) != 0) return io_error("cannot fsync", path_, errno);
    unsynced_ = 0;
    return ok();
  }
  Status truncate() {
    step("truncate");
    if (::ftruncate(fd_.get(), 0) != 0) return io_error("cannot truncate", path_, errno);
    size_ = 0;
    return sync();
  }
  Result<Sha256> sha256_of_content() const {
    EL_TRY(const SharedBytes bytes, map_file(path_));
    return sha256(bytes.span());
  }
  void close() { fd_ = UniqueFd(); }

 private:
  PartialFile(fs::path path, UniqueFd fd, uint64_t size, uint64_t fsync_bytes, const CrashHook& hook)
      : path_(std::move(path)), fd_(std::move(fd)), size_(size), fsync_bytes_(std::max<uint64_t>(1, fsync_bytes)),
        hook_(&hook) {}
  void step(std::string_view name) const {
    if (*hook_) (*hook_)(name, path_);
  }

  fs::path path_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  uint64_t unsynced_ = 0;
  uint64_t fsync_bytes_ = 1;
  const CrashHook* hook_;
};

// Tokens are bytes, refilled at `rate` per second of the injected clock up to `burst`. Bytes
// are paid for as they arrive; a debt is slept off at once, so the average never exceeds the
// rate by more than one burst (TCP flow control holds the sender back while we sleep).
class TokenBucket {
 public:
  TokenBucket(const Clock& clock, const SleepFunction& sleep, uint64_t rate, uint64_t burst, nanoseconds& slept)
      : clock_(clock), sleep_(sleep), rate_(static_cast<double>(rate)),
        burst_(static_cast<double>(burst == 0 ? rate : burst)), tokens_(burst_), last_(clock.now()), slept_(slept) {}

  void take(uint64_t bytes) {
    if (rate_ <= 0) return;
    refill();
    tokens_ -= static_cast<double>(bytes);
    if (tokens_ >= 0) return;
    const nanoseconds wait(static_cast<int64_t>(std::ceil(-tokens_ / rate_ * 1e9)));
    sleep_(wait);
    slept_ += wait;
    refill();
  }

 private:
  void refill() {
    const nanoseconds now = clock_.now();
    if (now > last_) tokens_ = std::min(burst_, tokens_ + static_cast<double>((now - last_).count()) * rate_ / 1e9);
    last_ = now;
  }

  const Clock& clock_;
  const SleepFunction& sleep_;
  double rate_;
  double burst_;
  double tokens_;
  nanoseconds last_;
  nanoseconds& slept_;
};

}  // namespace

SleepFunction real_sleep() {
  return [](nanoseconds d) { std::this_thread::sleep_for(d); };
}

Downloader::Downloader(const Clock& clock, SleepFunction sleep, const DeviceConditions& conditions)
    : clock_(clock), sleep_(std::move(sleep)), conditions_(conditions) {}

fs::path Downloader::partial_path(const fs::path& dest) {
  fs::path partial = dest;
  partial += ".partial";
  return partial;
}

Result<DownloadReport> Downloader::download(Transport& transport, std::string_view path, uint64_t expected_length,
                                            const Sha256& expected_sha256, const fs::path& dest,
                                            const DownloadOptions& options) {
  const std::string what = fmt::format("downloading {} from {} to {}", path, transport.describe(), dest.string());
  const auto fail = [&](Error error) { return std::unexpected(std::move(error).context(what)); };
  if (dest.empty() || !dest.has_filename())
    return fail(Error{ErrorCode::kInvalidArgument, "the destination must name a file"});
  if (options.max_attempts < 1)
    return fail(Error{ErrorCode::kInvalidArgument, fmt::format("max_attempts must be at least 1, not {}",
                                                                options.max_attempts)});

  DownloadReport report;
  auto opened = PartialFile::open(partial_path(dest), options.fsync_bytes, options.crash_hook);
  if (!opened) return fail(std::move(opened).error());
  PartialFile file = std::move(*opened);
  // Longer than the file can be: not a prefix of it. Start again.
  if (file.size() > expected_length) {
    if (auto s = file.truncate(); !s) return fail(std::move(s).error());
  }
  report.resumed_from = file.size();
  bool resumed = file.size() > 0;  // some bytes came from an earlier transfer: a restart may help
  TokenBucket bucket(clock_, sleep_, options.max_bytes_per_second, options.burst_bytes, report.slept);
  int failures = 0;  // failed transfers in a row

  while (true) {
    while (file.size() < expected_length) {
      if (auto allowed = check_download_policy(options.policy, conditions_); !allowed)
        return fail(std::move(allowed).error());
      const uint64_t start = file.size();
      if (start > 0) resumed = true;
      ++report.transfers;
      uint64_t since_check = 0;
      bool local_failure = false;
      Status result = transport.fetch_to(path, start, expected_length - start, [&](ByteSpan chunk) -> Status {
        if (auto written = file.append(chunk); !written) {
          local_failure = true;
          return written;
        }
        report.bytes_fetched += chunk.size();
        if (options.on_progress) options.on_progress(file.size(), expected_length);
        bucket.take(chunk.size());
        since_check += chunk.size();
        if (since_check >= options.policy_check_bytes) {
          since_check = 0;
          EL_CHECK(check_download_policy(options.policy, conditions_));
        }
        return ok();
      });
      if (auto synced = file.sync(); !synced) return fail(std::move(synced).error());
      if (result) {
        if (file.size() < expected_length)
          return fail(Error{ErrorCode::kCorrupt, fmt::format("the source ended after {} of the expected {} bytes",
                                                             file.size(), expected_length)});
        break;
      }
      // Only a failed transfer is worth retrying: a refusal (kDeferred, kOutOfRange, kNotFound, …)
      // or a local disk error would fail the same way again.
      if (result.error().code != ErrorCode::kIo || local_failure) return fail(std::move(result).error());
      failures = file.size() > start ? 1 : failures + 1;
      if (failures >= options.max_attempts)
        return fail(std::move(result).error().context(
            fmt::format("{} transfers in a row failed; {} of {} bytes kept for later", failures, file.size(),
                        expected_length)));
      const auto backoff = std::min<nanoseconds>(
          options.max_backoff, options.initial_backoff * (int64_t{1} << std::min(failures - 1, 20)));
      sleep_(backoff);
      report.slept += backoff;
    }

    auto hash = file.sha256_of_content();
    if (!hash) return fail(std::move(hash).error());
    if (*hash == expected_sha256) break;
    if (resumed && !report.restarted) {
      // A prefix from an earlier run (or a torn write before a crash) may be what is wrong:
      // fetch the whole file once more, in one piece if the connection allows.
      report.restarted = true;
      resumed = false;
      failures = 0;
      if (auto s = file.truncate(); !s) return fail(std::move(s).error());
      continue;
    }
    file.close();
    remove_quietly(partial_path(dest));
    return fail(Error{ErrorCode::kCorrupt, fmt::format("SHA-256 is {}, expected {}{}; the partial file was deleted",
                                                       to_hex(*hash), to_hex(expected_sha256),
                                                       report.restarted ? " (also after a restart from byte 0)" : "")});
  }

  file.close();
  if (options.crash_hook) options.crash_hook("rename", partial_path(dest));
  if (::rename(partial_path(dest).c_str(), dest.c_str()) != 0) return fail(io_error("cannot rename to", dest, errno).error());
  if (options.crash_hook) options.crash_hook("fsync-dir", folder_of(dest));
  if (auto s = fsync_folder(folder_of(dest)); !s) return fail(std::move(s).error());
  return report;
}

}  // namespace edgeloop::ota
