// NumPy .npy files (format versions 1–3, little-endian, C order) ↔ TensorData.
#pragma once

#include <filesystem>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::model {

// Supported dtypes: <f4 <f2 |i1 |u1 <i4 <i8 |b1. Refuses Fortran order, big-endian, others.
Result<TensorData> parse_npy(ByteSpan bytes, std::string name = {});
Result<TensorData> read_npy(const std::filesystem::path& path);
std::vector<std::byte> serialize_npy(const TensorData& t);
Status write_npy(const TensorData& t, const std::filesystem::path& path);

}  // namespace edgeloop::model
