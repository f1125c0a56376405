// The git service's core: opening the workspace's repository under a ceiling,
// and the checks every client-given revision and path goes through.
#include <fcntl.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <type_traits>

#include "icotes/git.hpp"
#include "icotes/git_module.hpp"
#include "icotes/progress.hpp"
#include "repo_util.hpp"

namespace icotes::git {
namespace {

// libgit2 keeps global state (allocators, TLS for errors): init once, never
// shut down (other threads may still use it at exit).
void init_libgit2() {
  static const int once = [] {
    git_libgit2_init();
    // git verifies an object's hash when it is written or fsck'd, not on
    // every read; libgit2 does by default, which costs blame and tree diffs
    // about 30% (bench/results/git.md).
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
    return 0;
  }();
  (void)once;
}

}  // namespace

Error libgit2_error(int rc, std::string_view what) {
  const git_error* e = git_error_last();
  std::string msg = std::string(what) + ": " + (e && e->message ? e->message : "libgit2 error " + std::to_string(rc));
  int code = error_code::kIoError;
  if (rc == GIT_ENOTFOUND) code = error_code::kNotFound;
  if (rc == GIT_EEXISTS || rc == GIT_ECONFLICT || rc == GIT_EUNMERGED || rc == GIT_ELOCKED || rc == GIT_EMODIFIED)
    code = error_code::kConflict;
  if (rc == GIT_EAMBIGUOUS || rc == GIT_EINVALIDSPEC || rc == GIT_EINVALID) code = error_code::kInvalidParams;
  if (rc == GIT_EUSER) code = error_code::kRequestCancelled;
  return make_error(code, std::move(msg));
}

Status check_revision(std::string_view rev) {
  auto bad = [&](std::string_view why) {
    return make_error(error_code::kInvalidParams,
                      "invalid revision '" + std::string(rev.substr(0, 200)) + "': " + std::string(why));
  };
  if (rev.empty()) return bad("empty");
  if (rev.size() > 1024) return bad("longer than 1024 bytes");
  if (rev.front() == '-') return bad("a revision cannot start with '-' (it would read as an option)");
  for (unsigned char c : rev) {
    if (c < 0x20 || c == 0x7f) return bad("control characters are not allowed");
    if (c == ' ') return bad("spaces are not allowed");
  }
  return ok_status();
}

std::string oid_hex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

Result<std::string> Repo::path(std::string_view client_path) const {
  auto rel = root.relative(client_path.empty() ? "." : client_path);
  if (!rel) return std::move(rel).error();
  // Every existing prefix must stay inside the root once symlinks are
  // resolved: `link/file` where link -> /etc is refused, while a symlink
  // that is itself the last component (a tracked symlink) is a path git
  // knows as such and is allowed.
  std::string prefix;
  std::size_t pos = 0;
  while (pos < rel->size()) {
    std::size_t slash = rel->find('/', pos);
    if (slash == std::string::npos) break;  // the last component: not resolved
    prefix = rel->substr(0, slash);
    pos = slash + 1;
    struct stat st;
    const std::string abs = root.absolute(prefix);
    if (::lstat(abs.c_str(), &st) != 0) break;  // does not exist: nothing to follow
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      auto real = std::filesystem::canonical(abs, ec);
      if (ec)
        return make_error(error_code::kOutsideWorkspace,
                          "'" + std::string(client_path) + "' passes through a broken symlink");
      auto inside = root.relative(real.string());
      if (!inside)
        return make_error(
            error_code::kOutsideWorkspace,
            "'" + std::string(client_path) + "' passes through a symlink that leads outside the workspace");
    }
  }
  // Git's own directory is not a path a client may name.
  if (*rel == ".git" || rel->rfind(".git/", 0) == 0)
    return make_error(error_code::kInvalidParams,
                      "'" + std::string(client_path) + "' is inside .git, which is git's own data");
  return rel;
}

Result<std::vector<std::string>> Repo::paths(const std::vector<std::string>& list) const {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (const auto& p : list) {
    auto r = path(p);
    if (!r) return std::move(r).error();
    out.push_back(std::move(*r));
  }
  return out;
}

Result<std::string> Repo::resolve(std::string_view rev) const {
  if (auto st = check_revision(rev); !st) return st.error();
  git_object* obj = nullptr;
  const std::string spec(rev);
  int rc = git_revparse_single(&obj, repo, spec.c_str());
  if (rc != 0) {
    if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC)
      return make_error(error_code::kNotFound, "unknown revision '" + spec + "'");
    if (rc == GIT_EAMBIGUOUS) return make_error(error_code::kInvalidParams, "ambiguous revision '" + spec + "'");
    return libgit2_error(rc, "resolve '" + spec + "'");
  }
  std::string hex = oid_hex(*git_object_id(obj));
  git_object_free(obj);
  return hex;
}

Status Repo::check_cancel(std::string_view op) const {
  if (cancel.cancelled()) return make_error(error_code::kRequestCancelled, std::string(op) + ": cancelled");
  return ok_status();
}

void Repo::report(std::string_view message, double done, double total) const {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_report < std::chrono::milliseconds(100)) return;
  last_report = now;
  progress.report(message, done, total);
}

Service::Service(const ConfinedRoot& root) : root_(root) {}

Service::~Service() {
  if (repo_) git_repository_free(repo_);
}

Result<json> Service::with_repo(const CancellationToken& cancel, Progress& progress,
                                const std::function<Result<json>(Repo&)>& fn, const Policy& policy) {
  init_libgit2();  // on first use: a workspace that never asks for git pays nothing
  std::lock_guard lock(mutex_);
  if (repo_) {
    // The repository was deleted or replaced under us: open afresh.
    struct stat st;
    const char* gitdir = git_repository_path(repo_);
    if (!gitdir || ::stat(gitdir, &st) != 0) {
      git_repository_free(repo_);
      repo_ = nullptr;
    }
  }
  if (!repo_) {
    // Discovery starts at the root and may not climb above it: the ceiling
    // is the root's parent (git's GIT_CEILING_DIRECTORIES semantics).
    const std::string start = root_.path();
    std::string ceiling = std::filesystem::path(start).parent_path().string();
    git_repository* repo = nullptr;
    int rc = git_repository_open_ext(&repo, start.c_str(), 0, ceiling.c_str());
    if (rc == GIT_ENOTFOUND)
      return make_error(kNoRepository, "no git repository at the workspace root " + start +
                                           " (run `git init` there, or open the repository's folder as the workspace)");
    if (rc != 0) return libgit2_error(rc, "open the repository at " + start);
    const char* workdir = git_repository_workdir(repo);
    std::error_code ec;
    if (!workdir || std::filesystem::canonical(workdir, ec) != std::filesystem::path(start)) {
      git_repository_free(repo);
      return make_error(kNoRepository, "the repository found at " + start + " is bare or its work tree is elsewhere");
    }
    repo_ = repo;
  }
  Repo r{repo_, root_, cancel, progress, policy};
  return fn(r);
}

Result<json> Service::init(const InitParams& params) {
  init_libgit2();
  std::lock_guard lock(mutex_);
  const std::string root = root_.path();
  std::string branch;
  if (params.initial_branch) {
    branch = *params.initial_branch;
    int valid = 0;
    if (branch.front() == '-' || git_branch_name_is_valid(&valid, branch.c_str()) != 0 || !valid) {
      git_error_clear();
      return make_error(error_code::kInvalidParams, "git_init: invalid branch name '" + branch.substr(0, 200) + "'");
    }
  }
  // .git is made here, beneath the root's descriptor, so libgit2 fills a
  // directory that is the root's own and not something a name leads to.
  if (::mkdirat(root_.fd(), ".git", 0777) != 0) {
    if (errno != EEXIST)
      return make_error(error_code::kIoError, "git_init: create " + root + "/.git: " + std::strerror(errno));
    struct stat st {};
    git_repository* existing = nullptr;
    const std::string ceiling = std::filesystem::path(root).parent_path().string();
    const bool ok =
        ::fstatat(root_.fd(), ".git", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
        git_repository_open_ext(&existing, root.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, ceiling.c_str()) == 0;
    git_repository_free(existing);
    git_error_clear();
    if (!ok)
      return make_error(error_code::kConflict, "git_init: " + root +
                                                   "/.git already exists and is not a git repository (a file, a "
                                                   "symlink or a broken directory); move it away first");
    return json{{"created", false},
                {"gitDir", root + "/.git/"},
                {"note", "Already a git repository: " + root + "/.git; nothing changed."}};
  }
  git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  // No GIT_REPOSITORY_INIT_EXTERNAL_TEMPLATE: libgit2's built-in template
  // (objects, refs, info/exclude, description, an empty hooks folder with a
  // README.sample), never init.templateDir's hooks or config.
  opts.flags = GIT_REPOSITORY_INIT_NO_REINIT;
  if (!branch.empty()) opts.initial_head = branch.c_str();
  git_repository* repo = nullptr;
  if (int rc = git_repository_init_ext(&repo, root.c_str(), &opts); rc != 0) {
    Error e = libgit2_error(rc, "git_init");
    ::unlinkat(root_.fd(), ".git", AT_REMOVEDIR);  // only when still empty
    return e;
  }
  git_reference* head = nullptr;
  if (git_reference_lookup(&head, repo, "HEAD") == 0) {
    if (const char* t = git_reference_symbolic_target(head)) branch = std::string(short_ref(t));
  }
  git_reference_free(head);
  git_repository_free(repo);
  git_error_clear();
  if (repo_) {
    git_repository_free(repo_);
    repo_ = nullptr;  // opened afresh by the next operation
  }
  return json{{"created", true}, {"gitDir", root + "/.git/"}, {"branch", branch}};
}

Result<json> init(Service& service, const InitParams& params) { return service.init(params); }

namespace {

// The module's entry for the operation `Fn`: with the repository open and
// locked, or (init) on the service itself.
template <class Target, class P, Result<json> (*Fn)(Target&, const P&)>
Result<json> entry(void* service, const P& params, const Call& call) {
  auto& s = *static_cast<Service*>(service);
  if constexpr (std::is_same_v<Target, Service>) {
    return Fn(s, params);
  } else {
    return s.with_repo(
        call.cancel, call.progress, [&](Repo& r) { return Fn(r, params); }, call.policy);
  }
}

const ModuleApi kApi{ModuleApi::kAbiVersion, [](const ConfinedRoot& root) -> void* { return new Service(root); },
                     [](void* service) { delete static_cast<Service*>(service); },
#define ICOTES_GIT_MODULE_ENTRY(verb, Params, Target) entry<Target, Params, &git::verb>,
                     ICOTES_GIT_OPERATIONS(ICOTES_GIT_MODULE_ENTRY)
#undef ICOTES_GIT_MODULE_ENTRY
};

}  // namespace

const ModuleApi* module_api() { return &kApi; }

}  // namespace icotes::git
