// The terminal service's pure helpers: settings, command lines, signal
// names and control-sequence stripping. See
// include/terminal/icotes/terminal.hpp.
#include <signal.h>
#include <string.h>
#include <toml++/toml.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "icotes/terminal.hpp"

#include "icotes/config.hpp"

namespace icotes::terminal {

Result<Limits> load_limits(const std::string& config_path) {
  Limits limits;
  auto config = read_config(config_path);
  if (!config) return std::move(config).error();
  if (!*config) return limits;  // no file: defaults
  const toml::table* section = (**config)["terminal"].as_table();
  if (section == nullptr) return limits;
  const toml::node* node = section->get("scrollback");
  if (node == nullptr) return limits;
  auto n = node->value<std::int64_t>();
  if (!n || *n < 0 || *n > 1000000)
    return make_error(error_code::kInvalidParams,
                      config_path + ":" + std::to_string(node->source().begin.line) +
                          ": terminal.scrollback must be an integer number of lines from 0 to 1000000");
  limits.scrollback_lines = static_cast<std::size_t>(*n);
  return limits;
}

std::string default_shell() {
  const char* s = std::getenv("SHELL");
  return s != nullptr && s[0] == '/' ? std::string(s) : std::string("/bin/sh");
}

namespace {

// Words made only of these need no quotes in a POSIX shell.
bool plain_word(std::string_view w) {
  if (w.empty()) return false;
  for (unsigned char c : w) {
    if (std::isalnum(c) == 0 && std::string_view("@%+=:,./_-").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  }
  return true;
}

void append_quoted(std::string& out, std::string_view w) {
  if (plain_word(w)) {
    out += w;
    return;
  }
  out += '\'';
  for (char c : w) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += '\'';
}

}  // namespace

std::string command_line(const std::optional<std::string>& shell, const std::vector<std::string>& args) {
  std::string out;
  append_quoted(out, shell && !shell->empty() ? *shell : default_shell());
  for (const auto& a : args) {
    out += ' ';
    append_quoted(out, a);
  }
  return out;
}

namespace {

struct SignalName {
  int number;
  std::string_view name;  // without "SIG"
};

constexpr std::array<SignalName, 21> kSignals{{
    {SIGHUP, "HUP"},   {SIGINT, "INT"},     {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},   {SIGTRAP, "TRAP"}, {SIGABRT, "ABRT"},
    {SIGBUS, "BUS"},   {SIGFPE, "FPE"},     {SIGKILL, "KILL"}, {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"},
    {SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"},   {SIGTERM, "TERM"}, {SIGCHLD, "CHLD"}, {SIGCONT, "CONT"}, {SIGSTOP, "STOP"},
    {SIGTSTP, "TSTP"}, {SIGWINCH, "WINCH"}, {SIGXCPU, "XCPU"},
}};

}  // namespace

std::optional<int> parse_signal(std::string_view name) {
  int number = 0;
  if (auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
      ec == std::errc() && p == name.data() + name.size())
    return number >= 1 && number < NSIG ? std::optional<int>(number) : std::nullopt;
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string_view u = upper;
  if (u.substr(0, 3) == "SIG") u.remove_prefix(3);
  for (const auto& s : kSignals) {
    if (s.name == u) return s.number;
  }
  return std::nullopt;
}

std::string signal_name(int signal) {
  for (const auto& s : kSignals) {
    if (s.number == signal) return "SIG" + std::string(s.name);
  }
  return std::to_string(signal);
}

std::string_view to_string(WaitResult r) {
  switch (r) {
    case WaitResult::Matched:
      return "matched";
    case WaitResult::Idle:
      return "idle";
    case WaitResult::Timeout:
      return "timeout";
    case WaitResult::Exited:
      return "exited";
  }
  return "timeout";
}

// A byte-at-a-time state machine (text, ESC, CSI, OSC/DCS strings): one switch over
// the states reads best whole, and it runs on every byte a terminal prints.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
void ControlStripper::feed(std::string_view bytes, std::string& out) {
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    switch (state_) {
      case State::Text:
        if (c == 0x1B)
          state_ = State::Esc;
        else if (c >= 0x20 || c == '\n' || c == '\t')
          out += ch;  // bytes >= 0x80 are UTF-8 here, not C1 controls
        break;
      case State::Esc:
        if (c == '[')
          state_ = State::Csi;
        else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_')
          state_ = State::String;  // OSC, DCS, SOS, PM, APC: up to ST or BEL
        else if (c >= 0x20 && c <= 0x2F)
          state_ = State::EscIntermediate;  // ESC ( B and the like
        else
          state_ = State::Text;  // ESC 7, ESC =, ...: one final byte
        break;
      case State::EscIntermediate:
        if (c < 0x20 || c > 0x2F) state_ = State::Text;
        break;
      case State::Csi:
        if (c >= 0x40 && c <= 0x7E) state_ = State::Text;  // final byte
        break;
      case State::String:
        if (c == 0x07)
          state_ = State::Text;
        else if (c == 0x1B)
          state_ = State::StringEsc;
        break;
      case State::StringEsc:
        state_ = c == '\\' ? State::Text : State::String;
        break;
    }
  }
}

}  // namespace icotes::terminal
