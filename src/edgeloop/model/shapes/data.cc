// Shape inference for the data ops (docs/ops.md).
#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model {

Status infer_Reshape(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Transpose(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Concat(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Split(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Slice(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Pad(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Resize(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status infer_Gather(ShapeContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }

}  // namespace edgeloop::model
