// Immutable, cheaply copyable byte buffers: owned vectors or views into a shared mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace edgeloop {

using ByteSpan = std::span<const std::byte>;
using MutableByteSpan = std::span<std::byte>;

inline ByteSpan as_bytes(std::string_view s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }
inline std::string_view as_chars(ByteSpan b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

class SharedBytes {
 public:
  SharedBytes() = default;
  static SharedBytes adopt(std::vector<std::byte> bytes) {
    auto owner = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    ByteSpan view(owner->data(), owner->size());
    return SharedBytes(std::move(owner), view);
  }
  static SharedBytes copy(ByteSpan bytes) { return adopt(std::vector<std::byte>(bytes.begin(), bytes.end())); }
  // A view that keeps `owner` (e.g. a file mapping) alive as long as any copy exists.
  static SharedBytes view(std::shared_ptr<const void> owner, ByteSpan bytes) { return SharedBytes(std::move(owner), bytes); }

  ByteSpan span() const { return view_; }
  const std::byte* data() const { return view_.data(); }
  size_t size() const { return view_.size(); }
  bool empty() const { return view_.empty(); }
  template <class T>
  std::span<const T> as() const {
    return {reinterpret_cast<const T*>(view_.data()), view_.size() / sizeof(T)};
  }

 private:
  SharedBytes(std::shared_ptr<const void> owner, ByteSpan view) : owner_(std::move(owner)), view_(view) {}
  std::shared_ptr<const void> owner_;
  ByteSpan view_;
};

// Little-endian scalar load/store into byte buffers (alignment-safe).
template <class T>
T load_le(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <class T>
void store_le(std::byte* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

inline size_t align_up(size_t n, size_t alignment) { return (n + alignment - 1) / alignment * alignment; }

}  // namespace edgeloop
