#include "edgeloop/device/tensor_wire.h"

#include <cstring>
#include <limits>
#include <string>

namespace edgeloop::device {
namespace {

template <class T>
void put(std::vector<std::byte>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  store_le(out.data() + at, v);
}

// Reads fields front to back; every read checks the bytes that remain first.
class Reader {
 public:
  explicit Reader(ByteSpan bytes) : rest_(bytes) {}

  template <class T>
  Result<T> read(std::string_view field) {
    if (rest_.size() < sizeof(T))
      return make_error(ErrorCode::kCorrupt, "tensor message truncated in {} ({} bytes left, {} needed)", field,
                        rest_.size(), sizeof(T));
    T v = load_le<T>(rest_.data());
    rest_ = rest_.subspan(sizeof(T));
    return v;
  }
  Result<ByteSpan> take(uint64_t n, std::string_view field) {
    if (rest_.size() < n)
      return make_error(ErrorCode::kCorrupt, "tensor message truncated in {} ({} bytes left, {} needed)", field,
                        rest_.size(), n);
    ByteSpan out = rest_.first(static_cast<size_t>(n));
    rest_ = rest_.subspan(static_cast<size_t>(n));
    return out;
  }
  size_t remaining() const { return rest_.size(); }

 private:
  ByteSpan rest_;
};

}  // namespace

Result<std::vector<std::byte>> encode_tensors(std::span<const model::TensorData> tensors) {
  if (tensors.size() > std::numeric_limits<uint16_t>::max())
    return make_error(ErrorCode::kInvalidArgument, "{} tensors do not fit one message (at most 65535)", tensors.size());
  size_t total = kTensorWireHeaderBytes;
  for (const model::TensorData& t : tensors) {
    const int64_t elements = model::num_elements(t.shape);
    if (elements < 0)
      return make_error(ErrorCode::kInvalidArgument, "tensor '{}' has an invalid shape {}", t.name, model::shape_str(t.shape));
    if (t.bytes.size() != model::storage_bytes(t.dtype, elements))
      return make_error(ErrorCode::kInvalidArgument, "tensor '{}' has {} bytes, its dtype {} and shape {} need {}", t.name,
                        t.bytes.size(), model::dtype_name(t.dtype), model::shape_str(t.shape),
                        model::storage_bytes(t.dtype, elements));
    if (t.name.size() > std::numeric_limits<uint16_t>::max())
      return make_error(ErrorCode::kInvalidArgument, "a tensor name of {} bytes is too long for the wire", t.name.size());
    if (t.shape.size() > std::numeric_limits<uint8_t>::max())
      return make_error(ErrorCode::kInvalidArgument, "tensor '{}' has rank {}, too high for the wire", t.name, t.shape.size());
    total += 2 + t.name.size() + 2 + 8 * t.shape.size() + 8 + t.bytes.size();
  }
  std::vector<std::byte> out;
  out.reserve(total);
  for (char c : kTensorWireMagic) out.push_back(static_cast<std::byte>(c));
  put<uint8_t>(out, kTensorWireVersion);
  put<uint8_t>(out, 0);  // flags
  put<uint16_t>(out, static_cast<uint16_t>(tensors.size()));
  for (const model::TensorData& t : tensors) {
    put<uint16_t>(out, static_cast<uint16_t>(t.name.size()));
    for (char c : t.name) out.push_back(static_cast<std::byte>(c));
    put<uint8_t>(out, static_cast<uint8_t>(t.dtype));
    put<uint8_t>(out, static_cast<uint8_t>(t.shape.size()));
    for (int64_t d : t.shape) put<int64_t>(out, d);
    put<uint64_t>(out, t.bytes.size());
    out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  }
  return out;
}

Result<std::vector<model::TensorData>> decode_tensors(ByteSpan bytes, const TensorWireLimits& limits) {
  Reader r(bytes);
  EL_TRY(ByteSpan magic, r.take(4, "the magic"));
  if (std::memcmp(magic.data(), kTensorWireMagic, 4) != 0)
    return make_error(ErrorCode::kCorrupt, "not a tensor message (the magic is not \"ELTW\")");
  EL_TRY(const uint8_t version, r.read<uint8_t>("the version"));
  if (version != kTensorWireVersion)
    return make_error(ErrorCode::kCorrupt, "tensor message version {} is not supported (this build reads version {})",
                      version, kTensorWireVersion);
  EL_TRY(const uint8_t flags, r.read<uint8_t>("the flags"));
  if (flags != 0) return make_error(ErrorCode::kCorrupt, "tensor message has unknown flags 0x{:02x}", flags);
  EL_TRY(const uint16_t count, r.read<uint16_t>("the tensor count"));
  if (count > limits.max_tensors)
    return make_error(ErrorCode::kCorrupt, "tensor message holds {} tensors, at most {} are accepted", count,
                      limits.max_tensors);

  std::vector<model::TensorData> out;
  out.reserve(count);
  for (uint16_t k = 0; k < count; ++k) {
    model::TensorData t;
    EL_TRY(const uint16_t name_len, r.read<uint16_t>("a name length"));
    if (name_len > limits.max_name_bytes)
      return make_error(ErrorCode::kCorrupt, "tensor {} has a name of {} bytes, at most {} are accepted", k, name_len,
                        limits.max_name_bytes);
    EL_TRY(ByteSpan name, r.take(name_len, "a name"));
    t.name.assign(reinterpret_cast<const char*>(name.data()), name.size());
    EL_TRY(const uint8_t dtype, r.read<uint8_t>("a dtype"));
    if (!model::is_valid_dtype(dtype)) return make_error(ErrorCode::kCorrupt, "tensor '{}' has unknown dtype {}", t.name, dtype);
    t.dtype = static_cast<model::DType>(dtype);
    EL_TRY(const uint8_t rank, r.read<uint8_t>("a rank"));
    if (rank > limits.max_rank)
      return make_error(ErrorCode::kCorrupt, "tensor '{}' has rank {}, at most {} is accepted", t.name, rank, limits.max_rank);
    t.shape.reserve(rank);
    for (uint8_t i = 0; i < rank; ++i) {
      EL_TRY(const int64_t d, r.read<int64_t>("a dimension"));
      if (d < 0) return make_error(ErrorCode::kCorrupt, "tensor '{}' has a negative dimension {}", t.name, d);
      t.shape.push_back(d);
    }
    const int64_t elements = model::num_elements(t.shape);
    if (elements < 0)
      return make_error(ErrorCode::kCorrupt, "tensor '{}' has too many elements ({})", t.name, model::shape_str(t.shape));
    const uint64_t want = model::storage_bytes(t.dtype, elements);
    EL_TRY(const uint64_t data_len, r.read<uint64_t>("a data length"));
    if (data_len != want)
      return make_error(ErrorCode::kCorrupt, "tensor '{}' declares {} data bytes, its dtype {} and shape {} need {}", t.name,
                        data_len, model::dtype_name(t.dtype), model::shape_str(t.shape), want);
    if (data_len > limits.max_tensor_bytes)
      return make_error(ErrorCode::kCorrupt, "tensor '{}' has {} data bytes, at most {} are accepted", t.name, data_len,
                        limits.max_tensor_bytes);
    // Checked against what is left before allocating: a header cannot make us reserve memory
    // the message does not carry.
    EL_TRY(ByteSpan data, r.take(data_len, "tensor data"));
    t.bytes.assign(data.begin(), data.end());
    out.push_back(std::move(t));
  }
  if (r.remaining() != 0)
    return make_error(ErrorCode::kCorrupt, "{} unexpected bytes after the last tensor of the message", r.remaining());
  return out;
}

}  // namespace edgeloop::device
