// The permission store (include/permissions/icotes/permission_store.hpp) on real files: round trips and restarts, a
// process SIGKILLed mid-write, corrupt and foreign files, two connections on one file, the audit log, awkward strings.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "icotes/permission_store.hpp"

namespace icotes::permissions {
namespace {

namespace fs = std::filesystem;

// Asserts that a Result or Status is ok, printing its error otherwise.
#define ASSERT_OK(expr)                                   \
  do {                                                    \
    const auto& result_ = (expr);                         \
    ASSERT_TRUE(result_.ok()) << result_.error().message; \
  } while (0)

// A directory made with mkdtemp under /tmp, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/icotes-pstore-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
  if (!f) throw std::runtime_error("cannot write " + path);
}

StoredGrant grant(std::string kind, std::string scope, std::string value, std::string answer = "allow",
                  std::int64_t created_ms = 1700000000000, std::string by = "cli") {
  return {std::move(kind), std::move(scope), std::move(value), std::move(answer), created_ms, std::move(by)};
}

std::unique_ptr<Store> open_clean(const std::string& path) {
  auto o = Store::open(path);
  if (!o.ok()) {
    ADD_FAILURE() << o.error().message;
    return nullptr;
  }
  EXPECT_EQ(o->warning, "");
  return std::move(o->store);
}

// `PRAGMA quick_check` through a separate raw connection: "ok" or the first problem.
std::string quick_check(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  std::string verdict = "cannot prepare";
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, nullptr) == SQLITE_OK) {
    int rc = sqlite3_step(s);
    verdict = rc == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(s, 0)) : sqlite3_errmsg(db);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return verdict;
}

void raw_exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

std::vector<std::string> corrupt_files(const std::string& dir, const std::string& base) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind(base + ".corrupt-", 0) == 0 && !name.ends_with("-wal")) out.push_back(e.path().string());
  }
  return out;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST(PermissionStore, PutReplaceRemoveAndRestart) {
  TempDir dir;
  const std::string path = dir / "state/icotes/permissions.db";  // parents do not exist yet
  {
    auto store = open_clean(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(mode_of(dir / "state"), 0700u);
    EXPECT_EQ(mode_of(dir / "state/icotes"), 0700u);
    EXPECT_EQ(mode_of(path), 0600u);

    ASSERT_OK(store->put(grant("WriteFile", "directory", "src", "allow", 5, "lsp:Visual Studio Code")));
    ASSERT_OK(store->put(grant("Bash", "specific", "make -j4 test")));
    ASSERT_OK(store->put(grant("ReadFile", "project", "")));
    ASSERT_OK(store->put(grant("Network", "global", "", "deny")));
    EXPECT_EQ(mode_of(path + "-wal"), 0600u);

    auto all = store->grants();
    ASSERT_OK(all);
    ASSERT_EQ(all->size(), 4u);  // ordered by kind, scope, value
    EXPECT_EQ((*all)[0], grant("Bash", "specific", "make -j4 test"));
    EXPECT_EQ((*all)[1].kind, "Network");
    EXPECT_EQ((*all)[2].kind, "ReadFile");
    EXPECT_EQ((*all)[3], grant("WriteFile", "directory", "src", "allow", 5, "lsp:Visual Studio Code"));

    // Same (kind, scope, value): replaced, not added.
    ASSERT_OK(store->put(grant("WriteFile", "directory", "src", "deny", 9, "mcp:claude-code 1.2")));
    all = store->grants();
    ASSERT_EQ(all->size(), 4u);
    EXPECT_EQ((*all)[3], grant("WriteFile", "directory", "src", "deny", 9, "mcp:claude-code 1.2"));

    auto removed = store->remove("Bash", "specific", "make -j4 test");
    ASSERT_OK(removed);
    EXPECT_TRUE(*removed);
    removed = store->remove("Bash", "specific", "make -j4 test");
    ASSERT_OK(removed);
    EXPECT_FALSE(*removed);
    EXPECT_FALSE(*store->remove("WriteFile", "directory", "sr"));  // exact keys only
  }
  auto store = open_clean(path);  // a restart
  ASSERT_TRUE(store);
  auto all = store->grants();
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0], grant("Network", "global", "", "deny"));
  EXPECT_EQ((*all)[1], grant("ReadFile", "project", ""));
  EXPECT_EQ((*all)[2], grant("WriteFile", "directory", "src", "deny", 9, "mcp:claude-code 1.2"));
}

TEST(PermissionStore, RejectsGrantsOutsideTheVocabulary) {
  TempDir dir;
  auto store = open_clean(dir / "p.db");
  ASSERT_TRUE(store);
  for (const auto& g :
       {grant("Write", "specific", "a"), grant("WriteFile", "file", "a"), grant("WriteFile", "specific", "a", "Allow"),
        grant("WriteFile", "project", "src"), grant("Bash", "global", "rm -rf /")}) {
    auto st = store->put(g);
    ASSERT_FALSE(st.ok()) << g.kind << " " << g.scope << " " << g.answer;
    EXPECT_EQ(st.error().code, error_code::kInvalidParams);
  }
  EXPECT_EQ(store->put(grant("Write", "specific", "a")).error().message,
            "permission store: put: unknown kind 'Write' (expected ReadFile, WriteFile, EditFile, Bash, GitWrite or "
            "Network)");
  EXPECT_TRUE(store->grants()->empty());
}

StoredGrant numbered(std::uint32_t i) {
  // ~1.5 KB values: a page of WAL per put, so the WAL fills and checkpoints run while the child is being killed.
  return grant("EditFile", "specific", "src/" + std::to_string(i) + "/" + std::string(1500, 'x'));
}

// Child: puts numbered grants from `first` on, writing each completed index to `fd`. Never returns.
[[noreturn]] void put_forever(const std::string& path, std::uint32_t first, int fd) {
  auto o = Store::open(path);
  if (!o.ok() || !o->warning.empty()) ::_exit(2);
  for (std::uint32_t i = first; i < first + 1000000; ++i) {
    if (!o->store->put(numbered(i)).ok()) ::_exit(3);
    if (::write(fd, &i, sizeof i) != sizeof i) ::_exit(4);
  }
  ::_exit(0);
}

TEST(PermissionStore, SigkillMidWriteLosesNoCompletedPut) {
  TempDir dir;
  const std::string path = dir / "p.db";
  ASSERT_TRUE(open_clean(path));
  std::uint32_t first = 0;
  const int delays_ms[] = {3, 17, 40, 75, 120, 200};
  for (int delay : delays_ms) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      put_forever(path, first, fds[1]);
    }
    ::close(fds[1]);
    // Read completed counts until the deadline (so the child never blocks on a full pipe), then kill it.
    std::int64_t last = -1;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay);
    std::string buf;
    auto drain = [&](int timeout_ms) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
      char chunk[4096];
      ssize_t n = ::read(fds[0], chunk, sizeof chunk);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<std::size_t>(n));
      return true;
    };
    while (last < 0 || std::chrono::steady_clock::now() < deadline) {
      if (!drain(last < 0 ? 10000 : 1) && last < 0) break;
      if (buf.size() >= 4) last = 0;
    }
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited early, status " << status;
    while (drain(0)) {
    }
    ::close(fds[0]);
    ASSERT_GE(buf.size(), 4u) << "the child completed no put";
    std::uint32_t done = 0;
    std::memcpy(&done, buf.data() + (buf.size() / 4 - 1) * 4, 4);

    EXPECT_EQ(quick_check(path), "ok");
    auto store = open_clean(path);
    ASSERT_TRUE(store);
    auto all = store->grants();
    ASSERT_OK(all);
    std::set<std::string> values;
    for (const auto& g : *all) values.insert(g.value);
    for (std::uint32_t i = 0; i <= done; ++i) {
      ASSERT_TRUE(values.count(numbered(i).value))
          << "grant " << i << " of " << done << " lost (kill after " << delay << " ms)";
    }
    EXPECT_LE(values.size(), done + 2u);  // at most one put was committed but not yet reported
    first = done + 1;
  }
  std::cout << "[          ] " << first << " puts across " << std::size(delays_ms) << " kills\n";
}

// A store with 120 grants (~40 pages), closed cleanly (so all is in the main file, no -wal).
void populate(const std::string& path) {
  auto store = open_clean(path);
  ASSERT_TRUE(store);
  for (int i = 0; i < 120; ++i) {
    ASSERT_OK(store->put(grant("ReadFile", "specific", "f" + std::to_string(i) + std::string(1000, 'y'))));
  }
  ASSERT_OK(store->append({1, "cli", "files/read", "ReadFile", "a", "allow", "rule Read(**)"}));
}

// Opens the damaged `path`: a fresh, empty store, a warning naming both files, the old bytes kept.
void expect_set_aside(const TempDir& dir, const std::string& path, const std::string& old_bytes) {
  auto o = Store::open(path);
  ASSERT_TRUE(o.ok()) << o.error().message;
  auto aside = corrupt_files(dir.path(), "p.db");
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_NE(o->warning.find(path + " could not be read"), std::string::npos) << o->warning;
  EXPECT_NE(o->warning.find("moved to " + aside[0] + " "), std::string::npos) << o->warning;
  EXPECT_EQ(read_bytes(aside[0]), old_bytes);
  auto all = o->store->grants();
  ASSERT_OK(all);
  EXPECT_TRUE(all->empty());
  EXPECT_TRUE(o->store->audit(10)->empty());
  ASSERT_OK(o->store->put(grant("Bash", "specific", "ls")));
  o->store.reset();
  auto again = open_clean(path);  // the replacement is a good database
  ASSERT_TRUE(again);
  EXPECT_EQ(again->grants()->size(), 1u);
  EXPECT_EQ(corrupt_files(dir.path(), "p.db").size(), 1u);
}

TEST(PermissionStore, GarbageOverTheWholeFileIsSetAside) {
  TempDir dir;
  const std::string path = dir / "p.db";
  populate(path);
  std::string bytes = read_bytes(path);
  ASSERT_GT(bytes.size(), 40u * 1024);
  std::mt19937 rng(7);
  for (auto& c : bytes) c = static_cast<char>(rng());
  write_bytes(path, bytes);
  expect_set_aside(dir, path, bytes);
}

TEST(PermissionStore, GarbageOverPagesIsSetAside) {
  TempDir dir;
  const std::string path = dir / "p.db";
  populate(path);
  std::string bytes = read_bytes(path);
  std::mt19937 rng(11);
  for (std::size_t i = 4096; i < bytes.size(); ++i) bytes[i] = static_cast<char>(rng());  // page 1 (header) intact
  write_bytes(path, bytes);
  EXPECT_NE(quick_check(path), "ok");
  expect_set_aside(dir, path, bytes);
}

TEST(PermissionStore, TruncatedMidPageIsSetAside) {
  TempDir dir;
  const std::string path = dir / "p.db";
  populate(path);
  std::string bytes = read_bytes(path);
  bytes.resize(bytes.size() / 2 / 4096 * 4096 + 1000);
  write_bytes(path, bytes);
  expect_set_aside(dir, path, bytes);
}

TEST(PermissionStore, NonSqliteFileIsSetAside) {
  TempDir dir;
  const std::string path = dir / "p.db";
  const std::string text = "# not a database\n[permissions]\nallow = [\"Bash(*)\"]\n";
  write_bytes(path, text);
  expect_set_aside(dir, path, text);
}

TEST(PermissionStore, CorruptFileWithItsWalIsSetAsideTogether) {
  TempDir dir;
  const std::string path = dir / "p.db";
  populate(path);
  std::string bytes = read_bytes(path);
  std::mt19937 rng(3);
  for (auto& c : bytes) c = static_cast<char>(rng());
  write_bytes(path, bytes);
  write_bytes(path + "-wal", "stale wal");
  expect_set_aside(dir, path, bytes);
  auto aside = corrupt_files(dir.path(), "p.db");
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_EQ(read_bytes(aside[0] + "-wal"), "stale wal");
}

TEST(PermissionStore, ConcurrentOpensOfACorruptFileMoveItOnce) {
  TempDir dir;
  const std::string path = dir / "p.db";
  populate(path);
  std::string bytes = read_bytes(path);
  std::mt19937 rng(5);
  for (auto& c : bytes) c = static_cast<char>(rng());
  write_bytes(path, bytes);
  std::vector<std::optional<Result<Store::Opened>>> results(4);
  {
    std::vector<std::thread> threads;
    for (auto& r : results) threads.emplace_back([&] { r.emplace(Store::open(path)); });
    for (auto& t : threads) t.join();
  }
  int warnings = 0;
  std::vector<Store::Opened> opened;
  for (auto& r : results) {
    ASSERT_OK(*r);
    warnings += !(*r)->warning.empty();
    opened.push_back(std::move(**r));
  }
  EXPECT_EQ(warnings, 1);  // the one that moved the file; the others opened its replacement
  auto aside = corrupt_files(dir.path(), "p.db");
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_EQ(read_bytes(aside[0]), bytes);
  ASSERT_OK(opened[0].store->put(grant("Bash", "specific", "ls")));
  for (auto& o : opened) EXPECT_EQ(o.store->grants()->size(), 1u);  // all on the same, live file
}

// Files that are readable but not usable are refused, never renamed.
void expect_refused(const TempDir& dir, const std::string& path, const std::string& message_part) {
  std::string before = read_bytes(path);
  auto o = Store::open(path);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, error_code::kIoError);
  EXPECT_NE(o.error().message.find(message_part), std::string::npos) << o.error().message;
  EXPECT_EQ(o.error().data["path"], path);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(corrupt_files(dir.path(), "p.db").empty());
}

TEST(PermissionStore, NewerSchemaIsRefused) {
  TempDir dir;
  const std::string path = dir / "p.db";
  populate(path);
  raw_exec(path, "PRAGMA user_version=99");
  expect_refused(dir, path, "schema version 99 was written by a newer icotes");
}

TEST(PermissionStore, ForeignDatabaseIsRefused) {
  TempDir dir;
  const std::string path = dir / "p.db";
  raw_exec(path, "CREATE TABLE notes(x); INSERT INTO notes VALUES(1)");
  expect_refused(dir, path, "another application");
  raw_exec(path, "PRAGMA application_id=1234");
  expect_refused(dir, path, "another application (application_id 1234)");
}

TEST(PermissionStore, LockedDatabaseIsAnErrorAfterTheBusyTimeout) {
  TempDir dir;
  const std::string path = dir / "p.db";
  populate(path);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto start = std::chrono::steady_clock::now();
  expect_refused(dir, path, "locked");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(kBusyTimeoutMs - 100));
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto store = open_clean(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->grants()->size(), 120u);
}

TEST(PermissionStore, UnusablePathsAreErrors) {
  TempDir dir;
  write_bytes(dir / "file", "x");
  auto o = Store::open(dir / "file/p.db");  // parent is a file
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, error_code::kIoError);
  fs::create_directory(dir / "adir");
  o = Store::open(dir / "adir");  // a directory
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, error_code::kIoError);
  EXPECT_TRUE(fs::is_directory(dir / "adir"));
}

TEST(PermissionStore, TwoStoresOnOneFileSeeEachOther) {
  TempDir dir;
  const std::string path = dir / "p.db";
  auto a = open_clean(path);
  auto b = open_clean(path);
  ASSERT_TRUE(a && b);
  ASSERT_OK(a->put(grant("GitWrite", "project", "")));
  auto seen = b->grants();
  ASSERT_OK(seen);
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0], grant("GitWrite", "project", ""));
  EXPECT_TRUE(*b->remove("GitWrite", "project", ""));
  EXPECT_TRUE(a->grants()->empty());
  ASSERT_OK(b->append({1, "lsp:Neovim", "files/write", "WriteFile", "a", "allow", "mode acceptEdits"}));
  EXPECT_EQ(a->audit(10)->size(), 1u);
}

TEST(PermissionStore, AnotherProcessPutIsSeen) {
  TempDir dir;
  const std::string path = dir / "p.db";
  int go[2], done[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(done), 0);
  pid_t pid = ::fork();  // before any connection exists in this process
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(go[1]);
    ::close(done[0]);
    char c = 0;
    if (::read(go[0], &c, 1) != 1) ::_exit(2);
    auto o = Store::open(path);
    if (!o.ok() || !o->store->put(grant("Bash", "specific", "npm test", "allow", 1, "mcp:other")).ok()) ::_exit(3);
    if (::write(done[1], "d", 1) != 1) ::_exit(4);
    if (::read(go[0], &c, 1) != 1) ::_exit(5);  // keep the connection open until the parent has looked
    ::_exit(0);
  }
  ::close(go[0]);
  ::close(done[1]);  // so that a child that dies makes the read below return 0
  auto store = open_clean(path);
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->grants()->empty());
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(done[0], &c, 1), 1) << "the child failed";
  auto all = store->grants();
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0], grant("Bash", "specific", "npm test", "allow", 1, "mcp:other"));
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PermissionStore, ConcurrentOpensAndWritersAllSucceed) {
  TempDir dir;
  const std::string path = dir / "p.db";  // does not exist: the first opens race to create the schema
  std::vector<std::unique_ptr<Store>> stores(4);
  {
    std::vector<std::thread> threads;
    for (auto& s : stores) threads.emplace_back([&] { s = open_clean(path); });
    for (auto& t : threads) t.join();
  }
  for (auto& s : stores) ASSERT_TRUE(s);
  // Two threads per connection: the mutex serialises one store, the busy timeout the connections.
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Store& s = *stores[t % stores.size()];
      for (int i = 0; i < 40; ++i) {
        if (!s.put(grant("WriteFile", "specific", std::to_string(t) + "/" + std::to_string(i))).ok()) ++failures;
        if (!s.append({i, "t" + std::to_string(t), "files/write", "WriteFile", "x", "allow", "grant"}).ok()) ++failures;
        if (!s.grants().ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(stores[0]->grants()->size(), 8u * 40);
  EXPECT_EQ(stores[1]->audit(100000)->size(), 8u * 40);
}

AuditRecord record(int i) {
  return {1700000000000 + i,
          i % 2 ? "lsp:Neovim" : "mcp:claude-code 1.2",
          "files/write",
          "WriteFile",
          "src/" + std::to_string(i) + ".c",
          i % 3 ? "allow" : "deny",
          "rule Edit(src/**)"};
}

TEST(PermissionStore, AuditNewestFirstWithLimitOffsetAndTrim) {
  TempDir dir;
  const std::string path = dir / "p.db";
  auto store = open_clean(path);
  ASSERT_TRUE(store);
  for (int i = 0; i < 1000; ++i) ASSERT_OK(store->append(record(i)));

  auto page = store->audit(10);
  ASSERT_OK(page);
  ASSERT_EQ(page->size(), 10u);
  for (int k = 0; k < 10; ++k) EXPECT_EQ((*page)[k], record(999 - k));
  page = store->audit(10, 995);
  ASSERT_EQ(page->size(), 5u);
  EXPECT_EQ(page->front(), record(4));
  EXPECT_EQ(page->back(), record(0));
  EXPECT_TRUE(store->audit(0)->empty());
  EXPECT_TRUE(store->audit(10, 1000)->empty());
  EXPECT_EQ(store->audit(SIZE_MAX, 0)->size(), 1000u);
  EXPECT_EQ(store->audit(SIZE_MAX, SIZE_MAX)->size(), 0u);

  // Newest means last appended, whatever time_ms says (clocks step back).
  ASSERT_OK(store->append(record(-5)));
  EXPECT_EQ(store->audit(1)->front(), record(-5));

  ASSERT_OK(store->trim_audit(2000));
  EXPECT_EQ(store->audit(SIZE_MAX)->size(), 1001u);
  ASSERT_OK(store->trim_audit(100));
  auto kept = store->audit(SIZE_MAX);
  ASSERT_EQ(kept->size(), 100u);
  EXPECT_EQ(kept->front(), record(-5));
  EXPECT_EQ(kept->back(), record(901));
  ASSERT_OK(store->append(record(1000)));  // ids go on after a trim
  EXPECT_EQ(store->audit(1)->front(), record(1000));
  ASSERT_OK(store->trim_audit(0));
  EXPECT_TRUE(store->audit(SIZE_MAX)->empty());

  store.reset();
  store = open_clean(path);
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->audit(SIZE_MAX)->empty());
}

TEST(PermissionStore, AuditBatchIsOneTransactionInOrder) {
  TempDir dir;
  auto store = open_clean(dir / "p.db");
  ASSERT_TRUE(store);
  std::vector<AuditRecord> batch;
  for (int i = 0; i < 500; ++i) batch.push_back(record(i));
  ASSERT_OK(store->append(batch));
  ASSERT_OK(store->append(std::vector<AuditRecord>{}));
  auto page = store->audit(500);
  ASSERT_OK(page);
  ASSERT_EQ(page->size(), 500u);
  for (int k = 0; k < 500; ++k) ASSERT_EQ((*page)[k], record(499 - k));
}

TEST(PermissionStore, AwkwardStringsComeBackExactly) {
  TempDir dir;
  const std::string path = dir / "p.db";
  std::string long_value(64 * 1024, '\0');
  for (std::size_t i = 0; i < long_value.size(); ++i) long_value[i] = static_cast<char>('a' + i % 26);
  const std::vector<std::string> values = {
      "it's \"quoted\"",
      "'); DROP TABLE grants; --",
      "Ünïcödé/日本語/🙂 emoji.txt",
      "back\\slash %_ [glob]* {a,b} $HOME `cmd`",
      "tab\tnewline\ncr\r",
      " leading and trailing ",
      long_value,
  };
  std::vector<StoredGrant> put;
  {
    auto store = open_clean(path);
    ASSERT_TRUE(store);
    for (const auto& v : values) {
      put.push_back(grant("Bash", "specific", v, "allow", -1, "lsp:" + v));
      ASSERT_OK(store->put(put.back()));
      ASSERT_OK(store->append({0, v, v, v, v, v, v}));
    }
    put.push_back(grant("ReadFile", "directory", ""));  // the workspace root
    ASSERT_OK(store->put(put.back()));
  }
  auto store = open_clean(path);
  ASSERT_TRUE(store);
  auto all = store->grants();
  ASSERT_OK(all);
  std::sort(put.begin(), put.end(), [](const StoredGrant& a, const StoredGrant& b) {
    return std::tie(a.kind, a.scope, a.value) < std::tie(b.kind, b.scope, b.value);  // bytewise, as SQLite BINARY
  });
  EXPECT_EQ(*all, put);
  auto log = store->audit(SIZE_MAX);
  ASSERT_EQ(log->size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& v = values[values.size() - 1 - i];
    EXPECT_EQ((*log)[i], (AuditRecord{0, v, v, v, v, v, v}));
  }
  EXPECT_TRUE(*store->remove("Bash", "specific", long_value));
  EXPECT_TRUE(*store->remove("Bash", "specific", "'); DROP TABLE grants; --"));
  EXPECT_EQ(store->grants()->size(), put.size() - 2);
}

// Not a check: prints what a put (synchronous=FULL, an fsync per commit) and an append (NORMAL) cost on /tmp.
TEST(PermissionStore, ReportsWriteCost) {
  TempDir dir;
  auto store = open_clean(dir / "p.db");
  ASSERT_TRUE(store);
  using clock = std::chrono::steady_clock;
  auto per_op_us = [](clock::time_point start, int n) {
    return std::chrono::duration<double, std::micro>(clock::now() - start).count() / n;
  };
  constexpr int kPuts = 200, kAppends = 2000;
  auto start = clock::now();
  for (int i = 0; i < kPuts; ++i) ASSERT_OK(store->put(grant("ReadFile", "specific", std::to_string(i))));
  double put_us = per_op_us(start, kPuts);
  start = clock::now();
  for (int i = 0; i < kAppends; ++i) ASSERT_OK(store->append(record(i)));
  double append_us = per_op_us(start, kAppends);
  std::cout << "[          ] put " << put_us << " us/op, append " << append_us << " us/op\n";
  RecordProperty("put_us", std::to_string(put_us));
  RecordProperty("append_us", std::to_string(append_us));
}

}  // namespace
}  // namespace icotes::permissions
