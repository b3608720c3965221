// The reference backend: one portable kernel per IR op, written for clarity and exactness.
// They are the oracle that faster backends are tested against.
#pragma once

#include "edgeloop/runtime/kernel.h"

namespace edgeloop::runtime::reference {

#define EL_DECLARE_REF_KERNEL(name) Status run_##name(const KernelContext& ctx);
EDGELOOP_OPS(EL_DECLARE_REF_KERNEL)
#undef EL_DECLARE_REF_KERNEL

KernelFn kernel_for(model::OpType op);

}  // namespace edgeloop::runtime::reference
