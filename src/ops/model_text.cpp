// What a model reads of operations: a result's text (render_text), its cut
// at the client's cap (cut_text, cut_note) and the listed tool schema
// (listed_input_schema). See include/ops/icotes/model_text.hpp.
#include "icotes/model_text.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace icotes::mcp {
namespace {

bool is_raw_part(const json& v) {
  if (!v.is_binary()) return false;
  const auto& bin = v.get_binary();
  return bin.has_subtype() && (bin.subtype() == kRawJsonSubtype || bin.subtype() == kRawSourceSubtype);
}

bool is_multiline(const json& v) {
  return v.is_string() && v.get_ref<const std::string&>().find('\n') != std::string::npos;
}

// A value written on the line of its key.
bool is_inline(const json& v) {
  return (v.is_string() && !is_multiline(v)) || v.is_number() || v.is_boolean() || v.is_null();
}

bool is_flat_object(const json& v) {
  if (!v.is_object() || v.empty()) return false;
  return std::all_of(v.begin(), v.end(), [](const json& m) { return is_inline(m) || hidden_text_of(m); });
}

std::string scalar_text(const json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return s.empty() ? std::string("\"\"") : s;
  }
  if (v.is_null()) return "null";
  return v.dump();  // numbers and booleans
}

std::string with_commas(std::size_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Members in reading order: what names the thing first, then the rest by
// name, the note last. Hidden members and `skip` are left out.
std::vector<std::pair<std::string_view, const json*>> ordered(const json& object, std::string_view skip = {}) {
  static constexpr std::array<std::string_view, 4> kFirst = {"id", "path", "name", "title"};
  std::vector<std::pair<std::string_view, const json*>> out;
  for (auto key : kFirst)
    if (auto it = object.find(key); it != object.end() && !hidden_text_of(*it) && key != skip)
      out.emplace_back(key, &*it);
  const json* note = nullptr;
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    if (key == skip || hidden_text_of(*it) || std::find(kFirst.begin(), kFirst.end(), key) != kFirst.end()) continue;
    if (key == "note") {
      note = &*it;
      continue;
    }
    out.emplace_back(key, &*it);
  }
  if (note) out.emplace_back("note", note);
  return out;
}

// `limit`: stop adding lines once `out` holds more bytes than this (the text
// is cut there anyway).
void emit_value(std::string& out, std::string_view key, const json& v, std::size_t indent, std::size_t limit);

// The lines of a string of several lines, each indented (a block).
void emit_block(std::string& out, std::string_view text, std::size_t indent, std::size_t limit) {
  std::size_t start = 0;
  while (start < text.size() && out.size() <= limit) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out.append(indent, ' ');
    out.append(text.substr(start, end - start));
    out += '\n';
    start = end + 1;
  }
}

// One line: "a: 1, b: x".
std::string flat_line(const json& object) {
  std::string line;
  for (const auto& [key, value] : ordered(object)) {
    if (!line.empty()) line += ", ";
    line.append(key);
    line += ": ";
    line += scalar_text(*value);
  }
  return line;
}

void emit_item(std::string& out, const json& item, std::size_t indent, std::size_t limit) {
  if (is_inline(item)) {
    out.append(indent, ' ');
    out += scalar_text(item) + '\n';
  } else if (is_flat_object(item)) {
    out.append(indent, ' ');
    out += flat_line(item) + '\n';
  } else if (item.is_object()) {
    // YAML-like: "- " before the first member, the rest beneath it.
    const std::size_t at = out.size();
    for (const auto& [key, value] : ordered(item)) emit_value(out, key, *value, indent + 2, limit);
    if (out.size() > at + indent + 1) out.replace(at + indent, 2, "- ");
  } else {
    const std::size_t at = out.size();
    emit_value(out, "", item, indent + 2, limit);
    if (out.size() > at + indent + 1) out.replace(at + indent, 2, "- ");
  }
}

void emit_array(std::string& out, std::string_view key, const json& array, std::size_t indent, std::size_t limit) {
  out.append(indent, ' ');
  if (!key.empty()) out.append(key);
  if (array.empty()) {
    out += key.empty() ? "(none)\n" : ": (none)\n";
    return;
  }
  if (std::all_of(array.begin(), array.end(), is_inline)) {
    std::string joined;
    bool plain = true;
    for (const auto& item : array) {
      const std::string s = scalar_text(item);
      plain = plain && s.find(", ") == std::string::npos;
      if (!joined.empty()) joined += ", ";
      joined += s;
    }
    if (plain && joined.size() <= 60) {
      out += (key.empty() ? "" : ": ") + joined + '\n';
      return;
    }
  }
  out += (key.empty() ? "(" : " (") + with_commas(array.size()) + "):\n";
  for (const auto& item : array) {
    if (out.size() > limit) return;
    emit_item(out, item, indent + 2, limit);
  }
}

void emit_value(std::string& out, std::string_view key, const json& v, std::size_t indent, std::size_t limit) {
  if (hidden_text_of(v) || out.size() > limit) return;
  if (v.is_array()) return emit_array(out, key, v, indent, limit);
  out.append(indent, ' ');
  if (!key.empty()) {
    out.append(key);
    out += ':';
  }
  if (v.is_object()) {
    if (v.empty()) {
      out += " (none)\n";
      return;
    }
    out += '\n';
    for (const auto& [k, m] : ordered(v)) emit_value(out, k, *m, indent + 2, limit);
  } else if (is_multiline(v)) {
    out += key.empty() ? "|\n" : " |\n";
    emit_block(out, v.get_ref<const std::string&>(), indent + 2, limit);
  } else if (v.is_binary()) {
    out += " (binary)\n";
  } else {
    out += (key.empty() ? "" : " ") + scalar_text(v) + '\n';
  }
}

// An image member {mimeType, data (base64)} the dialect sends as a block.
bool is_image(const json& v) {
  return v.is_object() && v.contains("mimeType") && v["mimeType"].is_string() && v.contains("data") &&
         v["data"].is_string();
}

bool is_paging_param(std::string_view name) {
  if (name == "offset" || name == "limit" || name == "cursor") return true;
  return name.size() > 3 && name.substr(0, 3) == "max" && name[3] >= 'A' && name[3] <= 'Z';
}

// The header line standing for an image attached beside the text: its type
// and decoded size (from the base64 length and its padding).
void append_image_line(std::string& out, const json& image) {
  const std::string& data = image["data"].get_ref<const std::string&>();
  std::size_t bytes = data.size() / 4 * 3;
  if (!data.empty() && data.back() == '=') bytes -= data.size() > 1 && data[data.size() - 2] == '=' ? 2 : 1;
  out += "image: ";
  out += image["mimeType"].get_ref<const std::string&>();
  out += ", ";
  out += with_commas(bytes);
  out += " bytes (attached as an image)\n";
}

// Without the "x-..." keys, and unless `full` the keywords that only
// validate, in `s` and every schema within it (properties' schemas, array
// items, additionalProperties, combinators).
void strip_schema(json& s, bool full) {
  if (!s.is_object()) return;
  for (auto it = s.begin(); it != s.end();) {
    if (it.key().rfind("x-", 0) == 0)
      it = s.erase(it);
    else
      ++it;
  }
  if (!full) {
    // additionalProperties as a schema (a map's value type) says what to send; true or false only allows or refuses.
    if (auto ap = s.find("additionalProperties"); ap != s.end() && ap->is_boolean()) s.erase(ap);
    for (const char* k :
         {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
          "pattern", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties"})
      s.erase(k);
  }
  if (auto props = s.find("properties"); props != s.end() && props->is_object())
    for (auto& p : *props) strip_schema(p, full);
  if (auto items = s.find("items"); items != s.end()) strip_schema(*items, full);
  if (auto ap = s.find("additionalProperties"); ap != s.end()) strip_schema(*ap, full);
  for (const char* k : {"anyOf", "oneOf", "allOf"})
    if (auto list = s.find(k); list != s.end() && list->is_array())
      for (auto& alt : *list) strip_schema(alt, full);
}

// `schema` without the top-level properties `hidden` names (Operation::mcp_hidden),
// in "properties" and "required".
void hide_properties(json& schema, const std::vector<std::string>& hidden) {
  if (auto props = schema.find("properties"); props != schema.end() && props->is_object())
    for (const auto& name : hidden) props->erase(name);
  if (auto req = schema.find("required"); req != schema.end() && req->is_array()) {
    json kept = json::array();
    for (const auto& r : *req)
      if (std::find(hidden.begin(), hidden.end(), r) == hidden.end()) kept.push_back(r);
    if (kept.empty())
      schema.erase(req);
    else
      *req = std::move(kept);
  }
}

}  // namespace

json listed_input_schema(const Operation& op, bool full) {
  json schema = op.input_schema;
  strip_schema(schema, full);
  if (!full && !op.mcp_hidden.empty()) hide_properties(schema, op.mcp_hidden);
  return schema;
}

std::string render_text(const json& result, std::string_view text_member, std::size_t limit) {
  std::string out;
  if (result.is_string()) return result.get<std::string>();
  if (!result.is_object()) {
    emit_value(out, "", result, 0, limit);
    return out;
  }
  // Header lines first (every host keeps the beginning of a long result),
  // then lists and objects, then blocks of text.
  const auto members = ordered(result, text_member);
  for (const auto& [key, value] : members) {
    if (key == "image" && is_image(*value)) {
      append_image_line(out, *value);
    } else if (is_inline(*value)) {
      emit_value(out, key, *value, 0, limit);
    }
  }
  for (const auto& [key, value] : members)
    if ((value->is_array() || value->is_object()) && !(key == "image" && is_image(*value)))
      emit_value(out, key, *value, 0, limit);
  for (const auto& [key, value] : members) {
    if (!is_multiline(*value)) continue;
    out.append(key);
    out += ":\n";
    out += value->get_ref<const std::string&>();
    if (out.back() != '\n') out += '\n';
  }
  if (!text_member.empty()) {
    if (auto it = result.find(text_member);
        it != result.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      if (!out.empty()) out += '\n';
      out += it->get_ref<const std::string&>();
    }
  }
  return out;
}

void expand_raw_parts(json& value) {
  if (is_raw_part(value)) {
    std::string text;
    write_json(text, value);
    value = json::parse(text);
    return;
  }
  if (value.is_object() || value.is_array())
    for (auto& member : value) expand_raw_parts(member);
}

std::string cut_text(std::string text, std::size_t max_bytes, std::string_view note) {
  if (text.size() <= max_bytes) return text;
  const std::size_t room = max_bytes > note.size() + 1 ? max_bytes - note.size() - 1 : 0;
  std::size_t end = room == 0 ? std::string::npos : text.rfind('\n', room - 1);
  if (end != std::string::npos && end + 1 >= room / 2) {
    text.resize(end + 1);
  } else {
    // One line longer than half the room: cut inside it, between characters.
    end = room;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    text.resize(end);
    text += '\n';
  }
  text += note;
  return text;
}

std::string cut_note(const Operation& op, std::size_t max_bytes) {
  std::vector<std::string> params;
  if (auto props = op.input_schema.find("properties"); props != op.input_schema.end() && props->is_object()) {
    for (const char* first : {"offset", "limit", "cursor"})
      if (props->contains(first)) params.emplace_back(first);
    for (auto it = props->begin(); it != props->end(); ++it)
      if (is_paging_param(it.key()) && std::find(params.begin(), params.end(), it.key()) == params.end())
        params.push_back(it.key());
  }
  std::string how;
  for (std::size_t i = 0; i < params.size(); ++i) {
    how += i == 0 ? "" : i + 1 == params.size() ? " or " : ", ";
    how += params[i];
  }
  return "[icotes: result cut at this client's limit of " + with_commas(max_bytes) +
         " bytes (icotes serve --max-result-bytes). Call " + op.mcp_name + " again asking for less" +
         (how.empty() ? std::string(" (narrower arguments)") : " (" + how + ")") + ".]";
}

}  // namespace icotes::mcp
