// Reference kernels for the data ops (docs/ops.md).
#include "edgeloop/runtime/reference/kernels.h"

namespace edgeloop::runtime::reference {

Status run_Reshape(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Transpose(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Concat(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Split(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Slice(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Pad(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Resize(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }
Status run_Gather(const KernelContext& ctx) { return ctx.fail(ErrorCode::kUnsupported, "not implemented yet"); }

}  // namespace edgeloop::runtime::reference
