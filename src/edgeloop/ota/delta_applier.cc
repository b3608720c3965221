#include "edgeloop/ota/delta_applier.h"

#include <zstd.h>

#include <algorithm>
#include <memory>
#include <new>
#include <vector>

#include "edgeloop/base/file.h"

namespace edgeloop::ota {
namespace {

constexpr size_t kChunk = 64 * 1024;  // the write buffer for reconstructed tensor bytes

struct DctxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};
using Dctx = std::unique_ptr<ZSTD_DCtx, DctxFree>;

struct Entry {
  DeltaRecord record;
  ByteSpan payload;
};

// Uninitialized bytes: a declared length that the payload does not fill touches no more pages
// than zstd writes (and every length is capped by the target length before this).
Result<std::unique_ptr<std::byte[]>> allocate(uint64_t n) {
  std::unique_ptr<std::byte[]> p(new (std::nothrow) std::byte[std::max<uint64_t>(n, 1)]);
  if (!p) return make_error(ErrorCode::kOutOfRange, "cannot allocate {} bytes to apply the patch", n);
  return p;
}

// One-shot decompression into exactly `length` bytes: zstd refuses to write past the buffer,
// and anything shorter or longer than declared is refused. One-shot also means no window
// buffer, so a prefix as large as the base costs no memory.
Status decompress_exact(ZSTD_DCtx* dctx, std::byte* dst, uint64_t length, ByteSpan payload, ByteSpan prefix,
                        size_t record_index) {
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, ZSTD_dParam_getBounds(ZSTD_d_windowLogMax).upperBound);
  if (!prefix.empty()) {
    const size_t r = ZSTD_DCtx_refPrefix(dctx, prefix.data(), prefix.size());
    if (ZSTD_isError(r)) return make_error(ErrorCode::kInternal, "zstd: {}", ZSTD_getErrorName(r));
  }
  const size_t n = ZSTD_decompressDCtx(dctx, dst, length, payload.data(), payload.size());
  if (ZSTD_isError(n))
    return make_error(ErrorCode::kCorrupt, "record {}: the compressed data is corrupt or longer than its declared {} bytes ({})",
                      record_index, length, ZSTD_getErrorName(n));
  if (n != length)
    return make_error(ErrorCode::kCorrupt, "record {}: decompresses to {} bytes, not the declared {}", record_index, n, length);
  return ok();
}

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
Result<std::vector<Entry>> parse_records(ByteSpan patch, const DeltaHeader& h, uint64_t base_size) {
  std::vector<Entry> entries;
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
  EL_TRY(std::vector<Entry> entries, parse_records(patch, h, base.size()));

  Dctx dctx(ZSTD_createDCtx());
  if (!dctx) return make_error(ErrorCode::kInternal, "zstd: cannot create a decompression context");
  ApplyStats stats;
  stats.records = entries.size();
  stats.rest_bytes = entries[0].record.length;

  // The rest section, with the whole base as the prefix it was compressed against.
  EL_TRY(auto rest, allocate(stats.rest_bytes));
  if (base.empty() && !entries[0].payload.empty()) {
    // zstd refuses an empty prefix; a base is never empty (its hash matched), but be explicit.
    return make_error(ErrorCode::kCorrupt, "empty base");
  }
  EL_CHECK(decompress_exact(dctx.get(), rest.get(), stats.rest_bytes, entries[0].payload, base, 0));

  EL_TRY(DurableFileWriter writer, DurableFileWriter::create(output, 0644, options.crash_hook));
  Sha256Hasher hasher;
  auto emit = [&](ByteSpan bytes) -> Status {
    hasher.update(bytes);
    return writer.write(bytes);
  };
  uint64_t rest_used = 0;
  auto emit_rest_until = [&](uint64_t target_offset) -> Status {
    const uint64_t gap = target_offset - writer.bytes_written();  // parse_records guarantees the order and the total
    EL_CHECK(emit(ByteSpan(rest.get() + rest_used, gap)));
    rest_used += gap;
    return ok();
  };
  std::vector<std::byte> chunk;
  for (size_t i = 1; i < entries.size(); ++i) {
    const DeltaRecord& r = entries[i].record;
    EL_CHECK(emit_rest_until(r.target_offset));
    if (r.kind == RecordKind::kCopy) {  // straight from the mapped base
      EL_CHECK(emit(base.subspan(r.base_offset, r.length)));
      continue;
    }
    stats.largest_record = std::max(stats.largest_record, r.length);
    EL_TRY(auto buf, allocate(r.length));
    EL_CHECK(decompress_exact(dctx.get(), buf.get(), r.length, entries[i].payload, {}, i));
    if (r.kind == RecordKind::kLiteral && r.plane_stride == 1) {
      EL_CHECK(emit(ByteSpan(buf.get(), r.length)));
      continue;
    }
    // Undo the planes and the xor/sub against the base, one chunk at a time.
    chunk.resize(static_cast<size_t>(std::min<uint64_t>(kChunk, r.length)));
    const uint64_t n = r.length / r.plane_stride;
    const std::byte* b = base.data() + r.base_offset;
    for (uint64_t start = 0; start < r.length; start += chunk.size()) {
      const size_t m = static_cast<size_t>(std::min<uint64_t>(chunk.size(), r.length - start));
      // start and m are multiples of the stride (the chunk is, and so is the length).
      restore_chunk(r.kind, r.plane_stride, buf.get(), n, start, m, b + start, chunk.data());
      EL_CHECK(emit(ByteSpan(chunk.data(), m)));
    }
  }
  EL_CHECK(emit_rest_until(h.target_length));
  if (writer.bytes_written() != h.target_length)
    return make_error(ErrorCode::kInternal, "wrote {} bytes, expected {}", writer.bytes_written(), h.target_length);
  if (hasher.finish() != h.target_sha256)
    return make_error(ErrorCode::kCorrupt, "the patched artifact's SHA-256 is not {}; nothing was written", to_hex(h.target_sha256));
  EL_CHECK(writer.commit());
  stats.target_bytes = h.target_length;
  stats.peak_buffer_bytes = stats.rest_bytes + stats.largest_record + std::min<uint64_t>(kChunk, stats.largest_record);
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
