// Reference kernels for the nn ops (docs/ops.md).
#include "edgeloop/runtime/reference/kernels.h"

namespace edgeloop::runtime::reference {

Status run_Conv(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_ConvTranspose(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Gemm(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_MatMul(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_MaxPool(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_AveragePool(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_GlobalAveragePool(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_GlobalMaxPool(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_BatchNormalization(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_QuantizeLinear(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_DequantizeLinear(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }

}  // namespace edgeloop::runtime::reference
