// Any bytes as an ONNX model: import must produce a verified graph or refuse, never crash.
#include <cstdint>

#include "edgeloop/model/onnx_import.h"
#include "edgeloop/model/shape_inference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgeloop;
  auto g = model::import_onnx_bytes(ByteSpan(reinterpret_cast<const std::byte*>(data), size));
  if (g && !model::verify_graph(*g)) __builtin_trap();  // the importer must only return valid graphs
  return 0;
}
