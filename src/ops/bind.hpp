// Reading a call's params into typed structs, for the from_json functions
// beside each operation's params (src/ops/<service>_json.hpp) that
// Registry::add<Params> calls after the schema check (operation.hpp).
//
// The schema has already checked types, required members and ranges, so a
// failure here is a value the schema lets through that the field cannot hold
// (a schema gap): a ParamError naming the member (JSON Pointer, RFC 6901),
// never the JSON library's exception text. Absent members (and null ones) keep
// the default the caller passes: the schema's documented default.
#pragma once

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "icotes/json.hpp"
#include "icotes/operation.hpp"

namespace icotes::bind {

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
struct is_string_map : std::false_type {};
template <class T>
struct is_string_map<std::map<std::string, T>> : std::true_type {};

// "/name" with '~' and '/' escaped (RFC 6901 section 3).
inline std::string pointer_token(std::string_view name) {
  std::string out = "/";
  for (char c : name) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

template <class T>
std::string expected_integer() {
  return "an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
         std::to_string(std::numeric_limits<T>::max());
}

// `v` as an integral T, the value kept exactly; nullopt when it does not fit.
template <class T>
std::optional<T> integral(const json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (i < 0 || static_cast<std::uint64_t>(i) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
        return std::nullopt;
    } else {
      if (i < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
          i > static_cast<std::int64_t>(std::numeric_limits<T>::max()))
        return std::nullopt;
    }
    return static_cast<T>(i);
  }
  if (v.is_number_float()) {
    // JSON Schema's "integer" takes 5.0 (a number with a zero fraction).
    const double d = v.get<double>();
    if (std::trunc(d) != d || d < static_cast<double>(std::numeric_limits<T>::min()) ||
        d >= static_cast<double>(std::numeric_limits<T>::max()))
      return std::nullopt;
    return static_cast<T>(d);
  }
  return std::nullopt;
}

}  // namespace detail

/// Reads `v` into `out`; a failure is a ParamError at `pointer` (its members' pointers below it).
template <class T>
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one `if constexpr` case per kind of field
void read(const json& v, const std::string& pointer, T& out) {
  if constexpr (detail::is_optional<T>::value) {
    if (v.is_null()) {
      out.reset();
      return;
    }
    typename T::value_type inner{};
    read(v, pointer, inner);
    out = std::move(inner);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw ParamError(pointer, "a boolean");
    out = v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    const auto i = detail::integral<T>(v);
    if (!i) throw ParamError(pointer, detail::expected_integer<T>());
    out = *i;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw ParamError(pointer, "a string");
    out = v.get_ref<const std::string&>();
  } else if constexpr (std::is_same_v<T, json>) {
    out = v;
  } else if constexpr (detail::is_vector<T>::value) {
    if (!v.is_array()) throw ParamError(pointer, "an array");
    out.clear();
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      typename T::value_type item{};
      read(v[i], pointer + "/" + std::to_string(i), item);
      out.push_back(std::move(item));
    }
  } else if constexpr (detail::is_string_map<T>::value) {
    if (!v.is_object()) throw ParamError(pointer, "an object");
    out.clear();
    for (const auto& [name, item] : v.items()) {
      typename T::mapped_type value{};
      read(item, pointer + detail::pointer_token(name), value);
      out.emplace(name, std::move(value));
    }
  } else {
    // A struct with its own from_json: its ParamErrors are relative to it.
    if (!v.is_object()) throw ParamError(pointer, "an object");
    try {
      v.get_to(out);
    } catch (const ParamError& e) {
      throw ParamError(pointer + e.pointer, e.expected);
    } catch (const std::exception&) {
      throw ParamError(pointer, "an object of the schema's shape");
    }
  }
}

/// Member `name` of the object `j` into `out`; absent (or null) leaves `out`
/// as it is: the default the struct's field holds (the schema's default).
template <class T>
void member(const json& j, const char* name, T& out) {
  const auto it = j.find(name);
  if (it == j.end()) return;
  if (it->is_null() && !detail::is_optional<T>::value) return;
  read(*it, detail::pointer_token(name), out);
}

/// Member `name`, which the schema requires.
template <class T>
void required(const json& j, const char* name, T& out) {
  const auto it = j.find(name);
  if (it == j.end()) throw ParamError(detail::pointer_token(name), "a member the schema requires");
  read(*it, detail::pointer_token(name), out);
}

/// The params of an operation that takes none (its schema allows no member).
struct NoParams {};
inline void from_json(const json&, NoParams&) {}

}  // namespace icotes::bind
