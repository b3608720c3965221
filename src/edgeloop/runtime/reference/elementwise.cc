// Reference kernels for the elementwise ops (docs/ops.md).
#include "edgeloop/runtime/reference/kernels.h"

namespace edgeloop::runtime::reference {

Status run_Add(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Sub(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Mul(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Div(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Relu(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_LeakyRelu(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_PRelu(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Clip(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Sigmoid(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_HardSigmoid(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_HardSwish(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Tanh(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Softmax(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_LogSoftmax(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_ReduceMean(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Cast(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }

}  // namespace edgeloop::runtime::reference
