// Makes a delta from one .edge artifact to another (docs/delta.md). Repository side only: the
// device library carries the applier (ota/delta_applier.h), never this.
#pragma once

#include <cstdint>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"

namespace edgeloop::ota {

struct DeltaOptions {
  int level = 19;            // zstd level, 1..22
  bool byte_planes = true;   // also try byte-plane transposition of each tensor delta; keep the smaller
  bool arithmetic = true;    // for 1-byte dtypes also try target - base (mod 256); keep the smaller
  // Tensors shorter than this stay in the rest, compressed against the whole base: a record and
  // a zstd frame of their own cost more than they save. The applier reads the rest a frame
  // (kRestFrameBytes) at a time.
  uint64_t min_record_bytes = 256;
};

// What went into a patch, by section (for `edgeloop delta make`).
struct DeltaStats {
  uint64_t patch_bytes = 0, target_bytes = 0, base_bytes = 0;
  uint64_t header_bytes = 0;  // patch header + records (without payloads)
  uint64_t rest_raw = 0, rest_compressed = 0;  // header, FlatBuffer, padding
  uint64_t xor_tensors = 0, xor_raw = 0, xor_compressed = 0;  // kXor and kSub records
  uint64_t literal_tensors = 0, literal_raw = 0, literal_compressed = 0;
  uint64_t copied_tensors = 0, copied_raw = 0;  // unchanged: a record, no payload
  uint64_t small_tensors = 0;                   // left in the rest
  uint64_t planed_tensors = 0;  // records stored with byte planes
  uint64_t largest_tensor = 0;  // what the applier holds at once, besides the rest
};

struct Delta {
  std::vector<std::byte> patch;
  DeltaStats stats;
};

// Both artifacts must load (model::load_artifact). Deterministic for the same inputs and options.
Result<Delta> make_delta_with_stats(ByteSpan base, ByteSpan target, const DeltaOptions& options = {});
Result<std::vector<std::byte>> make_delta(ByteSpan base, ByteSpan target, const DeltaOptions& options = {});

}  // namespace edgeloop::ota
