#include "rename_score.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace icotes::git {
namespace {

// diffcore-delta.c: HASHBASE, and git's "first few bytes" binary sniff
// (xdiff-interface.c, buffer_is_binary).
constexpr std::uint32_t kHashBase = 107927;
constexpr std::size_t kBinarySniff = 8000;

struct Signature {
  bool regular = true;   // git only scores regular files (symlinks: exact renames only)
  std::size_t size = 0;  // blob size in bytes
  std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;  // (hash, bytes), sorted by hash, merged
};

Signature* make_signature(const git_diff_file* file, const char* buf, std::size_t len) {
  auto* sig = new Signature;
  sig->regular = (file->mode & 0170000) == 0100000;
  sig->size = len;
  if (!sig->regular) return sig;
  const bool text = std::memchr(buf, 0, std::min(len, kBinarySniff)) == nullptr;
  std::uint32_t accum1 = 0, accum2 = 0, n = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(buf);
  std::size_t left = len;
  while (left) {
    const std::uint32_t c = *p++;
    const std::uint32_t old1 = accum1;
    --left;
    if (text && c == '\r' && left && *p == '\n') continue;
    accum1 = (accum1 << 7) ^ (accum2 >> 25);
    accum2 = (accum2 << 7) ^ (old1 >> 25);
    accum1 += c;
    if (++n < 64 && c != '\n') continue;
    sig->spans.emplace_back((accum1 + accum2 * 0x61) % kHashBase, n);
    n = accum1 = accum2 = 0;
  }
  if (n > 0) sig->spans.emplace_back((accum1 + accum2 * 0x61) % kHashBase, n);
  std::sort(sig->spans.begin(), sig->spans.end());
  std::size_t out = 0;
  for (std::size_t i = 0; i < sig->spans.size(); ++i) {
    if (out > 0 && sig->spans[out - 1].first == sig->spans[i].first) {
      sig->spans[out - 1].second += sig->spans[i].second;
    } else {
      sig->spans[out++] = sig->spans[i];
    }
  }
  sig->spans.resize(out);
  return sig;
}

int buffer_signature(void** out, const git_diff_file* file, const char* buf, size_t len, void*) {
  *out = make_signature(file, buf, len);
  return 0;
}

int file_signature(void** out, const git_diff_file* file, const char* path, void*) {
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  *out = make_signature(file, data.data(), data.size());
  return 0;
}

void free_signature(void* sig, void*) { delete static_cast<Signature*>(sig); }

// diffcore_count_changes: bytes of `dst` spans also in `src` (per hash, the
// smaller count); score = that / max(sizes), in whole percent (git's
// score * 100 / MAX_SCORE, whose threshold comparison this preserves).
int similarity(int* score, void* a, void* b, void*) {
  const auto* src = static_cast<const Signature*>(a);
  const auto* dst = static_cast<const Signature*>(b);
  *score = 0;
  const std::size_t max_size = std::max(src->size, dst->size);
  if (!src->regular || !dst->regular || max_size == 0) return 0;
  std::uint64_t copied = 0;
  auto s = src->spans.begin();
  for (const auto& [hash, count] : dst->spans) {
    while (s != src->spans.end() && s->first < hash) ++s;
    if (s != src->spans.end() && s->first == hash) copied += std::min(count, s->second);
  }
  *score = static_cast<int>(copied * 100 / max_size);
  return 0;
}

git_diff_similarity_metric kMetric = {file_signature, buffer_signature, free_signature, similarity, nullptr};

}  // namespace

git_diff_find_options git_rename_options() {
  git_diff_find_options o = GIT_DIFF_FIND_OPTIONS_INIT;
  o.flags = GIT_DIFF_FIND_RENAMES;
  o.rename_threshold = 50;
  o.rename_limit = 1000;
  o.metric = &kMetric;
  return o;
}

}  // namespace icotes::git
