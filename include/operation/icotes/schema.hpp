// JSON Schema (draft-07) validation of operation params with valijson.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "icotes/json.hpp"
#include "icotes/result.hpp"

namespace icotes {

class SchemaValidator {
 public:
  /// Compiles `schema`. Throws std::runtime_error when it is not a valid schema.
  explicit SchemaValidator(const json& schema);
  ~SchemaValidator();
  SchemaValidator(const SchemaValidator&) = delete;
  SchemaValidator& operator=(const SchemaValidator&) = delete;

  /// nullopt when `value` conforms; else a -32602 error whose message names
  /// the JSON pointer (RFC 6901) of the first bad member and what was
  /// expected, and whose data is {pointer, expected, errors: [...]}.
  std::optional<Error> validate(const json& value, std::string_view what = "params") const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace icotes
