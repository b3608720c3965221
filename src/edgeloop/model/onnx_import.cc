#include "edgeloop/model/onnx_import.h"

#include <google/protobuf/io/coded_stream.h>

#include <fstream>
#include <limits>
#include <new>

#include "edgeloop/model/onnx/importer.h"

namespace edgeloop::model {
namespace {

// Protobuf cannot parse messages of 2 GiB or more; models that large keep weights in external
// data, which the importer refuses anyway.
constexpr size_t kMaxModelBytes = size_t{2} << 30;

Result<Graph> import(ByteSpan bytes, const ImportOptions& options, const std::string& label, const std::string& stem) {
  if (bytes.size() >= kMaxModelBytes)
    return make_error(ErrorCode::kUnsupported, "{}: {} bytes is too large for an ONNX protobuf (2 GiB at most)", label,
                      bytes.size());
  ::onnx::ModelProto model;
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetRecursionLimit(64);  // subgraphs nest; a hostile file must not exhaust the stack
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
    return make_error(ErrorCode::kCorrupt, "{}: not a valid ONNX model (the protobuf does not parse); check that the "
                      "file is a complete .onnx file", label);
  if (!model.has_graph() && model.opset_import_size() == 0)
    return make_error(ErrorCode::kCorrupt, "{}: not an ONNX model (no graph and no opset)", label);
  onnx_import::Importer importer(model, options, label, stem);
  return importer.run();
}

Result<Graph> import_guarded(ByteSpan bytes, const ImportOptions& options, const std::string& label,
                             const std::string& stem) {
  try {
    return import(bytes, options, label, stem);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kOutOfRange, "{}: out of memory while importing", label);
  } catch (const std::exception& e) {  // protobuf and the standard library may throw
    return make_error(ErrorCode::kCorrupt, "{}: import failed: {}", label, e.what());
  }
}

}  // namespace

Result<Graph> import_onnx_bytes(ByteSpan bytes, const ImportOptions& options) {
  return import_guarded(bytes, options, "model", "");
}

Result<Graph> import_onnx(const std::filesystem::path& path, const ImportOptions& options) {
  const std::string label = path.string();
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec)
    return make_error(ec == std::errc::no_such_file_or_directory ? ErrorCode::kNotFound : ErrorCode::kIo,
                      "{}: cannot read: {}", path.string(), ec.message());
  if (size >= kMaxModelBytes)
    return make_error(ErrorCode::kUnsupported, "{}: {} bytes is too large for an ONNX protobuf (2 GiB at most)",
                      path.string(), size);
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "{}: cannot open for reading", path.string());
  std::vector<std::byte> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<size_t>(in.gcount()) != bytes.size())
    return make_error(ErrorCode::kIo, "{}: short read ({} of {} bytes)", path.string(), in.gcount(), bytes.size());
  return import_guarded(bytes, options, label, path.stem().string());
}

}  // namespace edgeloop::model
