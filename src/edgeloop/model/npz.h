// NumPy .npz archives (np.savez, np.savez_compressed) → TensorData, one per NAME.npy member.
//
// An .npz is a ZIP archive. The reader is strict and small (docs/quantization.md, "The .npz
// reader"): a single-disk archive whose central directory ends where its end record begins,
// members stored (method 0) or deflated (method 8), each checked against its local header, its
// data descriptor if it has one, and its CRC-32. Every offset and size is bounds-checked before it
// is used, and memory is bounded by the limits below.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::model {

struct NpzLimits {
  uint64_t max_member_bytes = uint64_t{1} << 30;  // uncompressed size of one member
  uint64_t max_total_bytes = uint64_t{4} << 30;   // uncompressed size of all members together
  uint64_t max_members = 4096;
};

// The arrays in central-directory order, each named by its member name without ".npy".
// Errors: kCorrupt (inconsistent or damaged archive), kUnsupported (encryption, a compression
// method other than stored/deflate, ZIP64 end records, limits exceeded, .npy dtypes parse_npy
// refuses); messages name the member.
Result<std::vector<TensorData>> parse_npz(ByteSpan bytes, const NpzLimits& limits = {});
Result<std::vector<TensorData>> read_npz(const std::filesystem::path& path, const NpzLimits& limits = {});

}  // namespace edgeloop::model
