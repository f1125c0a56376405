// A fixture for git service tests: a fresh repository made with the git CLI
// in a temporary directory, the service opened on it, and git and libgit2
// both kept away from the user's and the system's git config so results
// depend on the test alone. Identity and dates are fixed through the
// GIT_AUTHOR_* / GIT_COMMITTER_* variables, which git and the service both
// read, so commits made either way are byte-identical.
#pragma once

#include <git2.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "icotes/git.hpp"
#include "icotes/operation.hpp"
#include "ops/git_json.hpp"
#include "test_util.hpp"

namespace icotes::test {

/// Keeps every progress message an operation reports.
class RecordingProgress final : public Progress {
 public:
  void report(std::string_view message, double, double) override { messages.emplace_back(message); }
  std::vector<std::string> messages;
};

/// A git operation called with JSON params, read into its typed params as
/// the registry reads a call's (src/ops/git_json.hpp): `ok(git::status,
/// {{"limit", 5}})`.
class GitOp {
 public:
  template <class P>
  GitOp(Result<json> (*op)(git::Repo&, const P&))  // NOLINT(google-explicit-constructor): written as the function
      : run_([op](git::Repo& r, const json& params) { return op(r, bind_params<P>(params)); }) {}
  Result<json> operator()(git::Repo& r, const json& params) const { return run_(r, params); }

 private:
  std::function<Result<json>(git::Repo&, const json&)> run_;
};

struct RunResult {
  int rc = 0;
  std::string out;
};

/// Runs `cmd` with /bin/sh in `dir`; stdout (and stderr when `merge_stderr`).
inline RunResult run_in(const std::string& dir, const std::string& cmd, bool merge_stderr = false) {
  const std::string full = "cd '" + dir + "' && " + cmd + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  RunResult r;
  FILE* f = ::popen(full.c_str(), "r");
  if (!f) throw std::runtime_error("popen failed: " + cmd);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  const int st = ::pclose(f);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class GitRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [k, v] : kEnv) ::setenv(k, v, 1);
    git_libgit2_init();
    for (int level :
         {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_PROGRAMDATA}) {
      git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, (tmp_ / "noconfig").c_str());
    }
    std::filesystem::create_directories(tmp_ / "noconfig");
    std::filesystem::create_directories(dir());
    must("git init -q -b main .");
    open_service();
  }

  void TearDown() override {
    svc_.reset();
    root_.reset();
    for (int level :
         {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_PROGRAMDATA}) {
      git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, nullptr);
    }
    git_libgit2_shutdown();
    for (const auto& [k, v] : kEnv) ::unsetenv(k);
  }

  /// (Re)opens the service, as a new server process would.
  void open_service() {
    svc_.reset();
    root_.reset();
    auto r = ConfinedRoot::open(dir());
    ASSERT_TRUE(r.ok()) << r.error().message;
    root_.emplace(std::move(*r));
    svc_.emplace(*root_);
  }

  /// The work tree (the workspace root).
  std::string dir() const { return tmp_ / "repo"; }
  /// A directory outside the workspace, for escape attempts.
  std::string outside() const { return tmp_ / "outside"; }
  /// A copy of the repository (see make_twin) where git does what we did.
  std::string twin() const { return tmp_ / "twin"; }

  /// Copies the repository to twin(), replacing an older copy.
  void make_twin() { must("rm -rf '" + twin() + "' && cp -a . '" + twin() + "'"); }
  /// Runs a shell command in the twin that must succeed; its stdout.
  std::string in_twin(const std::string& cmd) {
    auto r = run_in(twin(), cmd, true);
    EXPECT_EQ(r.rc, 0) << "twin: " << cmd << "\n" << r.out;
    return r.out;
  }
  /// `git <args>` in the twin, stdout without the final newline.
  std::string twin_git(const std::string& args) {
    auto r = run_in(twin(), "git " + args);
    if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }
  /// What a write must leave equal in the repository and its twin: HEAD,
  /// the index (modes, ids, stages), the status and the last commits.
  std::string state(const std::string& where) {
    return run_in(where,
                  "git rev-parse HEAD; git symbolic-ref -q HEAD; git ls-files -s; "
                  "git status --porcelain=v2 --branch --untracked-files=all; "
                  "git log -3 --format='%H %P%n%an <%ae> %ad%n%cn <%ce> %cd%n%B' --date=raw")
        .out;
  }
  /// Expects the repository and its twin to be in the same state.
  void expect_twin_state() { EXPECT_EQ(state(dir()), state(twin())); }

  RunResult sh(const std::string& cmd, bool merge_stderr = false) { return run_in(dir(), cmd, merge_stderr); }
  /// Runs a shell command in the repository that must succeed; its stdout.
  std::string must(const std::string& cmd) {
    auto r = run_in(dir(), cmd, true);
    EXPECT_EQ(r.rc, 0) << cmd << "\n" << r.out;
    return r.out;
  }
  /// `git <args>` in the repository, stdout without the final newline.
  std::string git(const std::string& args) {
    auto r = sh("git " + args);
    if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }
  void put(const std::string& rel, const std::string& content) { write_file(dir() + "/" + rel, content); }
  void commit_all(const std::string& msg) { must("git add -A && git commit -q --allow-empty -m '" + msg + "'"); }

  /// Progress messages the operations reported so far.
  const std::vector<std::string>& reports() const { return progress_.messages; }

  Result<json> call(GitOp op, const json& params) {
    return svc_->with_repo(
        cancel_, progress_, [&](git::Repo& r) { return op(r, params); }, policy_);
  }
  /// git init (git::Service::init), which runs without a repository.
  Result<json> init_repo(const json& params) { return git::init(*svc_, bind_params<git::InitParams>(params)); }
  /// Runs `fn` with the repository open, as an operation runs.
  Result<json> in_repo(const std::function<Result<json>(git::Repo&)>& fn) {
    return svc_->with_repo(cancel_, progress_, fn, policy_);
  }
  /// The client restrictions the next calls run with (none by default).
  void set_policy(git::Policy policy) { policy_ = std::move(policy); }
  /// call() that must succeed.
  json ok(GitOp op, const json& params) {
    auto r = call(op, params);
    EXPECT_TRUE(r.ok()) << params.dump() << " -> " << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : json();
  }
  /// call() that must fail with `code`; the message.
  std::string fails(GitOp op, const json& params, int code) {
    auto r = call(op, params);
    EXPECT_FALSE(r.ok()) << params.dump() << " unexpectedly succeeded: " << (r.ok() ? r->dump() : "");
    if (r.ok()) return "";
    EXPECT_EQ(r.error().code, code) << params.dump() << " -> " << r.error().message;
    return r.error().message;
  }

 private:
  static constexpr std::pair<const char*, const char*> kEnv[] = {
      {"GIT_CONFIG_GLOBAL", "/dev/null"},
      {"GIT_CONFIG_NOSYSTEM", "1"},
      {"GIT_AUTHOR_NAME", "A U Thor"},
      {"GIT_AUTHOR_EMAIL", "author@example.com"},
      {"GIT_AUTHOR_DATE", "@1700000000 +0100"},
      {"GIT_COMMITTER_NAME", "C O Mitter"},
      {"GIT_COMMITTER_EMAIL", "committer@example.com"},
      {"GIT_COMMITTER_DATE", "@1700000100 +0100"},
  };
  TempDir tmp_;
  std::optional<ConfinedRoot> root_;
  std::optional<git::Service> svc_;
  CancellationToken cancel_;
  RecordingProgress progress_;
  git::Policy policy_;
};

}  // namespace icotes::test
