#include "edgeloop/model/onnx_import.h"

#include <google/protobuf/io/coded_stream.h>

#include <fstream>
#include <limits>
#include <new>
#include <set>

#include "edgeloop/model/onnx/importer.h"
#include "edgeloop/model/onnx/tensor.h"

namespace edgeloop::model {
namespace {

// Protobuf cannot parse messages of 2 GiB or more; models that large keep weights in external
// data, which the importer refuses anyway.
constexpr size_t kMaxModelBytes = size_t{2} << 30;

Result<std::vector<std::byte>> read_file(const std::filesystem::path& path) {
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
  return bytes;
}

template <class Message>
bool parse(Message& m, ByteSpan bytes) {
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetRecursionLimit(64);
  return m.ParseFromCodedStream(&stream) && stream.ConsumedEntireMessage();
}

Result<Graph> import(ByteSpan bytes, const ImportOptions& options, const std::string& label, const std::string& stem) {
  if (bytes.size() >= kMaxModelBytes)
    return make_error(ErrorCode::kUnsupported, "{}: {} bytes is too large for an ONNX protobuf (2 GiB at most)", label,
                      bytes.size());
  ::onnx::ModelProto model;
  if (!parse(model, bytes))  // (subgraphs nest: the recursion limit keeps a hostile file off the stack)
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
  EL_TRY(auto bytes, read_file(path));
  return import_guarded(bytes, options, path.string(), path.stem().string());
}

Result<OnnxModelInfo> inspect_onnx(const std::filesystem::path& path) {
  EL_TRY(auto bytes, read_file(path));
  ::onnx::ModelProto model;
  try {
    if (!parse(model, bytes) || !model.has_graph())
      return make_error(ErrorCode::kCorrupt, "{}: not a valid ONNX model (the protobuf does not parse)", path.string());
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kCorrupt, "{}: not a valid ONNX model ({})", path.string(), e.what());
  }
  OnnxModelInfo info;
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") info.opset = op.version();
  std::set<std::string> ops;
  for (const auto& n : model.graph().node()) ops.insert(n.op_type());
  info.op_types.assign(ops.begin(), ops.end());
  std::set<std::string> initializers;
  for (const auto& t : model.graph().initializer()) initializers.insert(t.name());
  for (const auto& v : model.graph().input())
    if (!initializers.count(v.name())) info.inputs.push_back(v.name());
  for (const auto& v : model.graph().output()) info.outputs.push_back(v.name());
  return info;
}

bool onnx_op_supported(std::string_view op_type) { return onnx_import::find_converter(op_type) != nullptr; }

Result<TensorData> read_onnx_tensor(const std::filesystem::path& path) {
  EL_TRY(auto bytes, read_file(path));
  ::onnx::TensorProto proto;
  try {
    if (!parse(proto, bytes))
      return make_error(ErrorCode::kCorrupt, "{}: not a serialized ONNX TensorProto", path.string());
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kCorrupt, "{}: not a serialized ONNX TensorProto ({})", path.string(), e.what());
  }
  auto t = onnx_import::tensor_data_from_proto(proto);
  if (!t) return std::unexpected(std::move(t).error().context(path.string()));
  return t;
}

}  // namespace edgeloop::model
