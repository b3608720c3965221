// The IR's operator set. Semantics follow ONNX; the importer rewrites every ONNX op into this
// canonical form (docs/ops.md): attributes resolved and explicit, parameters that ONNX passes
// as constant inputs turned into attributes, no auto_pad, no 0/-1 in shapes.
#pragma once

#include <optional>
#include <string_view>

namespace edgeloop::model {

// X(Name) for every op. Op names are stored as strings in .edge files, so the order here is free.
#define EDGELOOP_OPS(X)                                                                          \
  X(Conv) X(ConvTranspose) X(Gemm) X(MatMul)                                                     \
  X(Add) X(Sub) X(Mul) X(Div)                                                                    \
  X(Relu) X(LeakyRelu) X(PRelu) X(Clip) X(Sigmoid) X(HardSigmoid) X(HardSwish) X(Tanh)           \
  X(Softmax) X(LogSoftmax)                                                                       \
  X(MaxPool) X(AveragePool) X(GlobalAveragePool) X(GlobalMaxPool)                                \
  X(Reshape) X(Transpose) X(Concat) X(Split) X(Slice) X(Pad) X(Resize)                           \
  X(BatchNormalization) X(ReduceMean) X(Gather) X(Cast)                                          \
  X(QuantizeLinear) X(DequantizeLinear)

enum class OpType : uint16_t {
#define EL_OP_ENUM(name) k##name,
  EDGELOOP_OPS(EL_OP_ENUM)
#undef EL_OP_ENUM
};

#define EL_OP_COUNT(name) +1
inline constexpr int kNumOps = 0 EDGELOOP_OPS(EL_OP_COUNT);
#undef EL_OP_COUNT

std::string_view op_name(OpType op);
std::optional<OpType> parse_op(std::string_view name);

}  // namespace edgeloop::model
