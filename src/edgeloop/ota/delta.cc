#include "edgeloop/ota/delta.h"

#include <cstring>

namespace edgeloop::ota {

// Header: magic(8) version(4) header_size(4) base_sha256(32) target_sha256(32) base_length(8)
// target_length(8) record_count(4) reserved(4), little-endian. Records: see encode_record.

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

namespace {

void put_varint(uint64_t v, std::vector<std::byte>& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::byte>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::byte>(v));
}

// LEB128, at most 10 bytes, canonical (no redundant trailing zero groups), no bits past 64.
Result<uint64_t> get_varint(ByteSpan b, size_t& pos, const char* field) {
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos >= b.size()) return make_error(ErrorCode::kCorrupt, "patch ends inside a record ({})", field);
    const auto byte = static_cast<uint8_t>(b[pos++]);
    if (i == 9 && byte > 1) return make_error(ErrorCode::kCorrupt, "record field {} overflows 64 bits", field);
    v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (byte == 0 && i > 0) return make_error(ErrorCode::kCorrupt, "record field {} is not minimally encoded", field);
      return v;
    }
  }
  return make_error(ErrorCode::kCorrupt, "record field {} is longer than 10 bytes", field);
}

int log2_stride(uint8_t s) { return s == 8 ? 3 : s == 4 ? 2 : s == 2 ? 1 : 0; }

}  // namespace

void encode_record(const DeltaRecord& r, uint64_t prev_end, std::vector<std::byte>& out) {
  out.push_back(static_cast<std::byte>(static_cast<uint8_t>(r.kind) | (log2_stride(r.plane_stride) << 4)));
  if (r.kind != RecordKind::kRest) put_varint(r.target_offset - prev_end, out);
  put_varint(r.length, out);
  if (r.kind == RecordKind::kXor || r.kind == RecordKind::kSub || r.kind == RecordKind::kCopy) put_varint(r.base_offset, out);
  if (r.kind != RecordKind::kCopy) put_varint(r.payload_size, out);
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

Result<DeltaRecord> decode_record(ByteSpan b, size_t& pos, uint64_t prev_end) {
  if (pos >= b.size()) return make_error(ErrorCode::kCorrupt, "patch ends before a record");
  const auto head = static_cast<uint8_t>(b[pos++]);
  const uint8_t kind = head & 0x0f;
  if (kind < static_cast<uint8_t>(RecordKind::kRest) || kind > static_cast<uint8_t>(RecordKind::kCopy))
    return make_error(ErrorCode::kCorrupt, "unknown record kind {}", kind);
  if (head >> 6 != 0) return make_error(ErrorCode::kCorrupt, "record: reserved bits are not zero");
  DeltaRecord r;
  r.kind = static_cast<RecordKind>(kind);
  r.plane_stride = static_cast<uint8_t>(1u << ((head >> 4) & 3));
  if (r.plane_stride != 1 && (r.kind == RecordKind::kRest || r.kind == RecordKind::kCopy))
    return make_error(ErrorCode::kCorrupt, "record: byte planes on a rest or copy record");
  if (r.kind != RecordKind::kRest) {
    EL_TRY(const uint64_t gap, get_varint(b, pos, "gap"));
    if (gap > UINT64_MAX - prev_end) return make_error(ErrorCode::kCorrupt, "record: target offset overflows");
    r.target_offset = prev_end + gap;
  }
  EL_TRY(r.length, get_varint(b, pos, "length"));
  if (r.kind == RecordKind::kXor || r.kind == RecordKind::kSub || r.kind == RecordKind::kCopy) {
    EL_TRY(r.base_offset, get_varint(b, pos, "base offset"));
  }
  if (r.kind != RecordKind::kCopy) {
    EL_TRY(r.payload_size, get_varint(b, pos, "payload size"));
  }
  return r;
}

}  // namespace edgeloop::ota
