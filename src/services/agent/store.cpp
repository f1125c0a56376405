// Conversations in SQLite, one database per workspace (WAL; each append its
// own transaction). See include/agent/icotes/agent.hpp.
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "icotes/agent.hpp"
#include "icotes/json.hpp"
#include "icotes/random_token.hpp"
#include "icotes/state_dir.hpp"

namespace icotes::agent {
namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr std::size_t kTitleBytes = 80;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string title_of(std::string_view prompt) {
  const auto start = prompt.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return "(empty)";
  std::string_view line = prompt.substr(start);
  line = line.substr(0, line.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  std::string t(line.substr(0, kTitleBytes));
  if (line.size() > kTitleBytes) {
    std::size_t end = kTitleBytes;
    while (end > 0 && (static_cast<unsigned char>(t[end]) & 0xC0) == 0x80) --end;
    t.resize(end);
    t += "...";
  }
  return t;
}

// A prepared statement, finalised when it goes away.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  void text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int step() { return sqlite3_step(s_); }
  std::string column_text(int i) {
    const auto* p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, i)))
             : std::string();
  }
  std::int64_t column_int(int i) { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

json calls_json(const std::vector<providers::ToolCall>& calls) {
  json a = json::array();
  for (const auto& c : calls) a.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  return a;
}

std::vector<providers::ToolCall> calls_of(const std::string& text) {
  std::vector<providers::ToolCall> out;
  if (text.empty()) return out;
  const json a = json::parse(text, nullptr, false);
  if (!a.is_array()) return out;
  for (const auto& c : a) {
    if (!c.is_object()) continue;
    out.push_back(providers::ToolCall{c.value("id", std::string()), c.value("name", std::string()),
                                      c.value("arguments", std::string())});
  }
  return out;
}

}  // namespace

struct Store::Impl {
  std::string path;
  sqlite3* db = nullptr;
  std::mutex mutex;

  ~Impl() {
    if (db) sqlite3_close_v2(db);
  }
  Error fail(std::string_view what) const {
    return make_error(error_code::kInternalError,
                      "agent conversations " + path + ": " + std::string(what) + ": " + sqlite3_errmsg(db));
  }
  Status exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : "error";
      sqlite3_free(msg);
      return make_error(error_code::kInternalError, "agent conversations " + path + ": " + m);
    }
    return ok_status();
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

std::string Store::path_for(std::string_view root) {
  return state_dir() + "/agent/" + root_file_stem(root) + ".sqlite";
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return impl->fail("cannot open");
  }
  sqlite3_busy_timeout(impl->db, kBusyTimeoutMs);
  // WAL with synchronous=NORMAL: a committed append survives the process
  // (a daemon stopped or killed); only a power loss may take the last ones.
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
                          "CREATE TABLE IF NOT EXISTS conversations(id TEXT PRIMARY KEY, title TEXT NOT NULL, "
                          "created INTEGER NOT NULL, updated INTEGER NOT NULL, turns INTEGER NOT NULL DEFAULT 0, "
                          "messages INTEGER NOT NULL DEFAULT 0)",
                          "CREATE TABLE IF NOT EXISTS messages(conversation TEXT NOT NULL REFERENCES conversations(id) "
                          "ON DELETE CASCADE, seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, "
                          "tool_calls TEXT, tool_call_id TEXT, PRIMARY KEY(conversation, seq)) WITHOUT ROWID",
                          "CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated)"}) {
    if (auto st = impl->exec(sql); !st) return std::move(st).error();
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<std::string> Store::create(std::string_view prompt) {
  std::lock_guard lock(impl_->mutex);
  const std::string id = random_hex(16);
  const std::int64_t now = now_ms();
  Stmt s(impl_->db, "INSERT INTO conversations(id, title, created, updated) VALUES(?1, ?2, ?3, ?3)");
  if (!s.ok()) return impl_->fail("cannot prepare");
  s.text(1, id);
  s.text(2, title_of(prompt));
  s.integer(3, now);
  if (s.step() != SQLITE_DONE) return impl_->fail("cannot create a conversation");
  return id;
}

Status Store::append(const std::string& id, const providers::Message& m) {
  std::lock_guard lock(impl_->mutex);
  if (auto st = impl_->exec("BEGIN IMMEDIATE"); !st) return st;
  auto rollback = [&](Error e) -> Status {
    (void)impl_->exec("ROLLBACK");
    return e;
  };
  std::int64_t seq = 0;
  {
    Stmt s(impl_->db, "SELECT messages FROM conversations WHERE id = ?1");
    if (!s.ok()) return rollback(impl_->fail("cannot prepare"));
    s.text(1, id);
    if (s.step() != SQLITE_ROW)
      return rollback(make_error(error_code::kNotFound, "no agent conversation " + id + " in this workspace"));
    seq = s.column_int(0);
  }
  {
    Stmt s(impl_->db,
           "INSERT INTO messages(conversation, seq, role, content, tool_calls, tool_call_id) "
           "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    if (!s.ok()) return rollback(impl_->fail("cannot prepare"));
    s.text(1, id);
    s.integer(2, seq);
    s.text(3, m.role);
    s.text(4, m.content);
    if (!m.tool_calls.empty()) s.text(5, calls_json(m.tool_calls).dump());
    if (!m.tool_call_id.empty()) s.text(6, m.tool_call_id);
    if (s.step() != SQLITE_DONE) return rollback(impl_->fail("cannot append a message"));
  }
  {
    Stmt s(impl_->db,
           "UPDATE conversations SET messages = messages + 1, turns = turns + ?2, updated = ?3 WHERE id = ?1");
    if (!s.ok()) return rollback(impl_->fail("cannot prepare"));
    s.text(1, id);
    s.integer(2, m.role == "assistant" ? 1 : 0);
    s.integer(3, now_ms());
    if (s.step() != SQLITE_DONE) return rollback(impl_->fail("cannot update the conversation"));
  }
  if (auto st = impl_->exec("COMMIT"); !st) return rollback(st.error());
  return ok_status();
}

Result<std::vector<ConversationInfo>> Store::list(std::size_t limit) {
  std::lock_guard lock(impl_->mutex);
  Stmt s(impl_->db, "SELECT id, title, updated, turns FROM conversations ORDER BY updated DESC, id LIMIT ?1");
  if (!s.ok()) return impl_->fail("cannot prepare");
  s.integer(1, static_cast<std::int64_t>(limit));
  std::vector<ConversationInfo> out;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW)
    out.push_back(
        ConversationInfo{s.column_text(0), s.column_text(1), s.column_int(2), static_cast<int>(s.column_int(3))});
  if (rc != SQLITE_DONE) return impl_->fail("cannot list conversations");
  return out;
}

Result<std::vector<providers::Message>> Store::load(const std::string& id) {
  std::lock_guard lock(impl_->mutex);
  {
    Stmt s(impl_->db, "SELECT 1 FROM conversations WHERE id = ?1");
    if (!s.ok()) return impl_->fail("cannot prepare");
    s.text(1, id);
    if (s.step() != SQLITE_ROW)
      return make_error(error_code::kNotFound,
                        "no agent conversation " + id + " in this workspace (agent/list lists them)");
  }
  Stmt s(impl_->db,
         "SELECT role, content, tool_calls, tool_call_id FROM messages WHERE conversation = ?1 ORDER BY seq");
  if (!s.ok()) return impl_->fail("cannot prepare");
  s.text(1, id);
  std::vector<providers::Message> out;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW)
    out.push_back(providers::Message{s.column_text(0), s.column_text(1), calls_of(s.column_text(2)), s.column_text(3)});
  if (rc != SQLITE_DONE) return impl_->fail("cannot load the conversation");
  return out;
}

}  // namespace icotes::agent
