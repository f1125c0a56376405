// The clients connected to one workspace: which program (clientInfo name
// and version), which dialect, connected since when. Every Session adds its
// connection once its dialect is known and removes it when it ends;
// workspace_info lists them (README "workspace_info").
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace icotes {

class ClientRegistry {
 public:
  struct Client {
    std::uint64_t id = 0;
    std::string dialect;  // "lsp", "mcp", "plain"
    std::string name;     // clientInfo.name ("" until the client says)
    std::string version;  // clientInfo.version, when given
    std::chrono::system_clock::time_point since;
    const void* connection = nullptr;  // identifies the caller's own entry
  };

  /// Adds a client speaking `dialect` on `connection`; returns its id.
  std::uint64_t add(const void* connection, std::string dialect) {
    std::lock_guard lock(mutex_);
    Client c;
    c.id = ++last_id_;
    c.dialect = std::move(dialect);
    c.since = std::chrono::system_clock::now();
    c.connection = connection;
    clients_.push_back(std::move(c));
    return last_id_;
  }

  /// Sets the name and version a client gave (LSP and MCP `clientInfo`).
  void set_info(std::uint64_t id, std::string name, std::string version) {
    std::lock_guard lock(mutex_);
    for (auto& c : clients_) {
      if (c.id != id) continue;
      c.name = std::move(name);        // NOLINT(bugprone-use-after-move): ids are unique, one client matches
      c.version = std::move(version);  // NOLINT(bugprone-use-after-move): likewise
    }
  }

  /// Removes client `id` (nothing when it is gone already).
  void remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    std::erase_if(clients_, [id](const Client& c) { return c.id == id; });
  }

  /// The connected clients, oldest first.
  std::vector<Client> list() const {
    std::lock_guard lock(mutex_);
    return clients_;
  }

 private:
  mutable std::mutex mutex_;
  std::uint64_t last_id_ = 0;
  std::vector<Client> clients_;
};

}  // namespace icotes
