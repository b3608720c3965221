// Shape inference for the nn ops (docs/ops.md).
#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model {

Status infer_Conv(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_ConvTranspose(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Gemm(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_MatMul(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_MaxPool(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_AveragePool(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_GlobalAveragePool(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_GlobalMaxPool(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_BatchNormalization(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_QuantizeLinear(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_DequantizeLinear(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }

}  // namespace edgeloop::model
