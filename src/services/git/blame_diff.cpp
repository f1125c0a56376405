#include "blame_diff.hpp"

#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include <algorithm>
#include <cstring>

namespace icotes::git::detail {

// The object store's only backend: a read of `id` gets a copy of `text`
// (libgit2 frees it). Reads are not checked against the id because the
// service turns strict hash verification off (repo.cpp init_libgit2); with
// it on, every read here would fail as a hash mismatch.
struct BlameDiff::Backend {
  git_odb_backend parent;  // first: libgit2 hands back &parent
  git_oid id{};
  std::string_view text;
};

int BlameDiff::read(void** data, std::size_t* len, git_object_t* type, git_odb_backend* b, const git_oid* id) {
  auto* self = reinterpret_cast<Backend*>(b);
  if (!git_oid_equal(id, &self->id)) return GIT_ENOTFOUND;
  // An empty blob still needs a buffer libgit2 can free.
  void* copy = git_odb_backend_data_alloc(b, std::max<std::size_t>(self->text.size(), 1));
  if (!copy) return -1;
  if (!self->text.empty()) std::memcpy(copy, self->text.data(), self->text.size());
  *data = copy;
  *len = self->text.size();
  *type = GIT_OBJECT_BLOB;
  return 0;
}

Result<BlameDiff> BlameDiff::create(std::uint32_t flags) {
  git_odb* raw_odb = nullptr;
  if (int rc = git_odb_new(&raw_odb); rc != 0) return libgit2_error(rc, "make an object store for blame");
  OdbPtr odb(raw_odb);
  auto backend = std::make_unique<Backend>();
  if (int rc = git_odb_init_backend(&backend->parent, GIT_ODB_BACKEND_VERSION); rc != 0)
    return libgit2_error(rc, "make an object store for blame");
  backend->parent.read = read;
  backend->parent.free = [](git_odb_backend* b) { delete reinterpret_cast<Backend*>(b); };
  if (int rc = git_odb_add_backend(odb.get(), &backend->parent, 1); rc != 0)
    return libgit2_error(rc, "make an object store for blame");
  Backend* owned_by_odb = backend.release();
  git_repository* raw_repo = nullptr;
  if (int rc = git_repository_new(&raw_repo); rc != 0) return libgit2_error(rc, "make a repository for blame");
  RepositoryPtr repo(raw_repo);
  if (int rc = git_repository_set_odb(repo.get(), odb.get()); rc != 0)
    return libgit2_error(rc, "make a repository for blame");
  return BlameDiff(std::move(repo), owned_by_odb, flags);
}

Result<BlobPtr> BlameDiff::blob(std::string_view text) {
  // A fresh id per buffer: no cache of libgit2's can hand back another text.
  ++next_id_;
  git_oid id{};
  std::memcpy(id.id, &next_id_, sizeof next_id_);
  backend_->id = id;
  backend_->text = text;
  git_blob* b = nullptr;
  const int rc = git_blob_lookup(&b, repo_.get(), &id);
  backend_->text = {};
  if (rc != 0) return libgit2_error(rc, "load a version for blame");
  return BlobPtr(b);
}

Result<std::vector<LineHunk>> BlameDiff::hunks(std::string_view old_text, std::string_view new_text) {
  trim_common_tail(old_text, new_text);
  auto old_blob = blob(old_text);
  if (!old_blob) return std::move(old_blob).error();
  auto new_blob = blob(new_text);
  if (!new_blob) return std::move(new_blob).error();
  git_diff_options o = GIT_DIFF_OPTIONS_INIT;
  o.context_lines = 0;
  o.interhunk_lines = 0;
  o.flags = GIT_DIFF_FORCE_TEXT | flags_;
  std::vector<LineHunk> out;
  auto on_hunk = [](const git_diff_delta*, const git_diff_hunk* h, void* payload) -> int {
    const auto c1 = static_cast<std::size_t>(h->old_lines), c2 = static_cast<std::size_t>(h->new_lines);
    const auto s1 = static_cast<std::size_t>(h->old_start), s2 = static_cast<std::size_t>(h->new_start);
    // Unified-diff starts are 1-based, or name the line before an empty
    // side; xdiff's (what blame_chunk_cb gets) are 0-based.
    static_cast<std::vector<LineHunk>*>(payload)->push_back({c1 ? s1 - 1 : s1, c1, c2 ? s2 - 1 : s2, c2});
    return 0;
  };
  if (int rc = git_diff_blobs(old_blob->get(), nullptr, new_blob->get(), nullptr, &o, nullptr, nullptr, on_hunk,
                              nullptr, &out);
      rc != 0)
    return libgit2_error(rc, "diff two versions");
  return out;
}

void trim_common_tail(std::string_view& a, std::string_view& b) {
  constexpr std::size_t kBlock = 1024;
  const std::size_t smaller = std::min(a.size(), b.size());
  std::size_t trimmed = 0;
  while (kBlock + trimmed <= smaller &&
         std::memcmp(a.data() + a.size() - trimmed - kBlock, b.data() + b.size() - trimmed - kBlock, kBlock) == 0)
    trimmed += kBlock;
  std::size_t recovered = 0;
  const char* ap = a.data() + a.size() - trimmed;
  while (recovered < trimmed) {
    if (ap[recovered++] == '\n') break;
  }
  a.remove_suffix(trimmed - recovered);
  b.remove_suffix(trimmed - recovered);
}

}  // namespace icotes::git::detail
