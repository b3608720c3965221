// GoogleTest assertions on Result<T> and Status (base/error.h): the error's message on failure.
#pragma once

#include <gtest/gtest.h>

// Evaluates `expr` once; fails the test (returning) with the expression and the error's message.
#define ASSERT_OK(expr)                                                       \
  do {                                                                        \
    auto&& el_r_ = (expr);                                                    \
    ASSERT_TRUE(el_r_.has_value()) << #expr << ": " << el_r_.error().message; \
  } while (0)
