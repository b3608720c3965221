// ONNX → IR. Parses an ONNX ModelProto (opsets 6–17 of the default domain), resolves every
// node into the canonical op set of docs/ops.md, folds constants, folds BatchNormalization into
// the preceding convolution, removes Identity/Dropout, moves initializers into constant tensors
// and infers every shape statically. Build-machine code: never linked into a device binary.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::model {

struct ImportOptions {
  std::string name;     // metadata name; default: the ONNX graph name, else the file stem
  std::string version;  // metadata version; default "1"
  // Fixes input shapes, e.g. {"input": {1, 3, 224, 224}}; required for inputs with symbolic dims.
  std::map<std::string, Shape> input_shapes;
  // Values the importer may bind to graph inputs when an op needs a constant parameter there
  // (Reshape's shape, Slice's starts, a Resize scale, a quantization scale ...). A bound input
  // becomes a constant and leaves the graph's input list. The conformance runner uses this for
  // ONNX node tests, which pass such parameters as inputs; normal imports leave it empty.
  std::vector<TensorData> bindable_inputs;
};

// Refuses an unsupported model with one kUnsupported error that lists every offending node,
// its op and the reason (op, dtype, attribute or mode), one per line.
Result<Graph> import_onnx(const std::filesystem::path& path, const ImportOptions& options = {});
Result<Graph> import_onnx_bytes(ByteSpan bytes, const ImportOptions& options = {});

// What a model file holds, without importing it.
struct OnnxModelInfo {
  int64_t opset = 0;                   // default-domain opset
  std::vector<std::string> op_types;   // of the main graph's nodes, sorted, unique
  std::vector<std::string> inputs;     // graph inputs that are not initializers, in order
  std::vector<std::string> outputs;
};
Result<OnnxModelInfo> inspect_onnx(const std::filesystem::path& path);

// True when the importer handles this default-domain op type (possibly with refusals for some
// attributes or dtypes).
bool onnx_op_supported(std::string_view op_type);

// Reads a serialized ONNX TensorProto, such as the input_N.pb / output_N.pb files of ONNX's
// backend tests.
Result<TensorData> read_onnx_tensor(const std::filesystem::path& path);

}  // namespace edgeloop::model
