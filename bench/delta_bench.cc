// Delta apply time in-process (issue 6): ota::apply_delta, as the device library runs it, beside
// libzstd decoding the `zstd -19 --long=27 --patch-from` patch of the same update (what
// `zstd -d --patch-from` does, without a process start), on the same inputs, in one run.
//
// Inputs: the work folder of scripts/bench_delta.sh, named by EDGELOOP_DELTA_BENCH_DIR. Its
// pairs.tsv lists "NAME BASE TARGET" (file names in that folder); NAME.edelta and NAME.zst are
// the two patches. Without the variable the benchmark is skipped with a message. Outputs go to
// a folder beside the inputs, or under EDGELOOP_DELTA_BENCH_OUT.
//
// The machine is shared and noisy, so every iteration runs every variant once, in a rotating
// order, and the counters are medians and ratios of medians within the one benchmark.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/ota/delta_applier.h"

namespace {

namespace fs = std::filesystem;
using namespace edgeloop;

constexpr const char* kDirVar = "EDGELOOP_DELTA_BENCH_DIR";

struct Pair {
  std::string name, base, target;
  fs::path dir;
};

std::vector<std::byte> read_all(const fs::path& p) {
  auto b = read_file(p);
  if (!b) return {};
  return std::move(*b);
}

struct DctxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

// Where decoded bytes go: a plain file (write, close: what the zstd CLI does) or the durable
// protocol ota::apply_delta uses (temporary file, fsync, rename, fsync of the folder).
class Sink {
 public:
  static Sink open(const fs::path& path, bool durable) {
    Sink s;
    s.durable_ = durable;
    if (durable) {
      auto w = DurableFileWriter::create(path);
      if (w) s.writer_.emplace(std::move(*w));
    } else {
      // A new file, not a truncated one: ext4 starts writeback when a truncated file is closed
      // (auto_da_alloc), which would charge a flush to the variant that asked for none.
      ::unlink(path.c_str());
      s.fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    return s;
  }
  bool ok() const { return durable_ ? writer_.has_value() : fd_ >= 0; }
  bool write(const void* p, size_t n) {
    if (durable_) return writer_->write(ByteSpan(static_cast<const std::byte*>(p), n)).has_value();
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      ssize_t w = ::write(fd_, c, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      c += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  bool finish() {
    if (durable_) return writer_->commit().has_value();
    const bool r = ::close(fd_) == 0;
    fd_ = -1;
    return r;
  }
  ~Sink() {
    if (fd_ >= 0) ::close(fd_);
  }
  Sink(Sink&& o) noexcept : durable_(o.durable_), fd_(o.fd_), writer_(std::move(o.writer_)) { o.fd_ = -1; }
  Sink& operator=(Sink&&) = delete;

 private:
  Sink() = default;
  bool durable_ = false;
  int fd_ = -1;
  std::optional<DurableFileWriter> writer_;
};

// `zstd -d --long=27 --patch-from=BASE PATCH -o OUT` in-process: the base mapped and referenced
// as the prefix, streaming decompression through zstd's recommended output buffer (the frame's
// XXH64 checksum, which the CLI writes by default, is verified by libzstd).
// With `verify`, the output is also hashed as it is written and compared with `expected`: what a
// device needs before it may trust a target made by zstd (zstd's own XXH64 is no signature).
bool zstd_stream(const fs::path& base_path, ByteSpan patch, const fs::path& out, bool durable, size_t* dctx_bytes,
                 const Sha256* expected = nullptr) {
  auto base = map_file(base_path);
  if (!base) return false;
  std::unique_ptr<ZSTD_DCtx, DctxFree> d(ZSTD_createDCtx());
  ZSTD_DCtx_setParameter(d.get(), ZSTD_d_windowLogMax, 27);
  if (ZSTD_isError(ZSTD_DCtx_refPrefix(d.get(), base->span().data(), base->size()))) return false;
  Sink sink = Sink::open(out, durable);
  if (!sink.ok()) return false;
  std::vector<std::byte> buf(ZSTD_DStreamOutSize());
  ZSTD_inBuffer in{patch.data(), patch.size(), 0};
  Sha256Hasher hasher;
  for (;;) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    const size_t r = ZSTD_decompressStream(d.get(), &o, &in);
    if (ZSTD_isError(r)) return false;
    if (expected) hasher.update(ByteSpan(buf.data(), o.pos));
    if (o.pos > 0 && !sink.write(buf.data(), o.pos)) return false;
    if (r == 0) break;
    if (in.pos == in.size && o.pos < o.size) return false;  // truncated
  }
  if (dctx_bytes) *dctx_bytes = ZSTD_sizeof_DCtx(d.get());
  if (expected && hasher.finish() != *expected) return false;
  return sink.finish();
}

// One-shot: the whole target decoded into one buffer of its size, then written (the fastest
// libzstd can do; no window buffer, but the whole target in memory).
size_t oneshot_dctx_bytes = 0;  // a context after one-shot decoding: what ota::apply_delta holds

bool zstd_oneshot(const fs::path& base_path, ByteSpan patch, const fs::path& out, bool durable, bool write) {
  auto base = map_file(base_path);
  if (!base) return false;
  std::unique_ptr<ZSTD_DCtx, DctxFree> d(ZSTD_createDCtx());
  ZSTD_DCtx_setParameter(d.get(), ZSTD_d_windowLogMax, 27);
  if (ZSTD_isError(ZSTD_DCtx_refPrefix(d.get(), base->span().data(), base->size()))) return false;
  const unsigned long long size = ZSTD_getFrameContentSize(patch.data(), patch.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) return false;
  std::vector<std::byte> buf(size);
  const size_t n = ZSTD_decompressDCtx(d.get(), buf.data(), buf.size(), patch.data(), patch.size());
  if (ZSTD_isError(n) || n != size) return false;
  oneshot_dctx_bytes = ZSTD_sizeof_DCtx(d.get());
  if (!write) {
    benchmark::DoNotOptimize(buf.data());
    return true;
  }
  Sink sink = Sink::open(out, durable);
  return sink.ok() && sink.write(buf.data(), buf.size()) && sink.finish();
}

struct Variant {
  std::string name;
  std::function<bool()> run;
  std::vector<double> ms = {};
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void run_pair(benchmark::State& state, const Pair& pair) {
  const fs::path base = pair.dir / pair.base, target_path = pair.dir / pair.target;
  const std::vector<std::byte> target = read_all(target_path);
  const std::vector<std::byte> patch = read_all(pair.dir / (pair.name + ".edelta"));
  const std::vector<std::byte> zpatch = read_all(pair.dir / (pair.name + ".zst"));
  if (target.empty() || patch.empty() || zpatch.empty())
    return state.SkipWithError(("missing " + pair.target + ", " + pair.name + ".edelta or " + pair.name + ".zst").c_str());
  const Sha256 expected = sha256(target);
  // Where the outputs go: EDGELOOP_DELTA_BENCH_OUT (e.g. /dev/shm, to time the work without the
  // storage), by default a folder beside the inputs.
  const char* out_var = std::getenv("EDGELOOP_DELTA_BENCH_OUT");
  const fs::path out_dir = (out_var ? fs::path(out_var) : pair.dir) / ("edgeloop-delta-bench-" + std::to_string(::getpid()));
  fs::create_directories(out_dir);
  const fs::path out = out_dir / (pair.name + ".out");

  ota::ApplyStats stats;
  size_t zstd_dctx_bytes = 0;
  ota::ApplyOptions verified;
  verified.base_verified = true;
  std::vector<Variant> variants = {
      {"ours", [&] {
         auto r = ota::apply_delta(base, patch, out, expected);
         if (r) stats = *r;
         return r.has_value();
       }},
      {"ours_base_verified", [&] { return ota::apply_delta(base, patch, out, expected, verified).has_value(); }},
      {"zstd_stream_durable", [&] { return zstd_stream(base, zpatch, out, true, &zstd_dctx_bytes); }},
      {"zstd_stream_write", [&] { return zstd_stream(base, zpatch, out, false, nullptr); }},
      {"zstd_stream_durable_sha256", [&] { return zstd_stream(base, zpatch, out, true, nullptr, &expected); }},
      {"zstd_oneshot_durable", [&] { return zstd_oneshot(base, zpatch, out, true, true); }},
      {"zstd_decode_only", [&] { return zstd_oneshot(base, zpatch, out, false, false); }},
      // The parts of "ours" that are not decoding, each alone:
      {"sha256_base", [&] {  // map + hash, as apply_delta(path, ...) does
         auto m = map_file(base);
         if (!m) return false;
         benchmark::DoNotOptimize(sha256(m->span()));
         return true;
       }},
      {"sha256_target", [&] {
         benchmark::DoNotOptimize(sha256(target));
         return true;
       }},
      {"durable_write", [&] {  // the target in 64 KiB writes, fsync, rename, fsync folder
         auto w = DurableFileWriter::create(out);
         if (!w) return false;
         for (size_t at = 0; at < target.size(); at += 64 * 1024)
           if (!w->write(ByteSpan(target).subspan(at, std::min<size_t>(64 * 1024, target.size() - at)))) return false;
         return w->commit().has_value();
       }},
      {"plain_write", [&] {
         Sink s = Sink::open(out, false);
         return s.ok() && s.write(target.data(), target.size()) && s.finish();
       }},
  };
  size_t turn = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < variants.size(); ++k) {
      Variant& v = variants[(turn + k) % variants.size()];
      const auto t0 = std::chrono::steady_clock::now();
      const bool good = v.run();
      v.ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (!good) return state.SkipWithError((v.name + " failed").c_str());
    }
    ++turn;
  }
  // Every variant that writes wrote the target: check the last file.
  if (read_all(out) != target) return state.SkipWithError("the output is not the target");
  std::map<std::string, double> m;
  for (const Variant& v : variants) m[v.name] = median(v.ms);
  for (const auto& [name, value] : m) state.counters[name + "_ms"] = value;
  state.counters["ratio_ours_vs_zstd_stream_durable"] = m["ours"] / m["zstd_stream_durable"];
  state.counters["ratio_ours_vs_zstd_stream_write"] = m["ours"] / m["zstd_stream_write"];
  state.counters["ratio_verified_vs_zstd_stream_durable"] = m["ours_base_verified"] / m["zstd_stream_durable"];
  state.counters["ratio_verified_vs_zstd_durable_sha256"] = m["ours_base_verified"] / m["zstd_stream_durable_sha256"];
  // What is left of "ours" once hashing and the durable write are taken out: parsing, zstd and
  // un-planing (an estimate from medians of separate runs).
  state.counters["ours_decode_rest_ms"] = m["ours"] - m["sha256_base"] - m["sha256_target"] - m["durable_write"];
  // Every heap byte of the apply at peak (zstd's through ZSTD_customMem included), and its parts.
  state.counters["ours_peak_heap_bytes"] = static_cast<double>(stats.peak_buffer_bytes);
  state.counters["ours_zstd_peak_bytes"] = static_cast<double>(stats.zstd_peak_bytes);
  state.counters["ours_largest_tensor_bytes"] = static_cast<double>(stats.largest_record);
  state.counters["ours_largest_rest_frame_bytes"] = static_cast<double>(stats.largest_rest_frame);
  state.counters["ours_dctx_bytes"] = static_cast<double>(oneshot_dctx_bytes);
  state.counters["zstd_stream_dctx_bytes"] = static_cast<double>(zstd_dctx_bytes);
  state.counters["target_bytes"] = static_cast<double>(target.size());
  fs::remove_all(out_dir);
}

void BM_DeltaApply_NoInputs(benchmark::State& state) {
  for (auto _ : state) {
  }
  state.SkipWithError(
      "set EDGELOOP_DELTA_BENCH_DIR to the work folder of scripts/bench_delta.sh (it writes pairs.tsv, the .edge "
      "files and both patches); skipped");
}

// Registered before main() from pairs.tsv, one benchmark per update.
const bool registered = [] {
  const char* dir = std::getenv(kDirVar);
  std::ifstream list(dir ? fs::path(dir) / "pairs.tsv" : fs::path());
  if (!dir || !list) {
    benchmark::RegisterBenchmark("BM_DeltaApply_NoInputs", BM_DeltaApply_NoInputs)->Iterations(1);
    return false;
  }
  Pair p;
  while (list >> p.name >> p.base >> p.target) {
    p.dir = dir;
    benchmark::RegisterBenchmark(("BM_DeltaApply/" + p.name).c_str(), [p](benchmark::State& s) { run_pair(s, p); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(100);
  }
  return true;
}();

}  // namespace
