#include "edgeloop/model/ops.h"

#include <array>

namespace edgeloop::model {
namespace {
constexpr std::array<std::string_view, kNumOps> kNames = {
#define EL_OP_NAME(name) #name,
    EDGELOOP_OPS(EL_OP_NAME)
#undef EL_OP_NAME
};
}  // namespace

std::string_view op_name(OpType op) { return kNames[static_cast<size_t>(op)]; }

std::optional<OpType> parse_op(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<OpType>(i);
  return std::nullopt;
}

}  // namespace edgeloop::model
