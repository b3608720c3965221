#include "edgeloop/ota/delta.h"

#include <cstring>

namespace edgeloop::ota {

// Header: magic(8) version(4) header_size(4) base_sha256(32) target_sha256(32) base_length(8)
// target_length(8) record_count(4) reserved(4). Record: kind(1) plane_stride(1) reserved(6)
// target_offset(8) length(8) base_offset(8) payload_size(8). All little-endian.

void encode_header(const DeltaHeader& h, std::byte* out) {
  std::memset(out, 0, kDeltaHeaderSize);
  std::memcpy(out, kDeltaMagic, 8);
  store_le<uint32_t>(out + 8, h.format_version);
  store_le<uint32_t>(out + 12, static_cast<uint32_t>(kDeltaHeaderSize));
  std::memcpy(out + 16, h.base_sha256.data(), 32);
  std::memcpy(out + 48, h.target_sha256.data(), 32);
  store_le<uint64_t>(out + 80, h.base_length);
  store_le<uint64_t>(out + 88, h.target_length);
  store_le<uint32_t>(out + 96, h.record_count);
}

void encode_record(const DeltaRecord& r, std::byte* out) {
  std::memset(out, 0, kDeltaRecordSize);
  out[0] = static_cast<std::byte>(r.kind);
  out[1] = static_cast<std::byte>(r.plane_stride);
  store_le<uint64_t>(out + 8, r.target_offset);
  store_le<uint64_t>(out + 16, r.length);
  store_le<uint64_t>(out + 24, r.base_offset);
  store_le<uint64_t>(out + 32, r.payload_size);
}

Result<DeltaHeader> decode_header(ByteSpan b) {
  if (b.size() < kDeltaHeaderSize)
    return make_error(ErrorCode::kCorrupt, "patch is {} bytes, shorter than its {} byte header", b.size(), kDeltaHeaderSize);
  if (std::memcmp(b.data(), kDeltaMagic, 8) != 0) return make_error(ErrorCode::kCorrupt, "not an edgeloop delta (bad magic)");
  DeltaHeader h;
  h.format_version = load_le<uint32_t>(b.data() + 8);
  if (h.format_version != kDeltaFormatVersion)
    return make_error(ErrorCode::kUnsupported, "delta format version {} is not supported (this build reads {})", h.format_version,
                      kDeltaFormatVersion);
  if (load_le<uint32_t>(b.data() + 12) != kDeltaHeaderSize)
    return make_error(ErrorCode::kCorrupt, "delta header size {} is not {}", load_le<uint32_t>(b.data() + 12), kDeltaHeaderSize);
  std::memcpy(h.base_sha256.data(), b.data() + 16, 32);
  std::memcpy(h.target_sha256.data(), b.data() + 48, 32);
  h.base_length = load_le<uint64_t>(b.data() + 80);
  h.target_length = load_le<uint64_t>(b.data() + 88);
  h.record_count = load_le<uint32_t>(b.data() + 96);
  if (load_le<uint32_t>(b.data() + 100) != 0) return make_error(ErrorCode::kCorrupt, "delta header: reserved field is not zero");
  if (h.record_count == 0 || h.record_count > kMaxDeltaRecords)
    return make_error(ErrorCode::kCorrupt, "delta header: {} records (must be 1..{})", h.record_count, kMaxDeltaRecords);
  return h;
}

Result<DeltaRecord> decode_record(ByteSpan b) {
  if (b.size() < kDeltaRecordSize) return make_error(ErrorCode::kCorrupt, "patch ends inside a record");
  DeltaRecord r;
  const auto kind = static_cast<uint8_t>(b[0]);
  if (kind < static_cast<uint8_t>(RecordKind::kRest) || kind > static_cast<uint8_t>(RecordKind::kSub))
    return make_error(ErrorCode::kCorrupt, "unknown record kind {}", kind);
  r.kind = static_cast<RecordKind>(kind);
  r.plane_stride = static_cast<uint8_t>(b[1]);
  if (!valid_plane_stride(r.plane_stride)) return make_error(ErrorCode::kCorrupt, "invalid plane stride {}", r.plane_stride);
  for (size_t i = 2; i < 8; ++i)
    if (b[i] != std::byte{0}) return make_error(ErrorCode::kCorrupt, "record: reserved bytes are not zero");
  r.target_offset = load_le<uint64_t>(b.data() + 8);
  r.length = load_le<uint64_t>(b.data() + 16);
  r.base_offset = load_le<uint64_t>(b.data() + 24);
  r.payload_size = load_le<uint64_t>(b.data() + 32);
  return r;
}

}  // namespace edgeloop::ota
