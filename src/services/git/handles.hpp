// Owning handles for libgit2 objects, shared by every git operation: each
// frees its object with the matching git_*_free (libgit2 API reference,
// "Memory management") when it goes out of scope.
#pragma once

#include <git2.h>

#include <memory>
#include <string>
#include <string_view>

namespace icotes::git {

/// unique_ptr deleter calling a libgit2 free function.
template <auto Free>
struct Freer {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BlamePtr = std::unique_ptr<git_blame, Freer<git_blame_free>>;
using BlobPtr = std::unique_ptr<git_blob, Freer<git_blob_free>>;
using CommitPtr = std::unique_ptr<git_commit, Freer<git_commit_free>>;
using ConfigPtr = std::unique_ptr<git_config, Freer<git_config_free>>;
using DiffPtr = std::unique_ptr<git_diff, Freer<git_diff_free>>;
using IndexPtr = std::unique_ptr<git_index, Freer<git_index_free>>;
using ObjectPtr = std::unique_ptr<git_object, Freer<git_object_free>>;
using OdbPtr = std::unique_ptr<git_odb, Freer<git_odb_free>>;
using PatchPtr = std::unique_ptr<git_patch, Freer<git_patch_free>>;
using ReferencePtr = std::unique_ptr<git_reference, Freer<git_reference_free>>;
using RevwalkPtr = std::unique_ptr<git_revwalk, Freer<git_revwalk_free>>;
using SignaturePtr = std::unique_ptr<git_signature, Freer<git_signature_free>>;
using TagPtr = std::unique_ptr<git_tag, Freer<git_tag_free>>;
using TreePtr = std::unique_ptr<git_tree, Freer<git_tree_free>>;

/// A git_buf disposed of on scope exit.
struct Buf {
  git_buf buf = GIT_BUF_INIT;
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { git_buf_dispose(&buf); }
  std::string_view view() const { return {buf.ptr ? buf.ptr : "", buf.size}; }
  std::string str() const { return std::string(view()); }
};

}  // namespace icotes::git
