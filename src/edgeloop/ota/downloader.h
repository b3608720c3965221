// Resumable, bandwidth-capped, policy-gated downloads of large files (model artifacts) from a
// Transport into a local file (docs/downloads.md). Bytes go to DEST.partial, appended and
// fsynced as they arrive, so a dropped connection or a process restart resumes where it stopped;
// the whole file's SHA-256 is checked before it is renamed to DEST.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>

#include "edgeloop/base/clock.h"
#include "edgeloop/base/error.h"
#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/ota/download_policy.h"
#include "edgeloop/ota/transport.h"

namespace edgeloop::ota {

// Waits; injected so tests (and the simulator) advance a virtual clock instead of sleeping.
using SleepFunction = std::function<void(std::chrono::nanoseconds)>;
// std::this_thread::sleep_for.
SleepFunction real_sleep();

struct DownloadOptions {
  // Average rate cap in bytes per second (token bucket); 0 = no cap.
  uint64_t max_bytes_per_second = 0;
  // The bucket's size: how many bytes may arrive at once before the cap bites. 0 = one second's
  // worth (max_bytes_per_second).
  uint64_t burst_bytes = 0;
  DownloadPolicy policy;
  // The policy is checked before every transfer and again after each this many bytes.
  uint64_t policy_check_bytes = 256 * 1024;
  // The partial file is fsynced after each this many bytes, and whenever a transfer ends.
  uint64_t fsync_bytes = 1024 * 1024;
  // Transfers in a row that fail without delivering a byte before download() gives up; a
  // transfer that made progress resets the count.
  int max_attempts = 5;
  // Wait before retry k (k = 1, 2, …) of a run of failures: initial_backoff * 2^(k-1), capped.
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  // Called after every chunk written: bytes in the partial file so far, and the total.
  std::function<void(uint64_t done, uint64_t total)> on_progress;
  // Runs before every durable step: "fsync-dir" (of the folder, when DEST.partial is created),
  // "write" (a chunk appended to DEST.partial), "fsync", "truncate" (DEST.partial back to 0
  // bytes, then "fsync"), "rename" (DEST.partial to DEST) and "fsync-dir" (power-loss tests).
  CrashHook crash_hook;
};

// What one download() did, for logs and tests.
struct DownloadReport {
  uint64_t resumed_from = 0;    // bytes already in DEST.partial when download() began
  uint64_t bytes_fetched = 0;   // bytes received and written by this call
  int transfers = 0;            // fetch_to calls made
  bool restarted = false;       // the hash did not match, the partial was deleted and fetched again
  std::chrono::nanoseconds slept{0};  // total wait requested: bandwidth cap and backoff
};

class Downloader {
 public:
  // `clock`, `sleep` and `conditions` must outlive the Downloader.
  Downloader(const Clock& clock, SleepFunction sleep, const DeviceConditions& conditions);

  // Downloads `path` (expected_length bytes whose SHA-256 is expected_sha256) to `dest`.
  // Resumes from DEST.partial if there is one. Never asks for, or writes, more than
  // expected_length bytes. On success DEST holds exactly the verified bytes (renamed durably)
  // and DEST.partial is gone. Errors:
  //   kDeferred          the policy said no (before or between chunks); DEST.partial is kept
  //   kCorrupt           the hash did not match, also after one restart from byte 0 (or the file
  //                      was fetched in one piece): DEST.partial is deleted, DEST not written;
  //                      or the source ended before expected_length: DEST.partial is kept
  //   kOutOfRange        the source has more than expected_length bytes; DEST.partial is kept
  //   kNotFound, kInvalidArgument   from the transport, at once
  //   kIo                transfers kept failing (max_attempts in a row, a run restarting at each
  //                      transfer that made progress), or the local disk refused; DEST.partial kept
  //   kFailedPrecondition  another download of `dest` holds DEST.partial's lock
  Result<DownloadReport> download(Transport& transport, std::string_view path, uint64_t expected_length,
                                  const Sha256& expected_sha256, const std::filesystem::path& dest,
                                  const DownloadOptions& options = {});

  // DEST.partial: where download() keeps the bytes of an unfinished download of `dest`.
  static std::filesystem::path partial_path(const std::filesystem::path& dest);

 private:
  const Clock& clock_;
  SleepFunction sleep_;
  const DeviceConditions& conditions_;
};

}  // namespace edgeloop::ota
