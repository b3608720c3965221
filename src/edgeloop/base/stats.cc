#include "edgeloop/base/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace edgeloop {

Summary summarize(std::vector<double> v) {
  Summary s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto rank = [&](double p) { return v[static_cast<size_t>(std::max(0.0, std::ceil(p / 100.0 * v.size()) - 1))]; };
  s.min = v.front();
  s.max = v.back();
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  s.p50 = rank(50);
  s.p90 = rank(90);
  s.p95 = rank(95);
  s.p99 = rank(99);
  return s;
}

}  // namespace edgeloop
