// The XNNPACK backend (Debian's libxnnpack, its 2022 subgraph API): FP32 and W8A8 partitions.
//
// A partition becomes one XNNPACK subgraph, and one runtime created when the Program is loaded
// (XNNPACK packs the weights then). Inside a partition every rank-4 tensor is NHWC, XNNPACK's
// layout; the IR is NCHW, so a partition's rank-4 inputs are transposed on the way in and its
// outputs on the way out, except where both layouts are the same bytes (C = 1 or H = W = 1).
// A Flatten of an NHWC tensor feeding a fully-connected layer is absorbed by permuting the
// layer's weight columns at load. INT8 layers (per-channel weights, qcint8) run as XNNPACK
// convolutions; a Gemm becomes a 1×1 convolution because this XNNPACK has no per-channel
// fully-connected. Which ops and forms it claims: docs/backends.md.
#pragma once

#include <memory>

#include "edgeloop/runtime/backend.h"

namespace edgeloop::runtime::xnnpack {

// XNNPACK initialized on this CPU (it needs SSE2 on x86 and NEON on ARM).
bool available();
std::unique_ptr<Backend> make_backend();

}  // namespace edgeloop::runtime::xnnpack
