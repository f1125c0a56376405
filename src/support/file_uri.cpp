// file:// URIs (RFC 8089) and the root an LSP client names. See
// include/support/icotes/file_uri.hpp.
#include "icotes/file_uri.hpp"

#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "icotes/hex.hpp"

namespace icotes {

std::string percent_encode_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xF]);
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

Result<std::string> path_of_file_uri(std::string_view uri) {
  constexpr std::string_view scheme = "file://";
  if (uri.substr(0, scheme.size()) != scheme)
    return make_error(error_code::kInvalidParams, "'" + std::string(uri) + "' is not a file:// URI");
  std::string_view rest = uri.substr(scheme.size());
  if (rest.substr(0, 9) == "localhost") rest.remove_prefix(9);
  if (rest.empty() || rest.front() != '/')
    return make_error(error_code::kInvalidParams,
                      "'" + std::string(uri) + "' names a remote host; only local files are served");
  if (const std::size_t q = rest.find_first_of("?#"); q != std::string_view::npos) rest = rest.substr(0, q);
  auto path = percent_decode(rest);
  if (!path) return make_error(error_code::kInvalidParams, "'" + std::string(uri) + "' has a malformed %-escape");
  return *path;
}

std::optional<std::string> client_root_of_initialize(const json& message) {
  if (!message.is_object() || message.value("method", json()) != "initialize") return std::nullopt;
  const json* p = message.contains("params") && message["params"].is_object() ? &message["params"] : nullptr;
  if (p == nullptr) return std::nullopt;
  std::vector<std::string> candidates;
  if (auto f = p->find("workspaceFolders"); f != p->end() && f->is_array() && !f->empty()) {
    const json& first = f->front();
    if (first.is_object() && first.contains("uri") && first["uri"].is_string()) {
      if (auto path = path_of_file_uri(first["uri"].get<std::string>())) candidates.push_back(*path);
    }
  }
  if (auto r = p->find("rootUri"); r != p->end() && r->is_string()) {
    if (auto path = path_of_file_uri(r->get<std::string>())) candidates.push_back(*path);
  }
  if (auto r = p->find("rootPath"); r != p->end() && r->is_string() && !r->get_ref<const std::string&>().empty())
    candidates.push_back(r->get<std::string>());
  for (const auto& c : candidates) {
    std::error_code ec;
    if (!c.empty() && c.front() == '/' && std::filesystem::is_directory(c, ec)) return c;
  }
  return std::nullopt;
}

}  // namespace icotes
