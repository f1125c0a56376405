#include "icotes/schema.hpp"

// Without this valijson reports a malformed schema with abort(), not an exception.
#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include <cctype>
#include <stdexcept>

namespace icotes {

struct SchemaValidator::Impl {
  valijson::Schema schema;
  json source;
};

SchemaValidator::SchemaValidator(const json& schema) : impl_(std::make_unique<Impl>()) {
  impl_->source = schema;
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  valijson::adapters::NlohmannJsonAdapter adapter(impl_->source);
  try {
    parser.populateSchema(adapter, impl_->schema);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("invalid JSON Schema: ") + e.what());
  }
}

SchemaValidator::~SchemaValidator() = default;

namespace {

// valijson's context is {"<root>", "[member]", "[0]", ...}; RFC 6901 escapes '~' and '/'.
std::string to_pointer(const std::vector<std::string>& context) {
  std::string out;
  for (const auto& part : context) {
    if (part == "<root>") continue;
    std::string_view p = part;
    if (p.size() >= 2 && p.front() == '[' && p.back() == ']') p = p.substr(1, p.size() - 2);
    out.push_back('/');
    for (char c : p) {
      if (c == '~')
        out += "~0";
      else if (c == '/')
        out += "~1";
      else
        out.push_back(c);
    }
  }
  return out;
}

const json* subschema_at(const json& schema, const std::vector<std::string>& context) {
  const json* s = &schema;
  for (const auto& part : context) {
    if (part == "<root>") continue;
    std::string key = part.size() >= 2 ? part.substr(1, part.size() - 2) : part;
    if (s->contains("properties") && (*s)["properties"].contains(key)) {
      s = &(*s)["properties"][key];
    } else if (s->contains("items") && !key.empty() && std::isdigit(static_cast<unsigned char>(key[0]))) {
      s = &(*s)["items"];
    } else {
      return nullptr;
    }
  }
  return s;
}

std::string json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    default:
      return v.type_name();
  }
}

const json* value_at(const json& value, const std::string& pointer) {
  try {
    const json::json_pointer p(pointer);
    return value.contains(p) ? &value.at(p) : nullptr;
  } catch (const json::exception&) {
    return nullptr;
  }
}

// "expected an integer from 1 to 1000, got 0" when number `actual` is outside its schema's bounds.
std::optional<std::string> out_of_bounds(const json& sub, const json& actual) {
  if (!sub.contains("minimum") && !sub.contains("maximum")) return std::nullopt;
  const double v = actual.get<double>();
  const json* lo = sub.contains("minimum") && sub["minimum"].is_number() ? &sub["minimum"] : nullptr;
  const json* hi = sub.contains("maximum") && sub["maximum"].is_number() ? &sub["maximum"] : nullptr;
  if (!(lo && v < lo->get<double>()) && !(hi && v > hi->get<double>())) return std::nullopt;
  const std::string kind = sub.value("type", json()) == "integer" ? "an integer" : "a number";
  const std::string range = lo && hi ? " from " + lo->dump() + " to " + hi->dump()
                            : lo     ? " of at least " + lo->dump()
                                     : " of at most " + hi->dump();
  return "expected " + kind + range + ", got " + actual.dump();
}

// The names of a subschema's properties, ", "-separated ("" when it has none).
std::string allowed_properties(const json* sub) {
  std::string allowed;
  if (!sub || !sub->contains("properties")) return allowed;
  for (const auto& [key, unused] : (*sub)["properties"].items()) {
    if (!allowed.empty()) allowed += ", ";
    allowed += key;
  }
  return allowed;
}

// A member name as a JSON Pointer reference token (RFC 6901: '~' as "~0", '/' as "~1").
std::string pointer_token(const std::string& name) {
  std::string escaped;
  for (char c : name) {
    if (c == '~')
      escaped += "~0";
    else if (c == '/')
      escaped += "~1";
    else
      escaped += c;
  }
  return escaped;
}

// "expected string, got number" for type mismatches; valijson's text otherwise.
std::string describe(const json& schema, const json& value, const std::vector<std::string>& context,
                     const std::string& pointer, const std::string& fallback) {
  const json* sub = subschema_at(schema, context);
  const json* actual = value_at(value, pointer);
  if (sub && actual && fallback.find("'type'") != std::string::npos && sub->contains("type")) {
    const json& type = (*sub)["type"];  // "string", or a union such as ["string", "null"]
    return "expected " + (type.is_string() ? type.get<std::string>() : type.dump()) + ", got " +
           json_type_name(*actual);
  }
  if (sub && actual && fallback.find("enum") != std::string::npos && sub->contains("enum")) {
    return "expected one of " + (*sub)["enum"].dump() + ", got " + actual->dump();
  }
  // A number out of bounds: the bounds as the schema writes them (valijson
  // prints them as doubles, "1000.000000"). MCP's tools/list leaves bounds
  // out, so this message is where a model learns them.
  if (sub && actual && actual->is_number())
    if (auto bounds = out_of_bounds(*sub, *actual)) return std::move(*bounds);
  if (sub && actual && actual->is_string() && fallback.find("'pattern'") != std::string::npos &&
      sub->contains("pattern") && (*sub)["pattern"].is_string()) {
    return "expected a string matching " + (*sub)["pattern"].get<std::string>();
  }
  return fallback;
}

}  // namespace

std::optional<Error> SchemaValidator::validate(const json& value, std::string_view what) const {
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(value);
  if (validator.validate(impl_->schema, adapter, &results)) return std::nullopt;
  // valijson reports the outermost failure first ("failed to validate
  // against schema associated with property"); the innermost is the useful one.
  json errors = json::array();
  std::string pointer;
  std::string expected;
  std::size_t depth = 0;
  valijson::ValidationResults::Error err;
  while (results.popError(err)) {
    const std::string p = to_pointer(err.context);
    errors.push_back({{"pointer", p}, {"message", err.description}});
    if (expected.empty() || err.context.size() > depth) {
      depth = err.context.size();
      pointer = p;
      expected = describe(impl_->source, value, err.context, p, err.description);
      // An unknown member: point at it and list the allowed ones.
      constexpr std::string_view kExtra = "'additionalProperties' constraints: '";
      if (const std::size_t at = err.description.find(kExtra); at != std::string::npos) {
        const std::size_t from = at + kExtra.size();
        const std::string name = err.description.substr(from, err.description.rfind('\'') - from);
        const std::string allowed = allowed_properties(subschema_at(impl_->source, err.context));
        pointer.assign(p).append("/").append(pointer_token(name));
        expected.assign("unknown property '").append(name).append("'");
        if (!allowed.empty()) expected.append(" (allowed: ").append(allowed).append(")");
      }
    }
  }
  std::string message =
      "invalid " + std::string(what) + ": " + (pointer.empty() ? "(root)" : pointer) + ": " + expected;
  return make_error(error_code::kInvalidParams, std::move(message),
                    json{{"pointer", pointer}, {"expected", expected}, {"errors", errors}});
}

}  // namespace icotes
