// Files: whole reads, read-only mappings, and durable atomic writes.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"

namespace edgeloop {

// Owns a file descriptor: closes it when destroyed. Move-only.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// fsyncs a folder, so that a file created, renamed or removed in it stays so after a crash.
Status fsync_folder(const std::filesystem::path& dir);

// Removes a file if it is there, ignoring any error: for scratch files whose leftover costs space,
// not correctness.
void remove_quietly(const std::filesystem::path& path);

// Reads a whole file; refuses files larger than `max_bytes`.
Result<std::vector<std::byte>> read_file(const std::filesystem::path& path, size_t max_bytes = size_t{1} << 32);

// Maps a file read-only. The mapping lives as long as any copy of the returned bytes.
// Empty files map to an empty buffer.
Result<SharedBytes> map_file(const std::filesystem::path& path);

// What write_file_durable does when `path` already exists.
enum class IfExists {
  kReplace,  // atomically replace it (rename)
  kFail,     // leave it alone: ErrorCode::kFailedPrecondition, decided atomically (no check-then-write race)
};

// Called just before each durable step of write_file_durable with the step's name ("write",
// "fsync", "rename", "fsync-dir") and the file it acts on (the temporary file, or the folder for
// "fsync-dir"). Production passes none; the power-loss tests kill the process inside it.
using CrashHook = std::function<void(std::string_view step, const std::filesystem::path& file)>;

// Writes `data` so that after a crash at any point `path` holds either its old content or all
// of `data`: write a temporary file beside it, fsync it, rename it over `path`, fsync the folder.
// The temporary file gets `mode` (umask not applied) before any byte is written, so secrets
// written with 0600 are never readable by others, not even for a moment.
Status write_file_durable(const std::filesystem::path& path, ByteSpan data, mode_t mode = 0644,
                          IfExists if_exists = IfExists::kReplace, const CrashHook& crash_hook = {});

// write_file_durable for data that arrives in pieces: bytes go to a temporary file beside
// `path` (created with `mode` before any byte is written); commit() fsyncs it, renames it over
// `path` (or, with IfExists::kFail, refuses an existing one atomically) and fsyncs the folder.
// Destroyed (or abandoned after an error) before commit(), it removes the temporary file:
// `path` is untouched. `crash_hook` runs before every durable step ("write" per write() call,
// "fsync", "rename", "fsync-dir").
class DurableFileWriter {
 public:
  static Result<DurableFileWriter> create(const std::filesystem::path& path, mode_t mode = 0644, CrashHook crash_hook = {});
  DurableFileWriter(DurableFileWriter&& other) noexcept;
  DurableFileWriter& operator=(DurableFileWriter&&) = delete;
  DurableFileWriter(const DurableFileWriter&) = delete;
  DurableFileWriter& operator=(const DurableFileWriter&) = delete;
  ~DurableFileWriter();

  Status write(ByteSpan data);
  Status commit(IfExists if_exists = IfExists::kReplace);
  uint64_t bytes_written() const { return written_; }

 private:
  DurableFileWriter(std::filesystem::path path, std::filesystem::path tmp, UniqueFd fd, CrashHook crash_hook)
      : path_(std::move(path)), tmp_(std::move(tmp)), fd_(std::move(fd)), crash_hook_(std::move(crash_hook)) {}
  void discard();
  void step(std::string_view name, const std::filesystem::path& file) const {
    if (crash_hook_) crash_hook_(name, file);
  }
  std::filesystem::path path_, tmp_;
  UniqueFd fd_;
  CrashHook crash_hook_;
  uint64_t written_ = 0;
  bool done_ = false;
};

}  // namespace edgeloop
