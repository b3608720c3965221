#include "edgeloop/base/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace edgeloop {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

std::unexpected<Error> io_error(std::string_view what, const std::filesystem::path& path) {
  return make_error(ErrorCode::kIo, "{} {}: {}", what, path.string(), std::strerror(errno));
}

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr) ::munmap(addr, size);
  }
};

}  // namespace

Result<std::vector<std::byte>> read_file(const std::filesystem::path& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return io_error("cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat", path);
  if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::kInvalidArgument, "{} is not a regular file", path.string());
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return make_error(ErrorCode::kOutOfRange, "{} is {} bytes, more than the limit of {}", path.string(), st.st_size,
                      max_bytes);
  // procfs files say 0 bytes and hold more: those are read to their end, within the limit.
  const bool unsized = st.st_size == 0;
  const size_t cap = max_bytes < SIZE_MAX ? max_bytes + 1 : max_bytes;  // one byte more tells "too large"
  std::vector<std::byte> data(unsized ? std::min<size_t>(cap, 64 * 1024) : static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
    if (unsized && done == data.size() && done < cap) data.resize(std::min(cap, 2 * done));
  }
  if (done > max_bytes)
    return make_error(ErrorCode::kOutOfRange, "{} holds more than the limit of {} bytes", path.string(), max_bytes);
  data.resize(done);
  return data;
}

Result<SharedBytes> map_file(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return io_error("cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat", path);
  if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::kInvalidArgument, "{} is not a regular file", path.string());
  if (st.st_size == 0) return SharedBytes::copy({});
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  mapping->addr = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (mapping->addr == MAP_FAILED) {
    mapping->addr = nullptr;
    return io_error("cannot map", path);
  }
  ByteSpan view(static_cast<const std::byte*>(mapping->addr), mapping->size);
  return SharedBytes::view(std::move(mapping), view);
}

Status write_file_durable(const std::filesystem::path& path, ByteSpan data, mode_t mode, IfExists if_exists,
                          const CrashHook& crash_hook) {
  EL_TRY(DurableFileWriter writer, DurableFileWriter::create(path, mode, crash_hook));
  EL_CHECK(writer.write(data));
  return writer.commit(if_exists);
}

Result<DurableFileWriter> DurableFileWriter::create(const std::filesystem::path& path, mode_t mode, CrashHook crash_hook) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  UniqueFd fd(::mkstemp(tmpl.data()));
  if (fd.get() < 0) return io_error("cannot create a temporary file in", dir);
  std::filesystem::path tmp = tmpl;
  // mkstemp creates the file 0600; it gets its final mode before it holds any data.
  if (::fchmod(fd.get(), mode) != 0) {
    auto e = io_error("cannot chmod", tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  return DurableFileWriter(path, std::move(tmp), std::move(fd), std::move(crash_hook));
}

DurableFileWriter::DurableFileWriter(DurableFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_(std::move(other.tmp_)),
      fd_(std::move(other.fd_)),
      crash_hook_(std::move(other.crash_hook_)),
      written_(other.written_),
      done_(other.done_) {
  other.done_ = true;  // the moved-from writer owns no temporary file
}

DurableFileWriter::~DurableFileWriter() { discard(); }

void DurableFileWriter::discard() {
  if (done_) return;
  done_ = true;
  fd_ = UniqueFd();
  ::unlink(tmp_.c_str());
}

Status DurableFileWriter::write(ByteSpan data) {
  if (done_) return make_error(ErrorCode::kFailedPrecondition, "{} was already committed or abandoned", path_.string());
  step("write", tmp_);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = io_error("cannot write", tmp_);
      discard();
      return e;
    }
    done += static_cast<size_t>(n);
  }
  written_ += data.size();
  return ok();
}

Status DurableFileWriter::commit(IfExists if_exists) {
  if (done_) return make_error(ErrorCode::kFailedPrecondition, "{} was already committed or abandoned", path_.string());
  auto fail = [&](std::string_view what) {
    auto e = io_error(what, tmp_);
    discard();
    return e;
  };
  step("fsync", tmp_);
  if (::fsync(fd_.get()) != 0) return fail("cannot fsync");
  if (::close(fd_.release()) != 0) return fail("cannot close");
  step("rename", tmp_);
  if (if_exists == IfExists::kReplace) {
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) return fail("cannot rename");
  } else {
    // The kernel decides "exists?" and "put it there" in one step. Filesystems without
    // RENAME_NOREPLACE get link(), which fails the same way on an existing name.
    int r = ::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE);
    if (r != 0 && (errno == EINVAL || errno == ENOSYS)) {
      r = ::link(tmp_.c_str(), path_.c_str());
      if (r == 0) ::unlink(tmp_.c_str());
    }
    if (r != 0) {
      if (errno == EEXIST) {
        discard();
        return make_error(ErrorCode::kFailedPrecondition, "{} already exists; not replacing it", path_.string());
      }
      return fail("cannot rename");
    }
  }
  done_ = true;
  std::filesystem::path dir = path_.parent_path();
  if (dir.empty()) dir = ".";
  step("fsync-dir", dir);
  return fsync_folder(dir);
}

void remove_quietly(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

Status fsync_folder(const std::filesystem::path& dir) {
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0 || ::fsync(dfd.get()) != 0) return io_error("cannot fsync folder", dir);
  return ok();
}

}  // namespace edgeloop
