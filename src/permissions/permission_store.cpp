// The permission store (include/permissions/icotes/permission_store.hpp) on the SQLite C API.
#include "icotes/permission_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <thread>
#include <utility>

namespace icotes::permissions {
namespace {

constexpr std::array<std::string_view, 6> kKinds = {"ReadFile", "WriteFile", "EditFile", "Bash", "GitWrite", "Network"};
// "rule": a rule saved by `icotes permissions allow|deny` (value: its text, `Bash(echo:*)`).
constexpr std::array<std::string_view, 5> kScopes = {"specific", "directory", "project", "global", "rule"};
constexpr std::array<std::string_view, 2> kAnswers = {"allow", "deny"};

// Version 1. Grants: a rowid table (values may be 64 KiB and more, too large for WITHOUT ROWID rows) with the
// (kind, scope, value) key as a UNIQUE index. Audit: `id` orders records by commit, whatever the clocks say.
constexpr const char* kSchemaSql = R"SQL(
CREATE TABLE grants(
  kind TEXT NOT NULL, scope TEXT NOT NULL, value TEXT NOT NULL, answer TEXT NOT NULL,
  created_ms INTEGER NOT NULL, granted_by TEXT NOT NULL,
  UNIQUE(kind, scope, value));
CREATE TABLE audit(
  id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, client TEXT NOT NULL, operation TEXT NOT NULL,
  kind TEXT NOT NULL, target TEXT NOT NULL, answer TEXT NOT NULL, decided_by TEXT NOT NULL);
)SQL";

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Error io_error(const std::string& path, std::string message, int sqlite_code = 0) {
  json data = {{"path", path}};
  if (sqlite_code != 0) data["sqliteCode"] = sqlite_code;
  return make_error(error_code::kIoError, "permission store " + path + ": " + std::move(message), std::move(data));
}

Error errno_error(const std::string& path, std::string_view what, const std::string& target) {
  return io_error(path, std::string(what) + " " + target + ": " + std::strerror(errno));
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// An fd closed when it goes out of scope.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Fd open_dir(const std::string& dir) {
  return Fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

// fsync(2) of `dir`, so that a created or renamed entry in it survives a machine crash. Best effort.
void sync_dir(const std::string& dir) {
  Fd d = open_dir(dir);
  if (d.fd >= 0) ::fsync(d.fd);
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Creates the missing directories of `dir`, each with mode 0700.
Status make_dirs(const std::string& path, const std::string& dir) {
  if (dir.empty() || exists(dir)) return ok_status();
  if (auto st = make_dirs(path, parent_of(dir)); !st.ok()) return st;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return errno_error(path, "cannot create directory", dir);
  return ok_status();
}

// Creates `path` with mode 0600 unless it exists (SQLite would create it 0644, and copies the database file's mode
// to its -wal and -shm files).
Status create_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ok_status();
    return errno_error(path, "cannot create", path);
  }
  ::close(fd);
  sync_dir(parent_of(path));
  return ok_status();
}

// An SQLite result code's primary code.
int primary(int rc) { return rc & 0xff; }
bool is_corruption(int rc) { return primary(rc) == SQLITE_CORRUPT || primary(rc) == SQLITE_NOTADB; }

std::string describe(sqlite3* db, int rc) {
  std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return msg + " (SQLite code " + std::to_string(rc) + ")";
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using LocalStmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// Resets a kept statement and drops its bindings (they point into the caller's strings) when a call ends.
struct ResetOnExit {
  sqlite3_stmt* s;
  ~ResetOnExit() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

// Binds `texts` to parameters first, first + 1, ...; the first failure's code (SQLITE_TOOBIG past 1e9 bytes).
// SQLITE_STATIC: the texts outlive the step, and ResetOnExit unbinds them. (Not named bind: ADL finds std::bind.)
int bind_texts(sqlite3_stmt* s, int first, std::initializer_list<std::string_view> texts) {
  for (std::string_view t : texts) {
    int rc = sqlite3_bind_text64(s, first++, t.empty() ? "" : t.data(), t.size(), SQLITE_STATIC, SQLITE_UTF8);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

std::string column(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));  // before _bytes (sqlite3_column_blob)
  if (p == nullptr) return "";
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i)));
}

sqlite3_int64 to_int64(std::size_t n) {
  return static_cast<sqlite3_int64>(std::min<std::size_t>(n, std::numeric_limits<sqlite3_int64>::max()));
}

class Checker {
 public:
  Checker(const std::string& path, sqlite3* db) : path_(path), db_(db) {}

  // Runs the one statement `sql`, handing each row to `row` (may be null). Corruption lands in corrupt_.
  Status run(const char* sql, std::string_view what, const std::function<void(sqlite3_stmt*)>& row = nullptr) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
    LocalStmt s(raw);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
      rc = sqlite3_step(s.get());
      if (rc == SQLITE_ROW && row) row(s.get());
      if (rc == SQLITE_DONE) return ok_status();
    }
    if (is_corruption(rc)) corrupt_ = describe(db_, rc);
    return io_error(path_, std::string(what) + ": " + describe(db_, rc), rc);
  }

  // Runs one or more statements that return no rows.
  Status exec(const char* sql, std::string_view what) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return ok_status();
    if (is_corruption(rc)) corrupt_ = describe(db_, rc);
    return io_error(path_, std::string(what) + ": " + describe(db_, rc), rc);
  }

  Result<std::int64_t> integer(const char* sql, std::string_view what) {
    std::int64_t v = 0;
    auto st = run(sql, what, [&](sqlite3_stmt* s) { v = sqlite3_column_int64(s, 0); });
    if (!st.ok()) return std::move(st).error();
    return v;
  }

  const std::string& corrupt() const { return corrupt_; }
  void set_corrupt(std::string why) { corrupt_ = std::move(why); }

 private:
  const std::string& path_;
  sqlite3* db_;
  std::string corrupt_;
};

// Creates the schema unless another process did it first. Runs with synchronous=FULL.
Status init_schema(Checker& c) {
  if (auto st = c.exec("BEGIN IMMEDIATE", "cannot lock to create the schema"); !st.ok()) return st;
  auto version = c.integer("PRAGMA user_version", "cannot read the schema version");
  Status st = ok_status();
  if (!version.ok()) {
    st = std::move(version).error();
  } else if (*version == 0) {
    st = c.exec(kSchemaSql, "cannot create the schema");
    if (st.ok()) {
      static const std::string set = "PRAGMA application_id=" + std::to_string(kApplicationId) +
                                     "; PRAGMA user_version=" + std::to_string(kSchemaVersion);
      st = c.exec(set.c_str(), "cannot set the schema version");
    }
  }
  if (!st.ok()) {
    (void)c.exec("ROLLBACK", "cannot roll back");
    return st;
  }
  return c.exec("COMMIT", "cannot commit the schema");
}

// WAL lets readers and the other process's writer go on together; FULL makes each commit durable. Some file
// systems cannot do WAL (no shared memory): the rollback journal with FULL is as durable, only less concurrent.
// Switching to WAL needs a moment of exclusive access, and SQLite answers BUSY at once (no busy handler) while
// another connection opens the same new file: retried within the busy timeout.
Status set_wal(Checker& c) {
  for (int waited_ms = 0;; waited_ms += 5) {
    Status st = c.run("PRAGMA journal_mode=WAL", "cannot set journal_mode");
    if (st.ok()) return st;
    const int code = st.error().data.is_object() ? st.error().data.value("sqliteCode", 0) & 0xFF : 0;
    if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) || waited_ms >= kBusyTimeoutMs) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status check_and_init(const std::string& path, sqlite3* db, Checker& c) {
  if (sqlite3_db_readonly(db, "main") == 1) return io_error(path, "the file is read-only; icotes needs to write it");
  sqlite3_busy_timeout(db, kBusyTimeoutMs);

  // Reads every page (and, after a crash, replays the WAL first). NOTADB and CORRUPT land in c.corrupt().
  std::string verdict;
  auto st = c.run("PRAGMA quick_check", "quick_check failed", [&](sqlite3_stmt* s) {
    if (!verdict.empty()) return;
    verdict = column(s, 0);
  });
  if (!st.ok()) return st;
  if (verdict != "ok") {
    c.set_corrupt("quick_check: " + verdict);
    return io_error(path, "quick_check: " + verdict);
  }

  // One statement, so one snapshot: another process may be creating the schema meanwhile.
  std::int64_t app = 0, version = 0, tables = 0;
  st = c.run(
      "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), "
      "(SELECT count(*) FROM sqlite_master)",
      "cannot read the schema", [&](sqlite3_stmt* s) {
        app = sqlite3_column_int64(s, 0);
        version = sqlite3_column_int64(s, 1);
        tables = sqlite3_column_int64(s, 2);
      });
  if (!st.ok()) return st;

  if (app != 0 && app != kApplicationId) {
    return io_error(path, "the file is an SQLite database of another application (application_id " +
                              std::to_string(app) + "); point icotes at another file");
  }
  if (version > kSchemaVersion) {
    return io_error(path, "schema version " + std::to_string(version) + " was written by a newer icotes (this one " +
                              "knows version " + std::to_string(kSchemaVersion) + "); upgrade icotes");
  }
  if (app == 0 && (version != 0 || tables != 0)) {
    return io_error(path,
                    "the file is an SQLite database of another application (it has tables or a user_version but "
                    "no icotes application_id); point icotes at another file");
  }
  if (app == kApplicationId && version == 0) {  // both are set in the one transaction that creates the schema
    c.set_corrupt("application_id is set but the schema version is 0");
    return io_error(path, c.corrupt());
  }

  if (st = set_wal(c); !st.ok()) return st;
  if (st = c.exec("PRAGMA synchronous=FULL", "cannot set synchronous"); !st.ok()) return st;
  if (version == 0) {
    if (st = init_schema(c); !st.ok()) return st;
  }
  auto ours = c.integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('grants', 'audit')",
                        "cannot read the schema");
  if (!ours.ok()) return std::move(ours).error();
  if (*ours != 2) {
    c.set_corrupt("the icotes tables are missing");
    return io_error(path, c.corrupt());
  }
  return ok_status();
}

// Opens `path` (which exists) and checks it. On error, corrupt (when set) says the file must be set aside.
Result<sqlite3*> open_checked(const std::string& path, std::string& corrupt) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> db(raw, &sqlite3_close_v2);
  if (rc != SQLITE_OK) return io_error(path, "cannot open: " + describe(raw, rc), rc);
  sqlite3_extended_result_codes(raw, 1);
  // Until the file passed its checks, closing must not checkpoint: that would write the -wal into a corrupt file
  // and delete it, and the set-aside copy would not be what was found.
  sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  Checker c(path, raw);
  auto st = check_and_init(path, raw, c);
  corrupt = c.corrupt();
  if (!st.ok()) return std::move(st).error();
  sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);
  return db.release();
}

// Renames the corrupt file `found` at `path` (and its -wal and rollback -journal, which would otherwise be replayed
// into the new database) to `<path>.corrupt-<ms>`, removes its -shm, and creates an empty `path`. Returns the new
// name, or nullopt when `path` is no longer `found`: another process that found the same corrupt file set it aside
// first and may be writing grants to its replacement. The caller holds flock(2) on the directory (Store::open), so
// two openers never both move one file (the second would move the first one's replacement).
Result<std::optional<std::string>> set_aside(const std::string& path, const struct stat& found) {
  struct stat now {};
  if (::stat(path.c_str(), &now) != 0 || now.st_dev != found.st_dev || now.st_ino != found.st_ino) {
    if (auto st = create_file(path); !st.ok()) return std::move(st).error();
    return std::optional<std::string>();
  }
  std::int64_t ms = now_ms();
  std::string dest;
  for (;; ++ms) {
    dest = path + ".corrupt-" + std::to_string(ms);
    if (!exists(dest) && !exists(dest + "-wal") && !exists(dest + "-journal")) break;
  }
  if (::rename(path.c_str(), dest.c_str()) != 0) return errno_error(path, "cannot set aside the unreadable file", path);
  for (const char* suffix : {"-wal", "-journal"}) {
    std::string from = path + suffix;
    if (!exists(from)) continue;
    if (::rename(from.c_str(), (dest + suffix).c_str()) != 0) return errno_error(path, "cannot set aside", from);
  }
  ::unlink((path + "-shm").c_str());  // an index of the -wal; rebuilt when missing
  if (auto st = create_file(path); !st.ok()) return std::move(st).error();  // syncs the directory
  return std::optional<std::string>(dest);
}

}  // namespace

void Store::DbClose::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void Store::StmtFinalize::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

Store::Store(std::string path, Db db) : path_(std::move(path)), db_(std::move(db)), sync_(Sync::kFull) {}
Store::~Store() = default;

namespace {

// What the user is told when a store that could not be read was set aside (to `dest`) and replaced.
std::string set_aside_warning(const std::string& path, const std::string& corrupt, const std::string& dest) {
  return "permission store " + path + " could not be read (" + corrupt + "); it was moved to " + dest +
         " and an empty store was created in its place: remembered permission answers are gone, so clients will be "
         "asked again";
}

}  // namespace

// The open-and-repair retry loop, one state machine under the directory lock: each attempt's outcome (opened, schema
// mismatch, file vanished, corrupt, set aside by another process) decides the next.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): kept whole, as said above
Result<Store::Opened> Store::open(const std::string& path, bool repair) {
  if (path.empty()) return make_error(error_code::kInvalidParams, "permission store: empty database path");
  if (repair) {
    if (auto st = make_dirs(path, parent_of(path)); !st.ok()) return std::move(st).error();
    if (auto st = create_file(path); !st.ok()) return std::move(st).error();
  }
  // Openers of one directory's stores take turns, threads and processes alike (flock(2) on the directory, released
  // when `dir` closes): a new file's first open switches it to WAL and creates the schema, and a corrupt one is set
  // aside and replaced; done concurrently, an opener could meet a journal just deleted, a file being replaced, or
  // the replacement half made, and take it for corrupt. Opening is rare (start-up) and quick.
  const std::string dir_path = parent_of(path);
  Fd dir = open_dir(dir_path);
  if (dir.fd < 0) return errno_error(path, "cannot open the directory", dir_path);
  while (::flock(dir.fd, LOCK_EX) != 0)
    if (errno != EINTR) return errno_error(path, "cannot lock the directory", dir_path);

  Opened out;
  constexpr int kOpenAttempts = 5;
  for (int attempt = 0; attempt < kOpenAttempts; ++attempt) {
    struct stat found {};
    if (::stat(path.c_str(), &found) != 0) return errno_error(path, "cannot stat", path);
    std::string corrupt;
    auto db = open_checked(path, corrupt);
    if (db.ok()) {
      std::unique_ptr<Store> store(new Store(path, Db(*db)));
      auto st = store->prepare_all();
      if (st.ok()) {
        // A small page cache (256 KiB instead of SQLite's 2 MiB) from now on: these databases are written a row
        // at a time and read rarely, and the server's resident memory is measured (README "Performance").
        sqlite3_exec(store->db_.get(), "PRAGMA cache_size=-256", nullptr, nullptr, nullptr);
        out.store = std::move(store);
        return out;
      }
      int rc = st.error().data.value("sqliteCode", 0);
      if (!out.warning.empty() || (primary(rc) != SQLITE_ERROR && !is_corruption(rc))) return std::move(st).error();
      corrupt = "the schema does not match version " + std::to_string(kSchemaVersion) + ": " + st.error().message;
    } else if (corrupt.empty() || !out.warning.empty()) {
      // Another process may have set the file aside a moment ago and not yet created its replacement.
      const int rc = db.error().data.value("sqliteCode", 0);
      if (primary(rc) == SQLITE_CANTOPEN && attempt + 1 < kOpenAttempts && repair) {
        if (auto st = create_file(path); !st.ok()) return std::move(st).error();
        continue;
      }
      return std::move(db).error();  // not corruption, or the fresh file is unreadable too: nothing more to try
    }
    if (!repair) return io_error(path, "cannot be read (" + corrupt + "); left as it is");
    auto dest = set_aside(path, found);
    if (!dest.ok()) return std::move(dest).error();
    if (!*dest) continue;  // another process set it aside (and warns); open its replacement
    out.warning = set_aside_warning(path, corrupt, **dest);
  }
  return io_error(path, "the file kept being replaced while it was opened; try again");
}

Status Store::prepare_all() {
  struct Def {
    Stmt* stmt;
    const char* sql;
  };
  const Def defs[] = {
      {&grants_, "SELECT kind, scope, value, answer, created_ms, granted_by FROM grants ORDER BY kind, scope, value"},
      {&put_,
       "INSERT INTO grants(kind, scope, value, answer, created_ms, granted_by) VALUES(?1, ?2, ?3, ?4, ?5, ?6) "
       "ON CONFLICT(kind, scope, value) DO UPDATE SET answer = excluded.answer, created_ms = excluded.created_ms, "
       "granted_by = excluded.granted_by"},
      {&remove_, "DELETE FROM grants WHERE kind = ?1 AND scope = ?2 AND value = ?3"},
      {&append_,
       "INSERT INTO audit(time_ms, client, operation, kind, target, answer, decided_by) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
      {&audit_,
       "SELECT time_ms, client, operation, kind, target, answer, decided_by FROM audit "
       "ORDER BY id DESC LIMIT ?1 OFFSET ?2"},
      {&trim_, "DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?1)"},
  };
  for (const auto& d : defs) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), d.sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    d.stmt->reset(raw);
    if (rc != SQLITE_OK) return fail(rc, "cannot prepare a statement");
  }
  return ok_status();
}

Error Store::fail(int rc, std::string_view what) const {
  return io_error(path_, std::string(what) + ": " + describe(db_.get(), rc), rc);
}

// synchronous is a connection setting, applied at each commit; changing it is only allowed outside a transaction,
// and every call here ends its own.
Status Store::set_sync(Sync s) {
  if (sync_ == s) return ok_status();
  const char* sql = s == Sync::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc, "cannot set synchronous");
  sync_ = s;
  return ok_status();
}

Result<std::vector<StoredGrant>> Store::grants() {
  std::lock_guard lock(mu_);
  sqlite3_stmt* s = grants_.get();
  ResetOnExit reset{s};
  std::vector<StoredGrant> out;
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return out;
    if (rc != SQLITE_ROW) return fail(rc, "cannot read grants");
    out.push_back({column(s, 0), column(s, 1), column(s, 2), column(s, 3), sqlite3_column_int64(s, 4), column(s, 5)});
  }
}

namespace {

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

std::optional<Error> invalid_grant(const StoredGrant& g) {
  auto bad = [](const std::string& what, std::string_view v, std::string_view expected) {
    return make_error(error_code::kInvalidParams, "permission store: put: unknown " + what + " '" + std::string(v) +
                                                      "' (expected " + std::string(expected) + ")");
  };
  if (!one_of(kKinds, g.kind)) return bad("kind", g.kind, "ReadFile, WriteFile, EditFile, Bash, GitWrite or Network");
  if (!one_of(kScopes, g.scope)) return bad("scope", g.scope, "specific, directory, project, global or rule");
  if (!one_of(kAnswers, g.answer)) return bad("answer", g.answer, "allow or deny");
  if ((g.scope == "project" || g.scope == "global") && !g.value.empty()) {
    return make_error(error_code::kInvalidParams, "permission store: put: a " + g.scope + " grant has no value (got '" +
                                                      g.value.substr(0, 80) + "'); pass an empty value");
  }
  return std::nullopt;
}

}  // namespace

Status Store::put(const StoredGrant& g) {
  if (auto e = invalid_grant(g)) return std::move(*e);
  std::lock_guard lock(mu_);
  if (auto st = set_sync(Sync::kFull); !st.ok()) return st;
  sqlite3_stmt* s = put_.get();
  ResetOnExit reset{s};
  int rc = bind_texts(s, 1, {g.kind, g.scope, g.value, g.answer});
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 5, g.created_ms);
  if (rc == SQLITE_OK) rc = bind_texts(s, 6, {g.granted_by});
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return fail(rc, "cannot store the grant " + g.kind + " " + g.scope + " '" + g.value + "'");
  return ok_status();
}

Result<bool> Store::remove(std::string_view kind, std::string_view scope, std::string_view value) {
  std::lock_guard lock(mu_);
  if (auto st = set_sync(Sync::kFull); !st.ok()) return std::move(st).error();
  sqlite3_stmt* s = remove_.get();
  ResetOnExit reset{s};
  int rc = bind_texts(s, 1, {kind, scope, value});
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return fail(rc, "cannot remove the grant");
  return sqlite3_changes64(db_.get()) > 0;
}

Status Store::append(const AuditRecord& r) {
  std::lock_guard lock(mu_);
  if (auto st = set_sync(Sync::kNormal); !st.ok()) return st;
  sqlite3_stmt* s = append_.get();
  ResetOnExit reset{s};
  int rc = sqlite3_bind_int64(s, 1, r.time_ms);
  if (rc == SQLITE_OK) rc = bind_texts(s, 2, {r.client, r.operation, r.kind, r.target, r.answer, r.decided_by});
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return fail(rc, "cannot append an audit record");
  return ok_status();
}

Status Store::append(const std::vector<AuditRecord>& records) {
  if (records.empty()) return ok_status();
  std::lock_guard lock(mu_);
  if (auto st = set_sync(Sync::kNormal); !st.ok()) return st;
  // One transaction for the batch: one WAL commit instead of one per record.
  int rc = sqlite3_exec(db_.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc, "cannot begin an audit batch");
  sqlite3_stmt* s = append_.get();
  for (const auto& r : records) {
    ResetOnExit reset{s};
    rc = sqlite3_bind_int64(s, 1, r.time_ms);
    if (rc == SQLITE_OK) rc = bind_texts(s, 2, {r.client, r.operation, r.kind, r.target, r.answer, r.decided_by});
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
      Error e = fail(rc, "cannot append an audit record");
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      return e;
    }
  }
  rc = sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    Error e = fail(rc, "cannot commit an audit batch");
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    return e;
  }
  return ok_status();
}

Result<std::vector<AuditRecord>> Store::audit(std::size_t limit, std::size_t offset) {
  std::lock_guard lock(mu_);
  sqlite3_stmt* s = audit_.get();
  ResetOnExit reset{s};
  sqlite3_bind_int64(s, 1, to_int64(limit));
  sqlite3_bind_int64(s, 2, to_int64(offset));
  std::vector<AuditRecord> out;
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return out;
    if (rc != SQLITE_ROW) return fail(rc, "cannot read the audit log");
    out.push_back({sqlite3_column_int64(s, 0), column(s, 1), column(s, 2), column(s, 3), column(s, 4), column(s, 5),
                   column(s, 6)});
  }
}

Status Store::trim_audit(std::size_t keep) {
  std::lock_guard lock(mu_);
  if (auto st = set_sync(Sync::kNormal); !st.ok()) return st;
  sqlite3_stmt* s = trim_.get();
  ResetOnExit reset{s};
  sqlite3_bind_int64(s, 1, to_int64(keep));
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return fail(rc, "cannot trim the audit log");
  return ok_status();
}

}  // namespace icotes::permissions
