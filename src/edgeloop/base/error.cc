#include "edgeloop/base/error.h"

namespace edgeloop {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kOutOfRange: return "out of range";
    case ErrorCode::kFailedPrecondition: return "failed precondition";
    case ErrorCode::kInternal: return "internal error";
    case ErrorCode::kDeferred: return "deferred";
    case ErrorCode::kCancelled: return "cancelled";
  }
  return "unknown";
}

}  // namespace edgeloop
