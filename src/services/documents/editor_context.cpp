// EditorContexts: the latest icotes/editor/context of each attached editor.
#include "icotes/editor_context.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>

#include "icotes/utf8.hpp"

namespace icotes {
namespace {

std::string clip(std::string_view s, std::size_t max, bool* cut = nullptr) {
  if (s.size() <= max) return std::string(s);
  if (cut) *cut = true;
  return std::string(s.substr(0, utf8_complete_prefix(s.substr(0, max))));
}

std::optional<json> position(const json& j) {
  if (!j.is_object()) return std::nullopt;
  auto l = j.find("line"), c = j.find("character");
  // Non-negative integers that fit LSP's uinteger (0 to 2^31 - 1).
  auto ok = [](const json& v) {
    return v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() <= INT32_MAX;
  };
  if (l == j.end() || c == j.end() || !ok(*l) || !ok(*c)) return std::nullopt;
  return json{{"line", l->get<std::uint32_t>()}, {"character", c->get<std::uint32_t>()}};
}

std::optional<json> range(const json& j) {
  if (!j.is_object() || !j.contains("start") || !j.contains("end")) return std::nullopt;
  auto s = position(j["start"]), e = position(j["end"]);
  if (!s || !e) return std::nullopt;
  return json{{"start", *s}, {"end", *e}};
}

std::optional<json> selection(const json& j) {
  auto r = range(j);
  if (!r) return std::nullopt;
  bool cut = j.value("truncated", false) == true;
  const json& t = j.contains("text") && j["text"].is_string() ? j["text"] : json("");
  (*r)["text"] = clip(t.get_ref<const std::string&>(), EditorContexts::kSelectionBytes, &cut);
  if (cut) (*r)["truncated"] = true;
  return r;
}

const json& array_of(const json& j, const char* key) {
  static const json empty = json::array();
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : empty;
}

std::string rfc3339(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string pos_text(const json& p) {
  return std::to_string(p.value("line", 0u) + 1) + ":" + std::to_string(p.value("character", 0u) + 1);
}

std::string range_text(const json& r) { return pos_text(r["start"]) + "-" + pos_text(r["end"]); }

using RelOf = EditorContexts::RelOf;

std::optional<std::string> rel_path(const json& u, const RelOf& rel_of) {
  if (!u.is_string()) return std::nullopt;
  return rel_of(u.get_ref<const std::string&>());
}

// The active file's part of a context: its path, language and selections.
void put_active_file(json& c, const json& params, const std::string& file) {
  c["file"] = file;
  if (auto l = params.find("languageId"); l != params.end() && l->is_string())
    c["languageId"] = clip(l->get<std::string>(), 64);
  json sels = json::array();
  for (const auto& s : array_of(params, "selections")) {
    if (sels.size() >= EditorContexts::kSelections) break;
    if (auto v = selection(s)) sels.push_back(std::move(*v));
  }
  if (auto s = params.find("selection"); s != params.end()) {
    if (auto v = selection(*s)) c["selection"] = std::move(*v);
  }
  if (!c.contains("selection") && !sels.empty()) c["selection"] = sels[0];
  if (sels.size() > 1) c["selections"] = std::move(sels);
}

json visible_ranges(const json& params, const RelOf& rel_of) {
  json visible = json::array();
  for (const auto& v : array_of(params, "visibleRanges")) {
    if (visible.size() >= EditorContexts::kVisibleRanges) break;
    if (!v.is_object()) continue;
    auto p = rel_path(v.value("uri", json()), rel_of);
    auto r = range(v.value("range", json()));
    if (p && r) visible.push_back({{"path", *p}, {"range", *r}});
  }
  return visible;
}

json open_tabs(const json& params, const RelOf& rel_of) {
  json tabs = json::array();
  const json& open = params.contains("openBuffers") ? array_of(params, "openBuffers") : array_of(params, "openTabs");
  for (const auto& t : open) {
    if (tabs.size() >= EditorContexts::kTabs) break;
    if (auto p = rel_path(t, rel_of); p && std::find(tabs.begin(), tabs.end(), json(*p)) == tabs.end())
      tabs.push_back(*p);
  }
  return tabs;
}

json diagnostics(const json& params, const RelOf& rel_of) {
  json diags = json::array();
  for (const auto& d : array_of(params, "diagnostics")) {
    if (diags.size() >= EditorContexts::kDiagnostics) break;
    if (!d.is_object()) continue;
    auto p = rel_path(d.value("uri", json()), rel_of);
    auto r = range(d.value("range", json()));
    if (!p || !r || !d.contains("message") || !d["message"].is_string()) continue;
    json o = {
        {"path", *p}, {"range", *r}, {"message", clip(d["message"].get<std::string>(), EditorContexts::kMessageBytes)}};
    if (auto s = d.find("severity"); s != d.end() && s->is_number_integer()) o["severity"] = s->get<int>();
    if (auto s = d.find("source"); s != d.end() && s->is_string()) o["source"] = clip(s->get<std::string>(), 64);
    diags.push_back(std::move(o));
  }
  return diags;
}

}  // namespace

void EditorContexts::update(const void* owner, const std::string& client, const json& params, const RelOf& rel_of) {
  if (!params.is_object()) return;
  json c = json::object();
  std::optional<std::string> file;
  if (auto u = params.find("uri"); u != params.end()) file = rel_path(*u, rel_of);
  if (file) put_active_file(c, params, *file);
  c["visibleRanges"] = visible_ranges(params, rel_of);
  c["openTabs"] = open_tabs(params, rel_of);
  c["diagnostics"] = diagnostics(params, rel_of);
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::lock_guard lock(mu_);
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.owner == owner; });
  if (it != entries_.end()) entries_.erase(it);
  entries_.insert(entries_.begin(), Entry{owner, clip(client, 100), now, std::move(c)});
}

void EditorContexts::remove(const void* owner) {
  std::lock_guard lock(mu_);
  std::erase_if(entries_, [&](const Entry& e) { return e.owner == owner; });
}

json EditorContexts::list(const ReadFilter& read_denied) const {
  std::vector<Entry> copy;
  {
    std::lock_guard lock(mu_);
    copy = entries_;
  }
  auto denied = [&](const json& p) {
    return read_denied && p.is_string() && read_denied(p.get_ref<const std::string&>());
  };
  json out = json::array();
  for (auto& e : copy) {
    json c = std::move(e.context);
    if (c.contains("file") && denied(c["file"])) {
      for (const char* k : {"file", "languageId", "selection", "selections"}) c.erase(k);
    }
    for (const char* k : {"visibleRanges", "diagnostics"}) {
      json kept = json::array();
      for (auto& v : c[k])
        if (!denied(v["path"])) kept.push_back(std::move(v));
      c[k] = std::move(kept);
    }
    json tabs = json::array();
    for (auto& t : c["openTabs"])
      if (!denied(t)) tabs.push_back(std::move(t));
    c["openTabs"] = std::move(tabs);
    c["client"] = e.client;
    c["updated"] = rfc3339(e.updated_ms);
    out.push_back(std::move(c));
  }
  return out;
}

namespace {

// The active file and its selection of one editor, as render_editor_context writes it.
void render_active_file(std::string& t, const json& e) {
  if (!e.contains("file")) {
    t += "no file of the workspace is active\n";
    return;
  }
  const std::string file = e["file"].get<std::string>();
  auto sel = e.find("selection");
  if (sel == e.end()) {
    t += file + " (active)\n";
  } else {
    const std::string text = sel->value("text", std::string());
    const bool empty = text.empty();
    t += file + ":" + (empty ? pos_text((*sel)["start"]) + " (cursor)" : range_text(*sel) + " (selected)") + "\n";
    if (!empty) {
      t += text;
      if (text.back() != '\n') t += "\n";
      if (sel->value("truncated", false)) t += "[selection truncated]\n";
    }
  }
  if (auto s = e.find("selections"); s != e.end() && s->size() > 1)
    t += std::to_string(s->size() - 1) + " more selections\n";
}

void render_visible(std::string& t, const json& v) {
  if (!v.is_array() || v.empty()) return;
  t += "visible:";
  for (const auto& r : v) {
    const json& rr = r["range"];
    t += " " + r.value("path", std::string()) + ":" + std::to_string(rr["start"].value("line", 0u) + 1) + "-" +
         std::to_string(rr["end"].value("line", 0u) + 1);
  }
  t += "\n";
}

void render_tabs(std::string& t, const json& tabs) {
  if (!tabs.is_array() || tabs.empty()) return;
  t += "open tabs:\n";
  for (const auto& p : tabs) t += "- " + p.get<std::string>() + "\n";
}

void render_diagnostics(std::string& t, const json& d) {
  if (!d.is_array() || d.empty()) return;
  t += "diagnostics:\n";
  static const char* kSeverity[] = {"", "error", "warning", "info", "hint"};
  for (const auto& x : d) {
    const int s = x.value("severity", 0);
    t += "- " + x.value("path", std::string()) + ":" + pos_text(x["range"]["start"]) + ": " +
         (s >= 1 && s <= 4 ? std::string(kSeverity[s]) + ": " : std::string()) + x.value("message", std::string()) +
         "\n";
  }
}

}  // namespace

std::string render_editor_context(const json& result) {
  const json& editors = result.contains("editors") && result["editors"].is_array() ? result["editors"] : json::array();
  if (editors.empty())
    return "No editor context: no editor attached to this workspace sends it (the icotes VS Code extension and "
           "Neovim plugin do).\n";
  std::string t;
  for (const auto& e : editors) {
    std::string name = e.value("client", std::string());
    t += "editor: " + (name.empty() ? std::string("unnamed") : name) + " (updated " +
         e.value("updated", std::string()) + ")\n";
    render_active_file(t, e);
    render_visible(t, e["visibleRanges"]);
    render_tabs(t, e["openTabs"]);
    render_diagnostics(t, e["diagnostics"]);
  }
  return t;
}

}  // namespace icotes
