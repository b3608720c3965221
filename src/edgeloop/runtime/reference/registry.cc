#include "edgeloop/runtime/reference/kernels.h"

namespace edgeloop::runtime::reference {

KernelFn kernel_for(model::OpType op) {
  switch (op) {
#define EL_REF_CASE(name)       \
  case model::OpType::k##name: \
    return &run_##name;
    EDGELOOP_OPS(EL_REF_CASE)
#undef EL_REF_CASE
  }
  return nullptr;
}

}  // namespace edgeloop::runtime::reference
