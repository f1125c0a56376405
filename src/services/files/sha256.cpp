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

}  // namespace icotes::files
