#include "repo_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "commit_format.hpp"
#include "log_date.hpp"
#include "worktree_scan.hpp"

namespace icotes::git {
namespace {

// Stage/unstage list at most this many paths; the total says how many more.
constexpr std::size_t kMaxAffected = 1000;

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

std::optional<std::string> config_string(git_config* cfg, const char* key) {
  git_config_entry* e = nullptr;
  if (git_config_get_entry(&e, cfg, key) != 0) {
    git_error_clear();
    return std::nullopt;
  }
  std::string v = e->value ? e->value : "";
  git_config_entry_free(e);
  if (v.empty()) return std::nullopt;
  return v;
}

// GIT_AUTHOR_DATE / GIT_COMMITTER_DATE as git reads them (the absolute
// forms of log_date.hpp); without a zone, the local one at that time.
std::optional<std::pair<git_time_t, int>> parse_date(std::string_view s) {
  const auto d = detail::absolute_date(s);
  if (!d) return std::nullopt;
  if (d->offset_minutes) return std::make_pair(static_cast<git_time_t>(d->seconds), *d->offset_minutes);
  const auto t = static_cast<std::time_t>(d->seconds);
  std::tm local{};
  localtime_r(&t, &local);
  return std::make_pair(static_cast<git_time_t>(d->seconds), static_cast<int>(local.tm_gmtoff / 60));
}

}  // namespace

StrArray::StrArray(std::vector<std::string> items) : items_(std::move(items)) {
  ptrs_.reserve(items_.size());
  for (const auto& s : items_) ptrs_.push_back(const_cast<char*>(s.c_str()));
  array_.strings = ptrs_.data();
  array_.count = ptrs_.size();
}

Result<IndexPtr> fresh_index(git_repository* repo) {
  git_index* raw = nullptr;
  if (int rc = git_repository_index(&raw, repo); rc != 0) return libgit2_error(rc, "read the index");
  IndexPtr index(raw);
  if (int rc = git_index_read(raw, false); rc != 0) return libgit2_error(rc, "read the index");
  return index;
}

Result<IndexGuard> IndexGuard::open(git_repository* repo) {
  auto index = fresh_index(repo);
  if (!index) return std::move(index).error();
  return IndexGuard(index->release());
}

IndexGuard::~IndexGuard() {
  if (index_ && !committed_ && git_index_read(index_.get(), true) != 0) git_error_clear();
}

Status IndexGuard::write(std::string_view op) {
  if (int rc = git_index_write(index_.get()); rc != 0) return write_error(rc, std::string(op) + ": write the index");
  committed_ = true;
  return ok_status();
}

Error write_error(int rc, std::string_view what) {
  if (rc == GIT_ELOCKED)
    return make_error(error_code::kConflict,
                      std::string(what) +
                          ": the repository is locked (a .lock file exists under .git): another git process is "
                          "running; retry when it has finished, or delete the .lock file if no git process is left");
  return libgit2_error(rc, what);
}

// git's ident.c in order: the environment (GIT_AUTHOR_*/GIT_COMMITTER_*),
// then author.*/committer.*, then user.* config, each cleaned as git cleans
// it, and git's refusals with its messages (compared by git.differential).
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<SignaturePtr> identity(git_repository* repo, Role role) {
  const bool author = role == Role::kAuthor;
  const char* env_name = env(author ? "GIT_AUTHOR_NAME" : "GIT_COMMITTER_NAME");
  const char* env_email = env(author ? "GIT_AUTHOR_EMAIL" : "GIT_COMMITTER_EMAIL");
  std::optional<std::string> name = env_name ? std::optional<std::string>(env_name) : std::nullopt;
  std::optional<std::string> email = env_email ? std::optional<std::string>(env_email) : std::nullopt;
  if (!name || !email) {
    git_config* raw = nullptr;
    if (int rc = git_repository_config_snapshot(&raw, repo); rc != 0) return libgit2_error(rc, "read git config");
    ConfigPtr cfg(raw);
    if (!name) name = config_string(cfg.get(), author ? "author.name" : "committer.name");
    if (!name) name = config_string(cfg.get(), "user.name");
    if (!email) email = config_string(cfg.get(), author ? "author.email" : "committer.email");
    if (!email) email = config_string(cfg.get(), "user.email");
  }
  if (!email && env("EMAIL")) email = env("EMAIL");
  if (!name || !email)
    return make_error(error_code::kInvalidParams,
                      std::string("git needs to know who you are, and ") + (name ? "user.email" : "user.name") +
                          " is not set. Set your identity: git config --global user.name \"Your Name\" && git config "
                          "--global user.email you@example.com (or per repository, without --global)");
  return signature_for(role, *name, *email);
}

Result<SignaturePtr> signature_for(Role role, std::string name, std::string email) {
  // A newline would end the commit's author line and start a header of the
  // caller's choosing (a second parent, a signature); git drops newlines
  // from identities (ident.c, strbuf_addstr_without_crud), and so do we.
  std::erase(name, '\n');
  std::erase(email, '\n');
  const bool author = role == Role::kAuthor;
  git_signature* sig = nullptr;
  int rc;
  const char* date = env(author ? "GIT_AUTHOR_DATE" : "GIT_COMMITTER_DATE");
  if (date) {
    auto when = parse_date(date);
    if (!when)
      return make_error(error_code::kInvalidParams,
                        std::string(author ? "GIT_AUTHOR_DATE" : "GIT_COMMITTER_DATE") + " '" + date +
                            "' is not a date icotes reads: use '@<unix seconds> +hhmm' or 'YYYY-MM-DDTHH:MM:SS+hh:mm'");
    rc = git_signature_new(&sig, name.c_str(), email.c_str(), when->first, when->second);
  } else {
    rc = git_signature_now(&sig, name.c_str(), email.c_str());
  }
  if (rc != 0) {
    const git_error* e = git_error_last();
    return make_error(error_code::kInvalidParams, "invalid identity '" + name + " <" + email +
                                                      ">': " + (e && e->message ? e->message : "rejected by libgit2"));
  }
  return SignaturePtr(sig);
}

std::optional<std::string> upstream_ref(git_repository* repo, std::string_view branch_ref) {
  const std::string_view branch = short_ref(branch_ref);
  git_config* raw = nullptr;
  if (git_repository_config_snapshot(&raw, repo) != 0) {
    git_error_clear();
    return std::nullopt;
  }
  ConfigPtr cfg(raw);
  const std::string key = "branch." + std::string(branch);
  const auto remote = config_string(cfg.get(), (key + ".remote").c_str());
  auto merge = config_string(cfg.get(), (key + ".merge").c_str());
  if (!remote || !merge) return std::nullopt;
  if (*remote == ".") return merge;  // tracks a local branch
  git_config_iterator* it = nullptr;
  if (git_config_multivar_iterator_new(&it, cfg.get(), ("remote." + *remote + ".fetch").c_str(), nullptr) != 0) {
    git_error_clear();
    return std::nullopt;
  }
  std::optional<std::string> out;
  git_config_entry* e = nullptr;
  while (!out && git_config_next(&e, it) == 0) {
    git_refspec* spec = nullptr;
    if (!e->value || git_refspec_parse(&spec, e->value, 1) != 0) continue;
    Buf dst;
    if (git_refspec_src_matches(spec, merge->c_str()) && git_refspec_transform(&dst.buf, spec, merge->c_str()) == 0)
      out = dst.str();
    git_refspec_free(spec);
  }
  git_config_iterator_free(it);
  git_error_clear();
  return out;
}

Result<std::optional<Upstream>> upstream_of(git_repository* repo, const char* branch_ref, const git_oid* local) {
  auto name = upstream_ref(repo, branch_ref);
  if (!name) return std::optional<Upstream>();
  Upstream up;
  up.name = std::string(short_ref(*name));
  git_oid target;
  if (git_reference_name_to_id(&target, repo, name->c_str()) != 0) {
    git_error_clear();
    up.gone = true;
    return std::optional<Upstream>(std::move(up));
  }
  if (local) {
    if (int rc = git_graph_ahead_behind(&up.ahead, &up.behind, repo, local, &target); rc != 0)
      return libgit2_error(rc, "count commits ahead of/behind " + up.name);
  }
  return std::optional<Upstream>(std::move(up));
}

void put_upstream(json& out, const Upstream& up) {
  out["upstream"] = up.name;
  if (up.gone) {
    out["upstreamGone"] = true;
    return;
  }
  out["ahead"] = up.ahead;
  out["behind"] = up.behind;
}

Result<Page> page_of(const PagedParams& params, std::size_t total, std::size_t default_limit, std::size_t budget,
                     const std::function<std::size_t(std::size_t)>& bytes) {
  std::size_t offset = 0;
  if (params.cursor) {
    const std::string& c = *params.cursor;
    if (c.empty() || c.size() > 12 || c.find_first_not_of("0123456789") != std::string::npos)
      return make_error(error_code::kInvalidParams,
                        "invalid cursor '" + c + "': pass nextCursor from the previous page");
    offset = static_cast<std::size_t>(std::stoull(c));
  }
  const std::size_t limit = params.limit.value_or(default_limit);
  Page page;
  page.begin = std::min(offset, total);
  page.end = std::min(total, page.begin + limit);
  if (bytes) {
    std::size_t used = 0;
    for (std::size_t i = page.begin; i < page.end; ++i) {
      used += bytes(i);
      if (used > budget && i > page.begin) {
        page.end = i;
        break;
      }
    }
  }
  return page;
}

void put_page(json& out, const Page& page, std::size_t total, std::string_view what, std::string_view narrow,
              std::string_view tool, const PagedParams& params) {
  out["total"] = total;
  out["truncated"] = page.end < total;
  if (page.end >= total) return;
  const std::string next = std::to_string(page.end);
  out["nextCursor"] = next;
  out["note"] = "Showing " + std::string(what) + " " + std::to_string(page.begin + 1) + "-" + next + " of " +
                std::to_string(total) + "; " + std::to_string(total - page.end) +
                " more. Next: " + detail::continue_call(tool, params.given, next) +
                (narrow.empty() ? "" : ", or " + std::string(narrow)) + ".";
}

json affected_paths(const std::vector<std::string>& paths, std::string_view none_note) {
  json out;
  json list = json::array();
  for (std::size_t i = 0; i < paths.size() && i < kMaxAffected; ++i) list.push_back(paths[i]);
  out["paths"] = std::move(list);
  out["total"] = paths.size();
  out["truncated"] = paths.size() > kMaxAffected;
  if (paths.empty()) out["note"] = std::string(none_note);
  if (paths.size() > kMaxAffected)
    out["note"] = "Listing the first " + std::to_string(kMaxAffected) + " of " + std::to_string(paths.size()) +
                  " paths; git_status shows them all.";
  return out;
}

bool index_knows(git_index* index, const std::string& rel) {
  if (rel.empty()) return true;
  for (int stage = 0; stage <= 3; ++stage) {
    if (git_index_get_bypath(index, rel.c_str(), stage)) return true;
  }
  std::size_t pos = 0;
  const bool under = git_index_find_prefix(&pos, index, (rel + "/").c_str()) == 0;
  git_error_clear();
  return under;
}

bool on_disk(const Repo& r, const std::string& rel) {
  struct stat st {};
  return rel.empty() || ::fstatat(r.root.fd(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

std::string conflicted_paths(git_index* index) {
  git_index_conflict_iterator* it = nullptr;
  if (git_index_conflict_iterator_new(&it, index) != 0) {
    git_error_clear();
    return "";
  }
  std::string out;
  std::string last;
  int count = 0;
  const git_index_entry *ancestor, *ours, *theirs;
  while (git_index_conflict_next(&ancestor, &ours, &theirs, it) == 0) {
    const git_index_entry* e = ours ? ours : theirs ? theirs : ancestor;
    if (e->path == last) continue;
    last = e->path;
    if (++count > 10) {
      out += ", ...";
      break;
    }
    out += (out.empty() ? "" : ", ") + last;
  }
  git_index_conflict_iterator_free(it);
  git_error_clear();
  return out;
}

std::optional<std::vector<std::string>> changed_candidates(const Repo& r, git_index* index, const std::string& prefix) {
  auto out = detail::stat_changed_paths(r, index, [&](const char* path) {
    return prefix.empty() || (std::strncmp(path, prefix.c_str(), prefix.size()) == 0 &&
                              (path[prefix.size()] == '\0' || path[prefix.size()] == '/'));
  });
  if (out.size() > git_index_entrycount(index) / 8 + 64) return std::nullopt;
  return out;
}

Result<TreePtr> head_tree(git_repository* repo) {
  git_object* obj = nullptr;
  int rc = git_revparse_single(&obj, repo, "HEAD^{tree}");
  if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) {
    git_error_clear();
    return TreePtr();
  }
  if (rc != 0) return libgit2_error(rc, "read HEAD's tree");
  return TreePtr(reinterpret_cast<git_tree*>(obj));
}

std::string subject_of(std::string_view message) {
  std::string out;
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t end = message.find('\n', pos);
    if (end == std::string_view::npos) end = message.size();
    if (end == pos) break;  // blank line: end of the paragraph
    if (!out.empty()) out += ' ';
    out.append(message, pos, end - pos);
    pos = end + 1;
  }
  return out;
}

std::string squash_spaces(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string_view short_ref(std::string_view ref) {
  for (std::string_view prefix : {"refs/heads/", "refs/remotes/", "refs/tags/", "refs/"}) {
    if (ref.substr(0, prefix.size()) == prefix) return ref.substr(prefix.size());
  }
  return ref;
}

std::string_view state_name(int state) {
  switch (state) {
    case GIT_REPOSITORY_STATE_MERGE:
      return "a merge";
    case GIT_REPOSITORY_STATE_REVERT:
    case GIT_REPOSITORY_STATE_REVERT_SEQUENCE:
      return "a revert";
    case GIT_REPOSITORY_STATE_CHERRYPICK:
    case GIT_REPOSITORY_STATE_CHERRYPICK_SEQUENCE:
      return "a cherry-pick";
    case GIT_REPOSITORY_STATE_BISECT:
      return "a bisect";
    case GIT_REPOSITORY_STATE_REBASE:
    case GIT_REPOSITORY_STATE_REBASE_INTERACTIVE:
    case GIT_REPOSITORY_STATE_REBASE_MERGE:
      return "a rebase";
    case GIT_REPOSITORY_STATE_APPLY_MAILBOX:
    case GIT_REPOSITORY_STATE_APPLY_MAILBOX_OR_REBASE:
      return "git am";
    default:
      return "";
  }
}

}  // namespace icotes::git
