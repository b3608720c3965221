#include "edgeloop/model/npy.h"

#include <cstring>
#include <string>

#include "edgeloop/base/file.h"

namespace edgeloop::model {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct DescrMap {
  const char* descr;
  DType dtype;
};
constexpr DescrMap kDescrs[] = {{"<f4", DType::kF32}, {"<f2", DType::kF16}, {"|i1", DType::kI8},  {"|u1", DType::kU8},
                                {"<i4", DType::kI32}, {"<i8", DType::kI64}, {"|b1", DType::kBool}};

// Finds `'key': <value>` in the header dict and returns the text of the value.
Result<std::string> dict_value(std::string_view header, std::string_view key) {
  std::string quoted = "'" + std::string(key) + "'";
  size_t k = header.find(quoted);
  if (k == std::string_view::npos) return make_error(ErrorCode::kCorrupt, ".npy header has no '{}'", key);
  size_t colon = header.find(':', k + quoted.size());
  if (colon == std::string_view::npos) return make_error(ErrorCode::kCorrupt, ".npy header is malformed near '{}'", key);
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string_view::npos) return make_error(ErrorCode::kCorrupt, ".npy header is malformed near '{}'", key);
  size_t end;
  if (header[start] == '(') {
    end = header.find(')', start);
    if (end == std::string_view::npos) return make_error(ErrorCode::kCorrupt, ".npy shape is not closed");
    ++end;
  } else if (header[start] == '\'') {
    end = header.find('\'', start + 1);
    if (end == std::string_view::npos) return make_error(ErrorCode::kCorrupt, ".npy string is not closed");
    ++end;
  } else {
    end = header.find_first_of(",}", start);
    if (end == std::string_view::npos) return make_error(ErrorCode::kCorrupt, ".npy header is malformed near '{}'", key);
  }
  return std::string(header.substr(start, end - start));
}

Result<Shape> parse_shape(std::string_view s) {
  Shape shape;
  s.remove_prefix(1);
  s.remove_suffix(1);
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    if (i == s.size()) break;
    int64_t v = 0;
    size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (v > (int64_t{1} << 40)) return make_error(ErrorCode::kCorrupt, ".npy dimension too large");
      v = v * 10 + (s[i++] - '0');
      ++digits;
    }
    if (digits == 0) return make_error(ErrorCode::kCorrupt, ".npy shape has a non-numeric entry");
    if (i < s.size() && s[i] == 'L') ++i;
    shape.push_back(v);
    if (shape.size() > 8) return make_error(ErrorCode::kUnsupported, ".npy arrays of rank > 8 are not supported");
  }
  return shape;
}

}  // namespace

Result<TensorData> parse_npy(ByteSpan bytes, std::string name) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0)
    return make_error(ErrorCode::kCorrupt, "not a .npy file (bad magic)");
  const auto major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = load_le<uint16_t>(bytes.data() + 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return make_error(ErrorCode::kCorrupt, ".npy file is truncated");
    header_len = load_le<uint32_t>(bytes.data() + 8);
    header_start = 12;
  } else {
    return make_error(ErrorCode::kUnsupported, ".npy format version {} is not supported", major);
  }
  if (header_len > bytes.size() - header_start) return make_error(ErrorCode::kCorrupt, ".npy header is truncated");
  std::string_view header = as_chars(bytes.subspan(header_start, header_len));
  EL_TRY(std::string descr, dict_value(header, "descr"));
  EL_TRY(std::string fortran, dict_value(header, "fortran_order"));
  EL_TRY(std::string shape_text, dict_value(header, "shape"));
  if (fortran != "False") return make_error(ErrorCode::kUnsupported, ".npy arrays in Fortran order are not supported; save with np.ascontiguousarray");
  if (shape_text.empty() || shape_text.front() != '(') return make_error(ErrorCode::kCorrupt, ".npy shape is not a tuple");
  TensorData t;
  t.name = std::move(name);
  bool known = false;
  for (const auto& d : kDescrs)
    if (descr == std::string("'") + d.descr + "'") {
      t.dtype = d.dtype;
      known = true;
    }
  if (!known) return make_error(ErrorCode::kUnsupported, ".npy dtype {} is not supported (use float32, float16, int8, uint8, int32, int64 or bool)", descr);
  EL_TRY(t.shape, parse_shape(shape_text));
  const int64_t n = t.elements();
  if (n < 0) return make_error(ErrorCode::kCorrupt, ".npy shape is too large");
  const size_t want = storage_bytes(t.dtype, n);
  const size_t have = bytes.size() - header_start - header_len;
  if (want != have) return make_error(ErrorCode::kCorrupt, ".npy data is {} bytes, shape {} needs {}", have, shape_str(t.shape), want);
  auto data = bytes.subspan(header_start + header_len);
  t.bytes.assign(data.begin(), data.end());
  return t;
}

Result<TensorData> read_npy(const std::filesystem::path& path) {
  EL_TRY(auto bytes, read_file(path));
  auto t = parse_npy(bytes, path.stem().string());
  if (!t) return std::unexpected(std::move(t).error().context(path.string()));
  return t;
}

std::vector<std::byte> serialize_npy(const TensorData& t) {
  const char* descr = "<f4";
  for (const auto& d : kDescrs)
    if (d.dtype == t.dtype) descr = d.descr;
  std::string shape = "(";
  for (size_t i = 0; i < t.shape.size(); ++i) shape += std::to_string(t.shape[i]) + (t.shape.size() == 1 ? "," : i + 1 < t.shape.size() ? ", " : "");
  shape += ")";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // Pad so that magic + 4 + header is a multiple of 64, ending in '\n'.
  size_t total = align_up(10 + header.size() + 1, 64);
  header.append(total - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  std::vector<std::byte> out(10 + header.size() + t.bytes.size());
  std::memcpy(out.data(), kMagic, 6);
  out[6] = std::byte{1};
  out[7] = std::byte{0};
  store_le<uint16_t>(out.data() + 8, static_cast<uint16_t>(header.size()));
  std::memcpy(out.data() + 10, header.data(), header.size());
  if (!t.bytes.empty()) std::memcpy(out.data() + 10 + header.size(), t.bytes.data(), t.bytes.size());
  return out;
}

Status write_npy(const TensorData& t, const std::filesystem::path& path) { return write_file_durable(path, serialize_npy(t)); }

}  // namespace edgeloop::model
