#include "edgeloop/crypto/hex.h"

namespace edgeloop::crypto {

Status decode_hex(std::string_view hex, std::string_view what, MutableByteSpan out) {
  if (hex.size() != 2 * out.size())
    return make_error(ErrorCode::kInvalidArgument, "{} must be {} hex digits ({} bytes), got {} characters", what,
                      2 * out.size(), out.size(), hex.size());
  for (size_t i = 0; i < hex.size(); ++i) {
    const char c = hex[i];
    unsigned v;
    if (c >= '0' && c <= '9') {
      v = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      return make_error(ErrorCode::kInvalidArgument,
                        "{}: uppercase hex digit '{}' at position {} (edgeloop reads and writes lowercase hex only)", what, c, i);
    } else {
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x20 && u < 0x7f)
        return make_error(ErrorCode::kInvalidArgument, "{}: '{}' at position {} is not a hex digit", what, c, i);
      return make_error(ErrorCode::kInvalidArgument, "{}: byte 0x{:02x} at position {} is not a hex digit", what, u, i);
    }
    out[i / 2] = static_cast<std::byte>(i % 2 == 0 ? v << 4 : (static_cast<unsigned>(out[i / 2]) | v));
  }
  return ok();
}

Result<std::vector<std::byte>> bytes_from_hex(std::string_view hex, std::string_view what) {
  if (hex.size() % 2 != 0)
    return make_error(ErrorCode::kInvalidArgument, "{} must have an even number of hex digits, got {}", what, hex.size());
  std::vector<std::byte> out(hex.size() / 2);
  EL_CHECK(decode_hex(hex, what, out));
  return out;
}

}  // namespace edgeloop::crypto
