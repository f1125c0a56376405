// `icotes mcp-config --host HOST [--root DIR]`: the snippet or command that
// registers icotes as an MCP server with an AI host, for this binary (its
// absolute path) and the workspace's canonical root. The snippet goes to
// stdout (so `> file` works when the file holds nothing else); where it goes
// is said on stderr.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli.hpp"

namespace icotes::cli {
namespace {

struct Target {
  std::string command;            // the icotes binary, absolute
  std::vector<std::string> args;  // serve --root DIR
};

// A word as POSIX sh reads it: left bare when it holds only safe
// characters, else in single quotes ('\'' for a quote inside).
std::string sh_quote(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@%+=:,./-_") ==
                        std::string::npos)
    return w;
  std::string q = "'";
  for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A TOML basic string (TOML 1.0 "Basic strings"): what JSON escapes, TOML does too.
std::string toml_string(const std::string& s) { return json(s).dump(); }

json stdio_server(const Target& t) { return {{"command", t.command}, {"args", t.args}}; }

struct Snippet {
  std::string text;
  std::string where;
};

Snippet snippet(const std::string& host, const Target& t) {
  if (host == "claude-code") {
    std::string cmd = "claude mcp add icotes --";
    cmd += " " + sh_quote(t.command);
    for (const auto& a : t.args) cmd += " " + sh_quote(a);
    return {cmd + "\n", "Run this command in a shell (add --scope user or --scope project to share it)."};
  }
  if (host == "codex") {
    std::string args;
    for (const auto& a : t.args) args += (args.empty() ? "" : ", ") + toml_string(a);
    return {"[mcp_servers.icotes]\ncommand = " + toml_string(t.command) + "\nargs = [" + args + "]\n",
            "Add this table to ~/.codex/config.toml."};
  }
  if (host == "cursor")
    return {json{{"mcpServers", {{"icotes", stdio_server(t)}}}}.dump(2) + "\n",
            "Put this in .cursor/mcp.json in the workspace (or ~/.cursor/mcp.json), merged with its mcpServers."};
  if (host == "vscode") {
    json s = stdio_server(t);
    s["type"] = "stdio";
    return {json{{"servers", {{"icotes", s}}}}.dump(2) + "\n",
            "Put this in .vscode/mcp.json in the workspace, merged with its servers (the icotes extension registers "
            "icotes by itself)."};
  }
  if (host == "gemini-cli")
    return {json{{"mcpServers", {{"icotes", stdio_server(t)}}}}.dump(2) + "\n",
            "Merge this into .gemini/settings.json in the workspace (or ~/.gemini/settings.json)."};
  // zed
  json s = stdio_server(t);
  s["source"] = "custom";
  return {json{{"context_servers", {{"icotes", s}}}}.dump(2) + "\n",
          "Merge this into Zed's settings.json (zed: open settings)."};
}

}  // namespace

void add_mcp_config_command(CLI::App& app) {
  struct Args {
    std::string host, root = ".";
  };
  auto args = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("mcp-config", "Print the snippet or command that adds icotes to an AI host's MCP servers");
  cmd->add_option("--host", args->host, "claude-code, codex, cursor, vscode, gemini-cli or zed")
      ->required()
      ->check(CLI::IsMember({"claude-code", "codex", "cursor", "vscode", "gemini-cli", "zed"}));
  cmd->add_option("--root", args->root, "The workspace root (default: the current directory)");
  cmd->callback([args] {
    std::error_code ec;
    const auto root = std::filesystem::canonical(args->root, ec);
    if (ec || !std::filesystem::is_directory(root)) {
      std::fprintf(stderr, "icotes mcp-config: %s: not a directory\n", args->root.c_str());
      throw CLI::RuntimeError(2);
    }
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) {
      std::fprintf(stderr, "icotes mcp-config: cannot find this binary's path: %s\n", ec.message().c_str());
      throw CLI::RuntimeError(1);
    }
    const Snippet s = snippet(args->host, {self.string(), {"serve", "--root", root.string()}});
    std::fputs(s.text.c_str(), stdout);
    std::fprintf(stderr, "%s\n", s.where.c_str());
    throw CLI::Success();
  });
}

}  // namespace icotes::cli
