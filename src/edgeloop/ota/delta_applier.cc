#include "edgeloop/ota/delta_applier.h"

// ZSTD_createDCtx_advanced and ZSTD_customMem: the applier's zstd allocations go through its
// meter (exported by the shared libzstd like the rest of its API).
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "edgeloop/base/file.h"

namespace edgeloop::ota {
namespace {

constexpr size_t kChunk = 64 * 1024;  // the write buffer for reconstructed tensor bytes

// Every heap byte the apply holds, at once and at peak: its own buffers, its record table and
// zstd's contexts (through ZSTD_customMem), so ApplyStats reports what the device pays.
class HeapMeter {
 public:
  void add(size_t n, bool zstd = false) {
    now_ += n;
    peak_ = std::max(peak_, now_);
    if (zstd) {
      zstd_now_ += n;
      zstd_peak_ = std::max(zstd_peak_, zstd_now_);
    }
  }
  void sub(size_t n, bool zstd = false) {
    now_ -= n;
    if (zstd) zstd_now_ -= n;
  }
  uint64_t peak() const { return peak_; }
  uint64_t zstd_peak() const { return zstd_peak_; }

 private:
  uint64_t now_ = 0, peak_ = 0, zstd_now_ = 0, zstd_peak_ = 0;
};

// zstd's allocations: the size sits in front of the block (zstd's free does not pass it), which
// keeps max_align_t alignment.
constexpr size_t kZstdHeader = alignof(std::max_align_t);
void* zstd_alloc(void* opaque, size_t n) {
  void* p = std::malloc(n + kZstdHeader);
  if (!p) return nullptr;
  std::memcpy(p, &n, sizeof n);
  static_cast<HeapMeter*>(opaque)->add(n + kZstdHeader, /*zstd=*/true);
  return static_cast<char*>(p) + kZstdHeader;
}
void zstd_free(void* opaque, void* address) {
  if (!address) return;
  char* p = static_cast<char*>(address) - kZstdHeader;
  size_t n = 0;
  std::memcpy(&n, p, sizeof n);
  static_cast<HeapMeter*>(opaque)->sub(n + kZstdHeader, /*zstd=*/true);
  std::free(p);
}

struct DctxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};
using Dctx = std::unique_ptr<ZSTD_DCtx, DctxFree>;

// A std::allocator that reports to the meter (the record table).
template <class T>
struct MeteredAllocator {
  using value_type = T;
  HeapMeter* meter;
  explicit MeteredAllocator(HeapMeter* m) : meter(m) {}
  template <class U>
  MeteredAllocator(const MeteredAllocator<U>& o) : meter(o.meter) {}  // NOLINT: rebinding
  T* allocate(size_t n) {
    T* p = std::allocator<T>().allocate(n);
    meter->add(n * sizeof(T));
    return p;
  }
  void deallocate(T* p, size_t n) {
    meter->sub(n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const MeteredAllocator<U>& o) const {
    return meter == o.meter;
  }
};

struct Entry {
  DeltaRecord record;
  ByteSpan payload;
};
using Entries = std::vector<Entry, MeteredAllocator<Entry>>;

// A metered byte buffer.
struct BufferFree {
  HeapMeter* meter = nullptr;
  size_t size = 0;
  void operator()(std::byte* p) const {
    meter->sub(size);
    delete[] p;
  }
};
using Buffer = std::unique_ptr<std::byte[], BufferFree>;

// Uninitialized bytes: a declared length that the payload does not fill touches no more pages
// than zstd writes (and every length is capped by the target length before this).
Result<Buffer> allocate(uint64_t n, HeapMeter& meter) {
  const size_t size = static_cast<size_t>(std::max<uint64_t>(n, 1));
  Buffer p(new (std::nothrow) std::byte[size], BufferFree{&meter, size});
  if (!p) {
    p.release();
    return make_error(ErrorCode::kOutOfRange, "cannot allocate {} bytes to apply the patch", n);
  }
  meter.add(size);
  return p;
}

// One-shot decompression into at most `capacity` bytes (zstd refuses to write past them); the
// decoded length, or zstd's reason. One-shot also means no window buffer, so a prefix as large
// as the base costs no memory.
Result<size_t> decompress(ZSTD_DCtx* dctx, std::byte* dst, uint64_t capacity, ByteSpan payload, ByteSpan prefix) {
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, ZSTD_dParam_getBounds(ZSTD_d_windowLogMax).upperBound);
  if (!prefix.empty()) {
    const size_t r = ZSTD_DCtx_refPrefix(dctx, prefix.data(), prefix.size());
    if (ZSTD_isError(r)) return make_error(ErrorCode::kInternal, "zstd: {}", ZSTD_getErrorName(r));
  }
  const size_t n = ZSTD_decompressDCtx(dctx, dst, capacity, payload.data(), payload.size());
  if (ZSTD_isError(n)) return make_error(ErrorCode::kCorrupt, "{}", ZSTD_getErrorName(n));
  return n;
}

// Exactly `length` bytes: anything shorter or longer than declared is refused.
Status decompress_exact(ZSTD_DCtx* dctx, std::byte* dst, uint64_t length, ByteSpan payload, size_t record_index) {
  auto n = decompress(dctx, dst, length, payload, {});
  if (!n)
    return make_error(ErrorCode::kCorrupt, "record {}: the compressed data is corrupt or longer than its declared {} bytes ({})",
                      record_index, length, n.error().message);
  if (*n != length)
    return make_error(ErrorCode::kCorrupt, "record {}: decompresses to {} bytes, not the declared {}", record_index, *n, length);
  return ok();
}

// The rest record's bytes, one zstd frame at a time, each decoded in one shot with the whole
// base as its prefix: what is held is the frame being read out (the generator cuts frames of at
// most kRestFrameBytes and writes their content size), never the whole rest. A frame without a
// content size (a patch from before frames were cut) is given the rest's remaining length.
class RestReader {
 public:
  RestReader(ZSTD_DCtx* dctx, ByteSpan payload, uint64_t length, ByteSpan base, HeapMeter& meter)
      : dctx_(dctx), payload_(payload), length_(length), base_(base), meter_(&meter) {}

  // Hands the next `n` rest bytes to `sink`, in pieces.
  template <class Sink>
  Status read(uint64_t n, Sink&& sink) {
    while (n > 0) {
      if (used_ == held_) EL_CHECK(next_frame());
      const size_t m = static_cast<size_t>(std::min<uint64_t>(n, held_ - used_));
      EL_CHECK(sink(ByteSpan(frame_.get() + used_, m)));
      used_ += m;
      n -= m;
    }
    return ok();
  }
  // Every rest byte has been read: what is left of the payload may only be empty frames.
  Status finish() {
    frame_.reset();
    held_ = used_ = 0;
    while (pos_ < payload_.size()) {
      EL_CHECK(next_frame());
      if (held_ != 0) return make_error(ErrorCode::kCorrupt, "record 0: the rest decompresses to more than its declared {} bytes", length_);
    }
    return ok();
  }
  uint64_t largest_frame() const { return largest_; }

 private:
  Status next_frame() {
    frame_.reset();  // the previous frame is spent before the next one is allocated
    held_ = used_ = 0;
    const uint64_t remaining = length_ - produced_;
    const ByteSpan left = payload_.subspan(pos_);
    const size_t frame_size = left.empty() ? 0 : ZSTD_findFrameCompressedSize(left.data(), left.size());
    const unsigned long long content = left.empty() || ZSTD_isError(frame_size)
                                           ? ZSTD_CONTENTSIZE_ERROR
                                           : ZSTD_getFrameContentSize(left.data(), frame_size);
    if (content == ZSTD_CONTENTSIZE_ERROR || (content != ZSTD_CONTENTSIZE_UNKNOWN && content > remaining))
      return make_error(ErrorCode::kCorrupt, "record 0: the rest's frame at byte {} of its payload is missing, corrupt or "
                        "longer than the {} bytes left of the rest", pos_, remaining);
    const uint64_t capacity = content == ZSTD_CONTENTSIZE_UNKNOWN ? remaining : content;
    EL_TRY(frame_, allocate(capacity, *meter_));
    auto n = decompress(dctx_, frame_.get(), capacity, left.first(frame_size), base_);
    if (!n)
      return make_error(ErrorCode::kCorrupt, "record 0: the rest's frame at byte {} of its payload: {}", pos_, n.error().message);
    pos_ += frame_size;
    held_ = *n;
    produced_ += *n;
    largest_ = std::max<uint64_t>(largest_, capacity);
    return ok();
  }

  ZSTD_DCtx* dctx_;
  ByteSpan payload_;
  uint64_t length_;
  ByteSpan base_;
  HeapMeter* meter_;
  Buffer frame_;
  size_t pos_ = 0;  // in payload_
  uint64_t held_ = 0, used_ = 0, produced_ = 0, largest_ = 0;
};

// Target bytes [start, start + m) of a tensor record: element byte p of element e is
// planes[p * n + e] (stride S), then xor-ed or added byte-wise to the base's bytes. S is a
// template parameter so the gather compiles to fixed offsets, without a division per element.
template <RecordKind K, unsigned S>
void restore(const std::byte* planes, uint64_t n, uint64_t start, size_t m, const std::byte* base, std::byte* out) {
  const uint64_t e0 = start / S;
  const size_t count = m / S;
  for (size_t i = 0; i < count; ++i) {
    for (unsigned p = 0; p < S; ++p) {
      uint8_t v = static_cast<uint8_t>(planes[p * n + e0 + i]);
      // A literal reads no base bytes (its base range is not checked: there is none).
      if constexpr (K == RecordKind::kXor) v = static_cast<uint8_t>(v ^ static_cast<uint8_t>(base[i * S + p]));
      if constexpr (K == RecordKind::kSub) v = static_cast<uint8_t>(v + static_cast<uint8_t>(base[i * S + p]));
      out[i * S + p] = static_cast<std::byte>(v);
    }
  }
}

template <RecordKind K>
void restore_kind(unsigned stride, const std::byte* planes, uint64_t n, uint64_t start, size_t m, const std::byte* base,
                  std::byte* out) {
  switch (stride) {
    case 1: return restore<K, 1>(planes, n, start, m, base, out);
    case 2: return restore<K, 2>(planes, n, start, m, base, out);
    case 4: return restore<K, 4>(planes, n, start, m, base, out);
    default: return restore<K, 8>(planes, n, start, m, base, out);  // decode_record allows 1, 2, 4, 8
  }
}

void restore_chunk(RecordKind kind, unsigned stride, const std::byte* planes, uint64_t n, uint64_t start, size_t m,
                   const std::byte* base, std::byte* out) {
  if (kind == RecordKind::kXor) return restore_kind<RecordKind::kXor>(stride, planes, n, start, m, base, out);
  if (kind == RecordKind::kSub) return restore_kind<RecordKind::kSub>(stride, planes, n, start, m, base, out);
  return restore_kind<RecordKind::kLiteral>(stride, planes, n, start, m, base, out);
}

// Parses and checks every record before a byte is written: one rest record first, then tensor
// records in target order, disjoint, inside the target, reading inside the base.
Result<Entries> parse_records(ByteSpan patch, const DeltaHeader& h, uint64_t base_size, HeapMeter& meter) {
  Entries entries{MeteredAllocator<Entry>(&meter)};
  entries.reserve(std::min<size_t>(h.record_count, (patch.size() - kDeltaHeaderSize) / 2));
  size_t pos = kDeltaHeaderSize;
  uint64_t covered = 0, next_free = 0;
  for (uint32_t i = 0; i < h.record_count; ++i) {
    auto r = decode_record(patch, pos, next_free);
    if (!r) return std::unexpected(std::move(r).error().context(fmt::format("record {}", i)));
    if (r->payload_size > patch.size() - pos)
      return make_error(ErrorCode::kCorrupt, "record {}: payload of {} bytes runs past the end of the patch", i, r->payload_size);
    const ByteSpan payload = patch.subspan(pos, r->payload_size);
    pos += r->payload_size;
    if (i == 0) {
      if (r->kind != RecordKind::kRest || r->target_offset != 0 || r->base_offset != 0 || r->plane_stride != 1 ||
          r->length > h.target_length)
        return make_error(ErrorCode::kCorrupt, "record 0 is not a valid rest record");
    } else {
      if (r->kind == RecordKind::kRest) return make_error(ErrorCode::kCorrupt, "record {}: a second rest record", i);
      if (r->length == 0 || r->target_offset < next_free || r->target_offset > h.target_length ||
          r->length > h.target_length - r->target_offset)
        return make_error(ErrorCode::kCorrupt, "record {}: target range [{}, +{}) is out of order or outside the {} byte target", i,
                          r->target_offset, r->length, h.target_length);
      if (r->length % r->plane_stride != 0)
        return make_error(ErrorCode::kCorrupt, "record {}: {} bytes are not a whole number of {} byte elements", i, r->length,
                          r->plane_stride);
      if (r->kind == RecordKind::kCopy && r->payload_size != 0)
        return make_error(ErrorCode::kCorrupt, "record {}: a copy record with a payload", i);
      if (r->kind == RecordKind::kLiteral) {
        if (r->base_offset != 0) return make_error(ErrorCode::kCorrupt, "record {}: a literal record with a base offset", i);
      } else if (r->base_offset > base_size || r->length > base_size - r->base_offset) {
        return make_error(ErrorCode::kCorrupt, "record {}: base range [{}, +{}) is outside the {} byte base", i, r->base_offset,
                          r->length, base_size);
      }
      next_free = r->target_offset + r->length;
      covered += r->length;
    }
    entries.push_back({*r, payload});
  }
  if (pos != patch.size()) return make_error(ErrorCode::kCorrupt, "{} bytes after the last record", patch.size() - pos);
  if (entries[0].record.length != h.target_length - covered)
    return make_error(ErrorCode::kCorrupt, "the rest record holds {} bytes, but the tensor records leave {}", entries[0].record.length,
                      h.target_length - covered);
  return entries;
}

}  // namespace

Result<DeltaHeader> read_delta_header(ByteSpan patch) { return decode_header(patch); }

Result<ApplyStats> apply_delta(ByteSpan base, ByteSpan patch, const std::filesystem::path& output, const Sha256& expected_target,
                               const ApplyOptions& options) {
  EL_TRY(DeltaHeader h, decode_header(patch));
  if (h.target_sha256 != expected_target)
    return make_error(ErrorCode::kFailedPrecondition, "the patch makes {}, not the expected target {}", to_hex(h.target_sha256),
                      to_hex(expected_target));
  if (options.expected_length && *options.expected_length != h.target_length)
    return make_error(ErrorCode::kCorrupt, "the patch makes {} bytes, the expected target has {}", h.target_length,
                      *options.expected_length);
  if (h.target_length > options.max_target_bytes)
    return make_error(ErrorCode::kOutOfRange, "the patch makes {} bytes, more than the limit of {}", h.target_length,
                      options.max_target_bytes);
  if (h.base_length != base.size() || (!options.base_verified && sha256(base) != h.base_sha256))
    return make_error(ErrorCode::kFailedPrecondition,
                      "the patch was made for base {} ({} bytes), not this base {} ({} bytes); fetch the full artifact",
                      to_hex(h.base_sha256), h.base_length, to_hex(sha256(base)), base.size());
  HeapMeter meter;
  EL_TRY(Entries entries, parse_records(patch, h, base.size(), meter));
  if (base.empty() && !entries[0].payload.empty()) {
    // zstd refuses an empty prefix; a base is never empty (its hash matched), but be explicit.
    return make_error(ErrorCode::kCorrupt, "empty base");
  }

  Dctx dctx(ZSTD_createDCtx_advanced(ZSTD_customMem{zstd_alloc, zstd_free, &meter}));
  if (!dctx) return make_error(ErrorCode::kInternal, "zstd: cannot create a decompression context");
  ApplyStats stats;
  stats.records = entries.size();
  stats.rest_bytes = entries[0].record.length;

  // The write buffer for un-planing: one chunk, or the largest such record if that is smaller
  // (either way every record's pieces are whole elements).
  uint64_t chunk_size = 0;
  for (size_t i = 1; i < entries.size(); ++i) {
    const DeltaRecord& r = entries[i].record;
    if (r.kind != RecordKind::kCopy && !(r.kind == RecordKind::kLiteral && r.plane_stride == 1))
      chunk_size = std::max<uint64_t>(chunk_size, std::min<uint64_t>(kChunk, r.length));
  }
  Buffer chunk;
  if (chunk_size > 0) {
    EL_TRY(chunk, allocate(chunk_size, meter));
  }

  // The rest, with the whole base as the prefix it was compressed against, a frame at a time.
  RestReader rest(dctx.get(), entries[0].payload, stats.rest_bytes, base, meter);
  EL_TRY(DurableFileWriter writer, DurableFileWriter::create(output, 0644, options.crash_hook));
  Sha256Hasher hasher;
  auto emit = [&](ByteSpan bytes) -> Status {
    hasher.update(bytes);
    return writer.write(bytes);
  };
  auto emit_rest_until = [&](uint64_t target_offset) -> Status {
    // parse_records guarantees the order and the total
    return rest.read(target_offset - writer.bytes_written(), emit);
  };
  for (size_t i = 1; i < entries.size(); ++i) {
    const DeltaRecord& r = entries[i].record;
    EL_CHECK(emit_rest_until(r.target_offset));
    if (r.kind == RecordKind::kCopy) {  // straight from the mapped base
      EL_CHECK(emit(base.subspan(r.base_offset, r.length)));
      continue;
    }
    stats.largest_record = std::max(stats.largest_record, r.length);
    EL_TRY(auto buf, allocate(r.length, meter));
    EL_CHECK(decompress_exact(dctx.get(), buf.get(), r.length, entries[i].payload, i));
    if (r.kind == RecordKind::kLiteral && r.plane_stride == 1) {
      EL_CHECK(emit(ByteSpan(buf.get(), r.length)));
      continue;
    }
    // Undo the planes and the xor/sub against the base, one chunk at a time.
    const uint64_t n = r.length / r.plane_stride;
    const std::byte* b = base.data() + r.base_offset;
    for (uint64_t start = 0; start < r.length; start += chunk_size) {
      const size_t m = static_cast<size_t>(std::min<uint64_t>(chunk_size, r.length - start));
      // start and m are multiples of the stride (the chunk is, or it holds the whole record).
      restore_chunk(r.kind, r.plane_stride, buf.get(), n, start, m, b + start, chunk.get());
      EL_CHECK(emit(ByteSpan(chunk.get(), m)));
    }
  }
  EL_CHECK(emit_rest_until(h.target_length));
  EL_CHECK(rest.finish());
  if (writer.bytes_written() != h.target_length)
    return make_error(ErrorCode::kInternal, "wrote {} bytes, expected {}", writer.bytes_written(), h.target_length);
  if (hasher.finish() != h.target_sha256)
    return make_error(ErrorCode::kCorrupt, "the patched artifact's SHA-256 is not {}; nothing was written", to_hex(h.target_sha256));
  EL_CHECK(writer.commit());
  stats.target_bytes = h.target_length;
  stats.largest_rest_frame = rest.largest_frame();
  stats.zstd_peak_bytes = meter.zstd_peak();
  stats.peak_buffer_bytes = meter.peak();
  return stats;
}

Result<ApplyStats> apply_delta(const std::filesystem::path& base, ByteSpan patch, const std::filesystem::path& output,
                               const Sha256& expected_target, const ApplyOptions& options) {
  EL_TRY(SharedBytes mapped, map_file(base));
  auto r = apply_delta(mapped.span(), patch, output, expected_target, options);
  if (!r) return std::unexpected(std::move(r).error().context(fmt::format("applying the patch to {}", base.string())));
  return r;
}

}  // namespace edgeloop::ota
