// Summaries of repeated measurements (latencies).
#pragma once

#include <cstddef>
#include <vector>

namespace edgeloop {

struct Summary {
  size_t count = 0;
  double min = 0, mean = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
};

// Percentiles by the nearest-rank method on a sorted copy.
Summary summarize(std::vector<double> samples);

}  // namespace edgeloop
