// Shape inference for the elementwise ops (docs/ops.md).
#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model {

Status infer_Add(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Sub(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Mul(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Div(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Relu(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_LeakyRelu(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_PRelu(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Clip(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Sigmoid(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_HardSigmoid(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_HardSwish(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Tanh(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Softmax(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_LogSoftmax(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_ReduceMean(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Cast(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }

}  // namespace edgeloop::model
