#include "similarity.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

namespace icotes::git::detail {
namespace {

constexpr std::uint64_t kMaxScore = 60000;  // diffcore.h MAX_SCORE
constexpr std::uint64_t kMinScore = 30000;  // -M50%
constexpr std::uint32_t kHashBase = 107927;

struct Signature {
  std::uint64_t size = 0;
  bool regular = true;
  // (hash, bytes) of each span hash, sorted by hash (spanhash_cmp).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;
};

// hash_chars(): spans end at a newline or after 64 bytes; CR of a CRLF is
// skipped in text (no NUL in the first 8000 bytes, xdiff-interface.c
// buffer_is_binary).
Signature make_signature(const char* buf, std::size_t size, std::uint32_t mode) {
  Signature sig;
  sig.size = size;
  sig.regular = (mode & 0170000) == 0100000;
  const bool text = std::memchr(buf, 0, std::min<std::size_t>(size, 8000)) == nullptr;
  std::unordered_map<std::uint32_t, std::uint32_t> counts;
  std::uint32_t accum1 = 0, accum2 = 0, n = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const unsigned c = static_cast<unsigned char>(buf[i]);
    const std::uint32_t old1 = accum1;
    if (text && c == '\r' && i + 1 < size && buf[i + 1] == '\n') continue;
    accum1 = (accum1 << 7) ^ (accum2 >> 25);
    accum2 = (accum2 << 7) ^ (old1 >> 25);
    accum1 += c;
    if (++n < 64 && c != '\n') continue;
    counts[(accum1 + accum2 * 0x61) % kHashBase] += n;
    n = 0;
    accum1 = accum2 = 0;
  }
  // git 2.39 drops a last line without a newline (counted from git 2.42,
  // "diffcore-delta: avoid ignoring final 'line' of file"); the reference
  // is 2.39.
  sig.spans.assign(counts.begin(), counts.end());
  std::sort(sig.spans.begin(), sig.spans.end());
  return sig;
}

int buffer_signature(void** out, const git_diff_file* file, const char* buf, std::size_t len, void*) {
  *out = new Signature(make_signature(buf, len, file->mode));
  return 0;
}

// A working-tree file: its content as git would store it (clean filters,
// CRLF -> LF), the form blobs on the other side have.
int file_signature(void** out, const git_diff_file* file, const char* fullpath, void* payload) {
  auto* repo = static_cast<git_repository*>(payload);
  git_filter_list* filters = nullptr;
  git_buf content = GIT_BUF_INIT;
  int rc = git_filter_list_load(&filters, repo, nullptr, file->path, GIT_FILTER_TO_ODB, GIT_FILTER_DEFAULT);
  if (rc == 0) rc = git_filter_list_apply_to_file(&content, filters, repo, fullpath);
  git_filter_list_free(filters);
  if (rc == 0) *out = new Signature(make_signature(content.ptr ? content.ptr : "", content.size, file->mode));
  git_buf_dispose(&content);
  return rc;
}

void free_signature(void* sig, void*) { delete static_cast<Signature*>(sig); }

// estimate_similarity() + diffcore_count_changes(), as a percentage the way
// git prints "similarity index" (score * 100 / MAX_SCORE, rounded down).
int similarity(int* score, void* siga, void* sigb, void*) {
  const auto& src = *static_cast<const Signature*>(siga);
  const auto& dst = *static_cast<const Signature*>(sigb);
  *score = 0;
  // Symlinks and the like are renamed only when identical (libgit2 scores
  // identical ids 100 without asking).
  if (!src.regular || !dst.regular) return 0;
  const std::uint64_t max_size = std::max(src.size, dst.size);
  const std::uint64_t base_size = std::min(src.size, dst.size);
  if (max_size * (kMaxScore - kMinScore) < (max_size - base_size) * kMaxScore) return 0;
  if (dst.size == 0 || max_size == 0) return 0;
  std::uint64_t copied = 0;
  auto d = dst.spans.begin();
  for (const auto& [hash, src_cnt] : src.spans) {
    while (d != dst.spans.end() && d->first < hash) ++d;
    std::uint32_t dst_cnt = 0;
    if (d != dst.spans.end() && d->first == hash) dst_cnt = (d++)->second;
    copied += std::min(src_cnt, dst_cnt);
  }
  const std::uint64_t s = copied * kMaxScore / max_size;
  *score = static_cast<int>(s * 100 / kMaxScore);
  return 0;
}

}  // namespace

git_diff_similarity_metric git_similarity_metric(git_repository* repo) {
  return git_diff_similarity_metric{file_signature, buffer_signature, free_signature, similarity, repo};
}

git_diff_find_options git_rename_options(const git_diff_similarity_metric* metric, bool copies) {
  git_diff_find_options o = GIT_DIFF_FIND_OPTIONS_INIT;
  o.flags = GIT_DIFF_FIND_RENAMES | (copies ? GIT_DIFF_FIND_COPIES : 0);
  o.rename_threshold = 50;
  o.copy_threshold = 50;
  o.rename_limit = 1000;
  o.metric = const_cast<git_diff_similarity_metric*>(metric);
  return o;
}

}  // namespace icotes::git::detail
