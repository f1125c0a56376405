// SHA-256 (FIPS 180-4) by Nettle: no library initialisation, and its x86_64
// SHA-NI code is as fast as OpenSSL's (1.1 GB/s here), while loading
// OpenSSL 3's libcrypto and its provider machinery cost about 3 MB of
// resident memory in every icotes process (bench/results/search.md).
#include <nettle/sha2.h>

#include "icotes/files.hpp"
#include "icotes/hex.hpp"

namespace icotes::files {

std::string sha256_hex(std::string_view data) {
  std::uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
  sha256_digest(&ctx, sizeof digest, digest);
  return hex_encode(digest, sizeof digest);
}

std::string mime_type_for(std::string_view path, bool binary) {
  const std::size_t dot = path.rfind('.');
  const std::size_t slash = path.rfind('/');
  std::string ext;
  if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
    for (char c : path.substr(dot + 1)) ext.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  struct Entry {
    const char* ext;
    const char* mime;
  };
  static constexpr Entry table[] = {
      {"c", "text/x-c"},          {"h", "text/x-c"},          {"cc", "text/x-c++"},       {"cpp", "text/x-c++"},
      {"cxx", "text/x-c++"},      {"hpp", "text/x-c++"},      {"hh", "text/x-c++"},       {"py", "text/x-python"},
      {"js", "text/javascript"},  {"mjs", "text/javascript"}, {"ts", "text/x-typescript"}, {"json", "application/json"},
      {"md", "text/markdown"},    {"txt", "text/plain"},      {"html", "text/html"},      {"css", "text/css"},
      {"xml", "application/xml"}, {"yaml", "application/yaml"}, {"yml", "application/yaml"}, {"toml", "application/toml"},
      {"sh", "text/x-shellscript"}, {"rs", "text/x-rust"},    {"go", "text/x-go"},        {"java", "text/x-java"},
      {"png", "image/png"},       {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},     {"gif", "image/gif"},
      {"svg", "image/svg+xml"},   {"pdf", "application/pdf"}, {"zip", "application/zip"}, {"gz", "application/gzip"},
      {"wasm", "application/wasm"},
  };
  for (const auto& e : table) {
    if (ext == e.ext) return e.mime;
  }
  return binary ? "application/octet-stream" : "text/plain";
}

}  // namespace icotes::files
