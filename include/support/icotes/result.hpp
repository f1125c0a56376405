// Result<T>: a value or an Error, the way every service reports failure.
// Services never throw across layers; the rpc layer maps Error::code to a
// JSON-RPC error (JSON-RPC 2.0 section 5.1) or, for MCP tools, to a result
// with isError: true.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "icotes/json.hpp"

namespace icotes {

/// JSON-RPC 2.0 and LSP error codes (LSP 3.17 "ErrorCodes", "LSPErrorCodes").
namespace error_code {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerNotInitialized = -32002;
inline constexpr int kRequestFailed = -32803;
inline constexpr int kRequestCancelled = -32800;
inline constexpr int kContentModified = -32801;
// icotes' own codes (JSON-RPC reserves -32000..-32099 for implementations).
inline constexpr int kNotFound = -32001;
inline constexpr int kConflict = -32003;  // expectedSha256 mismatch, target exists
inline constexpr int kPermissionDenied = -32004;
inline constexpr int kOutsideWorkspace = -32005;
inline constexpr int kIoError = -32006;
inline constexpr int kFrameTooLarge = -32007;
}  // namespace error_code

struct Error {
  int code = error_code::kInternalError;
  std::string message;
  json data;  // null when absent
};

inline Error make_error(int code, std::string message, json data = nullptr) {
  return Error{code, std::move(message), std::move(data)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

}  // namespace icotes
