// Applies a delta (docs/delta.md) to the base artifact on the device. Streams: the target is
// written front to back through a temporary file, holding one frame of the rest section and at
// most one tensor's bytes at a time; nothing is renamed into place unless the length and SHA-256 match
// both the patch and the caller's expectation (from signed metadata).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/delta.h"

namespace edgeloop::ota {

struct ApplyOptions {
  // Refuse a patch whose target is longer (a hostile length makes us allocate at most this).
  uint64_t max_target_bytes = model::kMaxArtifactBytes;
  std::optional<uint64_t> expected_length;  // from signed metadata, when known
  CrashHook crash_hook;  // before every durable step of writing the output (power-loss tests)
  // The caller has just checked the base against the SHA-256 it trusts (e.g. the slot store
  // verified the installed artifact): do not hash it again, only check its length. Safe either
  // way: a wrong base cannot produce the target, whose SHA-256 is always checked before anything
  // is renamed into place; it then fails as a corrupt result instead of "wrong base".
  bool base_verified = false;
};

struct ApplyStats {
  uint64_t target_bytes = 0;
  uint64_t records = 0;
  uint64_t rest_bytes = 0;          // the rest section's length (read a frame at a time)
  uint64_t largest_rest_frame = 0;  // the largest rest frame held at once
  uint64_t largest_record = 0;      // the largest tensor held at once
  uint64_t zstd_peak_bytes = 0;     // zstd's own allocations at their peak (context, prefix tables)
  // Every heap byte the apply held at once, at peak: zstd's allocations (through ZSTD_customMem),
  // the tensor and rest-frame buffers, the write chunk and the record table. Not counted: the
  // mapped base and patch, the output file's path and the SHA-256 state (a few hundred bytes).
  uint64_t peak_buffer_bytes = 0;
};

// `expected_target` is the signed SHA-256 of the artifact the caller wants; a patch naming
// another target is refused before anything is written. On any error no file is left at
// `output` (an existing file there is left as it was).
Result<ApplyStats> apply_delta(ByteSpan base, ByteSpan patch, const std::filesystem::path& output,
                               const Sha256& expected_target, const ApplyOptions& options = {});
// Maps `base` read-only and applies.
Result<ApplyStats> apply_delta(const std::filesystem::path& base, ByteSpan patch, const std::filesystem::path& output,
                               const Sha256& expected_target, const ApplyOptions& options = {});

// Reads a patch's header (e.g. to show which base and target it joins).
Result<DeltaHeader> read_delta_header(ByteSpan patch);

}  // namespace edgeloop::ota
