// The permission store: the answers a user gave that icotes remembers
// (grants), and a log of every permission decision (audit), in one SQLite
// database per workspace (SQLite 3 C API, https://sqlite.org/c3ref/intro.html).
//
// Durability: the database runs in WAL mode (https://sqlite.org/wal.html).
// put() and remove() commit with `synchronous=FULL`, so a grant whose put()
// returned survives a crash of the process or of the machine; append() and
// trim_audit() commit with `synchronous=NORMAL` (the newest audit records may
// be lost on power failure, never on a process crash; the database is never
// corrupted either way). Two icotes processes (one per client) may share a
// database: each write waits up to kBusyTimeoutMs for the other's lock.
//
// Safety: the store only stores; it never decides. A database that cannot be
// read is set aside and replaced by an empty one *with a warning* (Opened::
// warning), so that a caller can tell the user that remembered answers are
// gone; read errors after open() are returned, never papered over with an
// empty or partial list. A Store is thread-safe (one mutex around one
// connection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace icotes::permissions {

/// How long a statement waits for another connection's lock before failing with kIoError.
inline constexpr int kBusyTimeoutMs = 5000;
/// Schema version kept in `PRAGMA user_version`; a database with a higher one is refused.
inline constexpr int kSchemaVersion = 1;
/// `PRAGMA application_id` of an icotes permission database ("icop").
inline constexpr std::int32_t kApplicationId = 0x69636f70;
/// Audit records trim_audit() keeps when a caller has no better number.
inline constexpr std::size_t kDefaultAuditKeep = 100000;

/// A remembered answer. kind: "ReadFile" | "WriteFile" | "EditFile" | "Bash" | "GitWrite" | "Network";
/// scope: "specific" | "directory" | "project" | "global" | "rule"; value: workspace-relative path or directory ("" =
/// root), a rule's text for "rule" (`Bash(echo:*)`, `Edit(src/**)`), or a command line for Bash specific grants; "" for
/// project and global; answer: "allow" | "deny". Strings are stored byte for byte (UTF-8 expected, not checked).
struct StoredGrant {
  std::string kind, scope, value, answer;
  std::int64_t created_ms = 0;  // Unix epoch milliseconds
  std::string granted_by;       // who answered: "lsp:Visual Studio Code", "cli", ...

  friend bool operator==(const StoredGrant&, const StoredGrant&) = default;
};

/// One decision, for the audit log.
struct AuditRecord {
  std::int64_t time_ms = 0;  // Unix epoch milliseconds
  std::string client;        // "mcp:claude-code 1.2" | "lsp:Neovim" | "cli"
  std::string operation;     // "files/write"
  std::string kind;          // "WriteFile"
  std::string target;        // path or command the decision was about
  std::string answer;        // "allow" | "deny"
  std::string decided_by;    // "rule Edit(src/**)", "grant directory src", "mode readOnly", "asked: Allow once", ...

  friend bool operator==(const AuditRecord&, const AuditRecord&) = default;
};

class Store {
 public:
  struct Opened {
    std::unique_ptr<Store> store;
    std::string warning;  // non-empty when a corrupt database was set aside (names both files)
  };

  /// Opens or creates the database file at `path` (missing parent directories created with mode 0700, a new file
  /// with 0600; SQLite gives its `-wal` and `-shm` files the database file's mode).
  /// A file that is not an SQLite database (SQLITE_NOTADB), reports SQLITE_CORRUPT, fails `PRAGMA quick_check`, or
  /// says it is an icotes database but lacks its tables is renamed to `<path>.corrupt-<epoch ms>` (its `-wal` file
  /// to `<path>.corrupt-<epoch ms>-wal`, its `-shm` file removed) and a new, empty database is created; `warning`
  /// then says so, naming both files.
  /// Errors, all kIoError and with nothing renamed: the directory or file cannot be created or opened, the file is
  /// read-only, another connection holds a lock for longer than kBusyTimeoutMs, the file is an SQLite database of
  /// another application (foreign `application_id`, or tables but no icotes schema), or its schema version is newer
  /// than kSchemaVersion. When two processes find the same corrupt file, the one that moves it aside warns; the other
  /// opens the new file. open() reads the whole file (quick_check): ~30 ms for 10 MB (100000 audit records), cached.
  /// With `repair` false nothing is set aside or created: a file that cannot
  /// be read is an error and stays as it is (a running server re-reading a
  /// store that another process is replacing must not take the half-copied
  /// file for a corrupt one).
  static Result<Opened> open(const std::string& path, bool repair = true);

  /// Every grant, ordered by kind, scope, value (bytewise). kIoError when the database cannot be read.
  Result<std::vector<StoredGrant>> grants();
  /// Inserts `g`, or replaces the grant with the same (kind, scope, value); one transaction, durable when it returns.
  /// kInvalidParams when kind, scope or answer is not one of the values listed on StoredGrant, or when a project or
  /// global grant has a non-empty value; kIoError when the write fails.
  Status put(const StoredGrant& g);
  /// Deletes the grant (kind, scope, value); true when one was removed. Durable when it returns. kIoError on failure.
  Result<bool> remove(std::string_view kind, std::string_view scope, std::string_view value);

  /// Appends `r` to the audit log. kIoError when the write fails.
  Status append(const AuditRecord& r);
  /// Appends `records` in one transaction (all or none). kIoError when the write fails.
  Status append(const std::vector<AuditRecord>& records);
  /// Audit records, newest (last appended, by any connection) first, at most `limit`; `offset` skips that many
  /// newest. kIoError when the database cannot be read.
  Result<std::vector<AuditRecord>> audit(std::size_t limit, std::size_t offset = 0);
  /// Deletes every audit record beyond the newest `keep` (call now and then, e.g. with kDefaultAuditKeep).
  Status trim_audit(std::size_t keep);

  /// The database file this store was opened on.
  const std::string& path() const { return path_; }

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

 private:
  struct DbClose {
    void operator()(sqlite3* db) const;
  };
  struct StmtFinalize {
    void operator()(sqlite3_stmt* s) const;
  };
  using Db = std::unique_ptr<sqlite3, DbClose>;
  using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;
  enum class Sync { kNormal, kFull };

  Store(std::string path, Db db);
  Status prepare_all();
  Status set_sync(Sync s);
  Error fail(int rc, std::string_view what) const;

  std::mutex mu_;
  std::string path_;
  Db db_;  // declared before the statements: they are finalized first
  Sync sync_ = Sync::kNormal;
  Stmt grants_, put_, remove_, append_, audit_, trim_;
};

}  // namespace icotes::permissions
