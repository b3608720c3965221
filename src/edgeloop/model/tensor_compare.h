// Element-wise comparison of tensor values with NumPy's allclose rule: |got - want| <= atol + rtol*|want|.
#pragma once

#include <string>

#include "edgeloop/model/graph.h"

namespace edgeloop::model {

struct Comparison {
  bool ok = false;
  double max_abs_diff = 0;
  double max_rel_diff = 0;
  int64_t mismatches = 0;
  std::string message;  // empty when ok; otherwise the first mismatch or the shape/dtype difference
};

// NaN equals NaN; infinities must match exactly. Integer and bool tensors compare as numbers.
Comparison compare_tensors(const TensorData& got, const TensorData& want, double rtol, double atol);

// Reads element i of any non-packed dtype as a double.
double element_as_double(const TensorData& t, int64_t i);

}  // namespace edgeloop::model
