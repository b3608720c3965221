// The tensor-aware delta between two .edge artifacts (docs/delta.md): what the generator
// (ota/delta_generator.h, repository side) writes and the applier (ota/delta_applier.h, device
// side) reads. Only constants and fixed-size records live here, so both agree on one layout.
#pragma once

#include <cstdint>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/base/hash.h"

namespace edgeloop::ota {

inline constexpr char kDeltaMagic[8] = {'E', 'D', 'G', 'E', 'D', 'L', 'T', 'A'};
inline constexpr uint32_t kDeltaFormatVersion = 1;
inline constexpr size_t kDeltaHeaderSize = 104;
// The generator cuts the rest section into zstd frames of at most this many bytes, each with its
// content size and the whole base as prefix; the applier holds one frame at a time.
inline constexpr uint64_t kRestFrameBytes = 256 * 1024;
// More records than this is not a patch of any artifact we write (one per constant tensor + 1).
inline constexpr uint32_t kMaxDeltaRecords = 1u << 20;

// How a record's target bytes are made.
enum class RecordKind : uint8_t {
  kRest = 1,     // every target byte outside the tensor records, in order; zstd frames with the whole base as prefix
  kLiteral = 2,  // zstd(bytes)
  kXor = 3,      // zstd(planes(target ^ base[base_offset ...]))
  kSub = 4,      // zstd(planes(target - base[base_offset ...])), byte-wise mod 256 (int8 weights)
  kCopy = 5,     // base[base_offset ...] unchanged; no payload
};

// Byte-plane transposition with stride s (1 = none): the delta d of n = length / s elements is
// stored as plane 0 (byte 0 of every element), plane 1, ... so that the slowly varying bytes of
// each element (a float's sign/exponent) sit next to each other. Allowed strides:
inline bool valid_plane_stride(uint8_t s) { return s == 1 || s == 2 || s == 4 || s == 8; }

struct DeltaHeader {
  uint32_t format_version = kDeltaFormatVersion;
  Sha256 base_sha256{};
  Sha256 target_sha256{};
  uint64_t base_length = 0;
  uint64_t target_length = 0;
  uint32_t record_count = 0;
};

// A record is 2 to 41 bytes: a kind byte, then up to four LEB128 varints (docs/delta.md).
struct DeltaRecord {
  RecordKind kind = RecordKind::kLiteral;
  uint8_t plane_stride = 1;
  uint64_t target_offset = 0;  // kRest: 0
  uint64_t length = 0;         // target bytes this record produces
  uint64_t base_offset = 0;    // kXor/kSub: where the base bytes start; otherwise 0
  uint64_t payload_size = 0;   // compressed bytes following the record
};

void encode_header(const DeltaHeader& h, std::byte* out);  // kDeltaHeaderSize bytes
// Appends a record. Tensor records store their target offset as the gap after `prev_end`, the
// end of the previous tensor record (0 for the first).
void encode_record(const DeltaRecord& r, uint64_t prev_end, std::vector<std::byte>& out);
// Checks what a header or record can check alone (magic, version, reserved fields, kinds,
// varints). decode_record reads at `pos` and advances it past the record (not its payload).
Result<DeltaHeader> decode_header(ByteSpan bytes);
Result<DeltaRecord> decode_record(ByteSpan bytes, size_t& pos, uint64_t prev_end);

}  // namespace edgeloop::ota
