// Shared by the x86 GEMM kernel tests: run a kernel over row ranges into either output layout,
// and say how two outputs differ.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edgeloop::runtime::x86::gemm_test {

enum class Layout { kRowMajor, kChannelMajor };  // y[i][j] (NHWC, Gemm) or y[j][i] (NCHW)

// Runs rows [0, m) in the calls given by `splits` (row boundaries) and returns y as [m][n].
// gemm(first_row, rows, y_at_first_row, y_row_stride, y_col_stride) runs one call. The output
// starts poisoned so that an element no call writes shows.
template <class Gemm>
std::vector<int8_t> run_in_splits(int64_t m, int64_t n, Layout layout, std::vector<int64_t> splits, const Gemm& gemm) {
  std::vector<int8_t> y(static_cast<size_t>(m * n), int8_t{0x5a});
  splits.insert(splits.begin(), 0);
  splits.push_back(m);
  for (size_t s = 0; s + 1 < splits.size(); ++s) {
    const int64_t a = splits[s], rows = splits[s + 1] - a;
    if (layout == Layout::kRowMajor) gemm(a, rows, y.data() + a * n, n, int64_t{1});
    else gemm(a, rows, y.data() + a, int64_t{1}, m);
  }
  if (layout == Layout::kRowMajor) return y;
  std::vector<int8_t> t(y.size());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) t[static_cast<size_t>(i * n + j)] = y[static_cast<size_t>(j * m + i)];
  return t;
}

// "" when equal; otherwise how many outputs differ and the first one, as (row, channel).
inline std::string mismatch(const std::vector<int8_t>& want, const std::vector<int8_t>& got, int64_t n) {
  if (want.size() != got.size()) return "size " + std::to_string(got.size()) + " instead of " + std::to_string(want.size());
  std::string first;
  size_t count = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (want[i] != got[i]) {
      if (count++ == 0)
        first = "(" + std::to_string(static_cast<int64_t>(i) / n) + ", " + std::to_string(static_cast<int64_t>(i) % n) +
                "): " + std::to_string(got[i]) + " instead of " + std::to_string(want[i]);
    }
  return count == 0 ? "" : std::to_string(count) + " outputs differ, first at " + first;
}

}  // namespace edgeloop::runtime::x86::gemm_test
