// The x86 backend: edgeloop's own W4A8 kernels (w4a8_gemm.h) for the int4-weight Conv (group 1)
// and Gemm layers that XNNPACK cannot run. Weights are packed for the CPU's best ISA at load; a
// convolution gathers its input patches (im2col, in the IR's NCHW layout) and runs one W4A8
// matrix product per image, its rows split over the Program's threads.
#pragma once

#include <memory>

#include "edgeloop/runtime/backend.h"

namespace edgeloop::runtime::x86 {

std::unique_ptr<Backend> make_backend();

}  // namespace edgeloop::runtime::x86
