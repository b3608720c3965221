// The .edge model artifact (docs/model-format.md): a fixed 64-byte header, a FlatBuffer with
// the graph and metadata, then 64-byte aligned weight segments that are used in place from a
// read-only mapping. Every file is untrusted: load verifies all of it before returning.
#pragma once

#include <filesystem>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::model {

inline constexpr char kArtifactMagic[8] = {'E', 'D', 'G', 'E', 'M', 'O', 'D', 'L'};
inline constexpr uint32_t kArtifactFormatVersion = 1;
inline constexpr size_t kArtifactHeaderSize = 64;
inline constexpr size_t kSegmentAlignment = 64;
// The runtime version this build implements; artifacts may require a minimum.
inline constexpr const char* kRuntimeVersion = "0.1.0";
inline constexpr size_t kMaxArtifactBytes = size_t{2} << 30;

struct ArtifactLayout {
  uint32_t format_version = 0;
  uint64_t flatbuffer_offset = 0, flatbuffer_size = 0;
  uint64_t weights_offset = 0, weights_size = 0;
  uint64_t file_size = 0;
};

// Serializes a graph. Fills meta.required_ops from the nodes. The graph must verify.
Result<std::vector<std::byte>> serialize_artifact(const Graph& graph);
// serialize_artifact + durable write (temp file, fsync, rename): a failure leaves no partial file.
Status write_artifact(const Graph& graph, const std::filesystem::path& path);

// Verifies and decodes an artifact. Constant tensors view `file` without copying, so mapped
// weights stay in the page cache, shared and read-only.
Result<Graph> load_artifact(SharedBytes file);
// Maps the file read-only and loads it.
Result<Graph> load_artifact(const std::filesystem::path& path);
// Reads and checks only the header.
Result<ArtifactLayout> read_layout(ByteSpan file);

// Compares dotted numeric versions ("0.1.0" < "0.10"); non-numeric parts compare as text.
int compare_versions(std::string_view a, std::string_view b);

}  // namespace edgeloop::model
