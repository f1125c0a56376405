// JSON-RPC envelopes for the HTTP door (envelope.hpp).
#include "envelope.hpp"

#include <optional>

#include "icotes/json.hpp"  // is_request_id (inline: the module links no icotes code)

namespace icotes::http {
namespace {

using json = nlohmann::json;

class EnvelopeReader final : public nlohmann::json_sax<json> {
 public:
  bool null() override { return value("null"); }
  bool boolean(bool v) override { return value(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return value(json(v).dump()); }
  bool number_unsigned(number_unsigned_t v) override { return value(json(v).dump()); }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v).dump()); }
  bool string(string_t& v) override { return value(json(v).dump()); }
  bool binary(binary_t&) override { return value(""); }
  bool start_object(std::size_t) override {
    const bool member_value = depth_ == member_depth() && !key_.empty();
    ++depth_;
    if (depth_ == member_depth()) objects_.push_back({});
    if (member_value) key_.clear();
    return true;
  }
  bool end_object() override {
    if (depth_ == member_depth()) finish_object();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0)
      batch_ = true;
    else if (depth_ == member_depth())
      key_.clear();
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ != member_depth()) return true;
    key_ = k;
    auto& o = objects_.back();
    if (k == "result" || k == "error") o.response = true;
    if (k == "method" || k == "params") o.request = true;
    // A single message is decided once its id and kind are known.
    return batch_ || !(o.request || (o.response && o.id));
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    error_ = true;
    return false;
  }

  // The envelope, once sax_parse returned (true, or false because a key()
  // stopped it early).
  Envelope envelope() const {
    Envelope e;
    if (error_ || objects_.empty()) return e;
    e.valid = true;
    const auto& first = objects_.front();
    e.response = first.response && !first.request && first.id.has_value();
    for (const auto& o : objects_)
      if (o.id) e.ids.push_back(*o.id);
    return e;
  }

 private:
  struct Object {
    std::optional<std::string> id;
    bool response = false, request = false;
  };
  std::size_t member_depth() const { return batch_ ? 2 : 1; }
  bool value(std::string dumped) {
    if (depth_ == member_depth() && key_ == "id") {
      objects_.back().id = std::move(dumped);
      auto& o = objects_.back();
      key_.clear();
      return batch_ || !(o.request || o.response);
    }
    if (depth_ == member_depth()) key_.clear();
    return true;
  }
  void finish_object() { key_.clear(); }

  std::size_t depth_ = 0;
  bool batch_ = false;
  bool error_ = false;
  std::string key_;
  std::vector<Object> objects_;
};

}  // namespace

Envelope envelope_of(const std::string& message) {
  EnvelopeReader reader;
  (void)json::sax_parse(message, &reader);
  return reader.envelope();
}

PostMessages read_post(const json& body) {
  PostMessages out;
  std::vector<const json*> messages;
  if (body.is_array())
    for (const auto& m : body) messages.push_back(&m);
  else
    messages.push_back(&body);
  for (const json* message : messages) {
    const json& m = *message;
    if (!m.is_object()) continue;
    if (const auto id = m.find("id"); id != m.end() && !is_request_id(*id)) {
      out.bad_id = true;
      return out;
    }
    if (m.contains("method") && m.contains("id")) out.ids.insert(m["id"].dump());
    if (const auto mt = m.find("method"); mt != m.end() && *mt == "initialize") out.initialize = true;
    const json* meta = m.contains("params") && m["params"].is_object() && m["params"].contains("_meta")
                           ? &m["params"]["_meta"]
                           : nullptr;
    if (meta && meta->is_object() && meta->contains("io.modelcontextprotocol/protocolVersion") &&
        (*meta)["io.modelcontextprotocol/protocolVersion"].is_string())
      out.meta_version = (*meta)["io.modelcontextprotocol/protocolVersion"].get<std::string>();
  }
  return out;
}

}  // namespace icotes::http
