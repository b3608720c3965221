// Errors are values: every fallible call returns Result<T> = std::expected<T, Error>.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace edgeloop {

enum class ErrorCode {
  kInvalidArgument,     // the caller passed something malformed
  kNotFound,            // a file, tensor or key that does not exist
  kIo,                  // the operating system refused (open, read, write, fsync, mmap)
  kCorrupt,             // bytes from outside failed verification
  kUnsupported,         // well-formed, but this build cannot handle it (op, dtype, attribute)
  kOutOfRange,          // an index, size or value outside its allowed range
  kFailedPrecondition,  // the system is not in a state where the call makes sense
  kInternal,            // a bug in edgeloop
  kDeferred,            // not now, by policy (a metered network, a low battery): try again later, nothing lost
  kCancelled,           // stopped on request (a deadline passed); nothing half-done is kept
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // says what went wrong and, where it can, what to do

  // Prefixes the message with where it happened ("loading model.edge: ...").
  Error context(std::string_view where) const& { return {code, fmt::format("{}: {}", where, message)}; }
  Error context(std::string_view where) && {
    message = fmt::format("{}: {}", where, message);
    return std::move(*this);
  }
  std::string to_string() const { return message; }
};

template <class T>
using Result = std::expected<T, Error>;
using Status = Result<void>;

inline Status ok() { return {}; }

template <class... Args>
std::unexpected<Error> make_error(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  return std::unexpected(Error{code, fmt::format(format, std::forward<Args>(args)...)});
}

}  // namespace edgeloop

#define EL_CONCAT_INNER_(a, b) a##b
#define EL_CONCAT_(a, b) EL_CONCAT_INNER_(a, b)

// EL_TRY(auto x, expr);  assigns the value of a Result or returns its error.
#define EL_TRY(lhs, expr) EL_TRY_IMPL_(EL_CONCAT_(el_try_, __LINE__), lhs, expr)
#define EL_TRY_IMPL_(tmp, lhs, expr)                            \
  auto tmp = (expr);                                            \
  if (!tmp.has_value()) return std::unexpected(std::move(tmp).error()); \
  lhs = std::move(tmp).value()

// EL_CHECK(expr);  returns the error of a Status/Result, if any.
#define EL_CHECK(expr)                                                        \
  do {                                                                        \
    auto el_check_ = (expr);                                                  \
    if (!el_check_.has_value()) return std::unexpected(std::move(el_check_).error()); \
  } while (0)
