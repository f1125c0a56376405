// `icotes chat`: an interactive chat with a model on the workspace, in the
// terminal. It attaches to the workspace's daemon (starting it, as `serve`
// does) and speaks LSP on the socket (newline-framed), because LSP is the
// dialect the daemon can ask: each turn is one `icotes/agent/run` request
// with a partialResultToken; the agent's text deltas and tool calls arrive
// as $/progress partial results and are printed as they come; its
// permission questions arrive as window/showMessageRequest and are answered
// here, in the terminal. Ctrl-C during a turn sends $/cancelRequest.
//
// Line editing and history: libedit (BSD editline, Debian's libedit-dev)
// through its readline interface, in callback mode so that one poll(2)
// loop watches the terminal and Ctrl-C (a self-pipe). Standard input that
// is not a terminal (a script piping prompts) is read line by line without
// it; a permission question then takes the next line as its answer.
#include <editline/readline.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli.hpp"
#include "icotes/daemon.hpp"
#include "icotes/file_uri.hpp"
#include "icotes/log.hpp"
#include "icotes/rpc.hpp"
#include "icotes/state_dir.hpp"
#include "icotes/stdio.hpp"
#include "icotes/text.hpp"

namespace icotes::cli {
namespace {

constexpr std::string_view kWho = "icotes chat";
constexpr int kHistoryEntries = 1000;
constexpr const char* kProvidersHint =
    "configure a provider in $XDG_CONFIG_HOME/icotes/config.toml (~/.config/icotes/config.toml); README.md, "
    "\"Providers\", shows how";

// ---- Ctrl-C: the handler writes a byte to a pipe the loops poll. ----

int g_interrupt_pipe[2] = {-1, -1};

void on_sigint(int) {
  const int saved = errno;
  const char c = 'i';
  (void)!::write(g_interrupt_pipe[1], &c, 1);
  errno = saved;
}

// Empties the interrupt pipe: true when a Ctrl-C was pending.
bool take_interrupts() {
  bool got = false;
  char buf[64];
  while (::read(g_interrupt_pipe[0], buf, sizeof buf) > 0) got = true;
  return got;
}

void install_interrupt_handler() {
  if (::pipe2(g_interrupt_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    die(make_error(error_code::kIoError, "pipe: " + std::string(std::strerror(errno))), 1, kWho);
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
}

// ---- How things look: colours and Unicode on a terminal, plain ASCII
// otherwise or with NO_COLOR (https://no-color.org). ----

struct Style {
  bool fancy = false;
  std::string dim(const std::string& s) const { return fancy ? "\x1b[2m" + s + "\x1b[0m" : s; }
  std::string bold(const std::string& s) const { return fancy ? "\x1b[1m" + s + "\x1b[0m" : s; }
  std::string red(const std::string& s) const { return fancy ? "\x1b[31m" + s + "\x1b[0m" : s; }
  const char* call_mark() const { return fancy ? "\u25cf " : "* "; }
  const char* ok_mark() const { return fancy ? "  \u2713 " : "  ok: "; }
  const char* fail_mark() const { return fancy ? "  \u2717 " : "  failed: "; }
};

// ---- What the reading thread hands the main thread. ----

struct Event {
  enum class Kind { Progress, Ask, Answer, Message, Closed } kind;
  json value;                      // Progress: the partial events; Message: {type, message}
  std::optional<Request> request;  // Ask: window/showMessageRequest
  std::shared_ptr<Result<json>> answer;
  int turn = 0;  // Answer: the turn it answers
};

class Events {
 public:
  Events() {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
      die(make_error(error_code::kIoError, "pipe: " + std::string(std::strerror(errno))), 1, kWho);
  }
  ~Events() {
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;

  void push(Event e) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(e));
    }
    const char c = 'e';
    (void)!::write(wake_[1], &c, 1);
  }
  std::optional<Event> pop() {
    char buf[64];
    while (::read(wake_[0], buf, sizeof buf) > 0) {
    }
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return std::nullopt;
    Event e = std::move(queue_.front());
    queue_.pop_front();
    return e;
  }
  int fd() const { return wake_[0]; }

 private:
  int wake_[2] = {-1, -1};
  std::mutex mutex_;
  std::deque<Event> queue_;
};

// The daemon's messages to this client (on the reading thread): questions
// and progress go to the main thread; what an editor would do is declined.
class Link final : public MessageHandler {
 public:
  explicit Link(Events& events) : events_(events) {}

  void on_request(Request request) override {
    const std::string& method = request.method();
    if (method == "window/showMessageRequest") {
      events_.push({Event::Kind::Ask, json(), std::move(request), nullptr, 0});
    } else if (method == "workspace/applyEdit") {
      request.reply({{"applied", false}, {"failureReason", "icotes chat has no documents open"}});
    } else if (method == "window/showDocument") {
      request.reply({{"success", false}});
    } else if (method == "window/workDoneProgress/create" || method == "client/registerCapability") {
      request.reply(nullptr);
    } else {
      request.fail(make_error(error_code::kMethodNotFound, "icotes chat does not answer " + method));
    }
  }

  void on_notification(const std::string& method, const json& params) override {
    if (method == "$/progress" && params.is_object()) {
      const json value = params.value("value", json());
      if (value.is_array()) events_.push({Event::Kind::Progress, value, std::nullopt, nullptr, 0});
    } else if (method == "window/showMessage" ||
               (method == "window/logMessage" && params.is_object() && params.value("type", 4) <= 1)) {
      events_.push({Event::Kind::Message, params, std::nullopt, nullptr, 0});
    }
  }

  void on_close() override { events_.push({Event::Kind::Closed, json(), std::nullopt, nullptr, 0}); }

 private:
  Events& events_;
};

// ---- Reading what the user types. ----

enum class Got { Line, Eof, Interrupt };

// A terminal: libedit, in callback mode (rl_callback_read_char() when poll
// says a byte is there), so that Ctrl-C is seen between keys.
std::optional<std::string> g_line;  // set by on_line
bool g_line_done = false;

void on_line(char* line) {
  g_line_done = true;
  if (line) {
    g_line = std::string(line);
    std::free(line);  // NOLINT(cppcoreguidelines-no-malloc): readline's allocation
  } else {
    g_line.reset();
  }
  rl_callback_handler_remove();
}

class Input {
 public:
  explicit Input(bool tty) : tty_(tty) {
    if (!tty_) return;
    rl_catch_signals = 0;  // Ctrl-C is ours (the self-pipe)
    rl_readline_name = "icotes";
    using_history();
    stifle_history(kHistoryEntries);
    history_path_ = history_file();
    if (!history_path_.empty()) (void)read_history(history_path_.c_str());
  }
  ~Input() {
    if (tty_ && !history_path_.empty()) (void)write_history(history_path_.c_str());
  }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  bool tty() const { return tty_; }

  /// A line (without its newline), the end of input, or a Ctrl-C.
  /// `remember`: a line for the history (prompts, not answers).
  Got read(const std::string& prompt, std::string& line, bool remember) {
    if (!tty_) return read_plain(line);
    g_line_done = false;
    g_line.reset();
    rl_callback_handler_install(prompt.c_str(), on_line);
    for (;;) {
      pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {g_interrupt_pipe[0], POLLIN, 0}};
      const int r = ::poll(p, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Got::Eof;
      if (p[1].revents & POLLIN) {
        take_interrupts();
        rl_callback_handler_remove();
        std::fputs("^C\n", stdout);
        std::fflush(stdout);
        return Got::Interrupt;
      }
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        rl_callback_read_char();
        if (g_line_done) {
          if (!g_line) {
            std::fputc('\n', stdout);
            return Got::Eof;
          }
          line = *g_line;
          if (remember && line.find_first_not_of(" \t") != std::string::npos) add_history(line.c_str());
          return Got::Line;
        }
      }
    }
  }

 private:
  // A script: lines of standard input, as they come.
  Got read_plain(std::string& line) {
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        line = buffer_.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        buffer_.erase(0, nl + 1);
        return Got::Line;
      }
      if (eof_) {
        if (buffer_.empty()) return Got::Eof;
        line = std::move(buffer_);
        buffer_.clear();
        return Got::Line;
      }
      pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {g_interrupt_pipe[0], POLLIN, 0}};
      const int r = ::poll(p, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Got::Eof;
      if (p[1].revents & POLLIN) {
        take_interrupts();
        return Got::Interrupt;
      }
      char buf[4096];
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0)
        eof_ = true;
      else
        buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  // chat_history in the state directory (state_dir.hpp), its folder made
  // private; empty when that cannot be made.
  static std::string history_file() {
    const std::filesystem::path dir = state_dir();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return {};
    ::chmod(dir.c_str(), 0700);
    return (dir / "chat_history").string();
  }

  bool tty_;
  std::string history_path_;
  std::string buffer_;
  bool eof_ = false;
};

// ---- The chat. ----

std::vector<std::string> daemon_argv(const std::string& root) {
  std::error_code ec;
  return {std::filesystem::read_symlink("/proc/self/exe", ec).string(),
          "serve",
          "--daemon",
          "--root",
          root,
          "--idle-timeout",
          "60000",
          "--log-level",
          "info"};
}

class Chat {
 public:
  Chat(const ChatOptions& o, std::string root, Input& input)
      : o_(o), root_(std::move(root)), input_(input), conversation_(o.resume) {
    style_.fancy = ::isatty(STDOUT_FILENO) && !(std::getenv("NO_COLOR") && *std::getenv("NO_COLOR"));
  }

  ~Chat() {
    if (fd_ >= 0) {
      ::shutdown(fd_, SHUT_RDWR);
      if (reader_.joinable()) reader_.join();
      ::close(fd_);
    }
  }
  Chat(const Chat&) = delete;
  Chat& operator=(const Chat&) = delete;

  void connect() {
    auto address = daemon_address(root_);
    if (!address) die(address.error(), 1, kWho);
    auto fd = attach_daemon(*address, daemon_argv(root_));
    if (!fd) die(fd.error(), 1, kWho);
    fd_ = *fd;
    AttachRequest attach;  // this client's permission flags, for its connection
    o_.permissions.fill(attach.profile);
    const std::string line = attach_line(attach);
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
      die(make_error(error_code::kIoError, "cannot write to the daemon's socket " + address->socket_path), 1, kWho);
    auto transport = std::make_shared<FdTransport>(fd_, fd_);
    conn_ = std::make_shared<Connection>(transport, std::size_t{1} << 30);
    conn_->set_handler(&link_);
    reader_ = std::thread([this] { run_read_loop(fd_, *conn_); });
    daemon_log_ = address->log_path;

    auto promise = std::make_shared<std::promise<Result<json>>>();
    auto future = promise->get_future();
    const json init = {
        {"processId", ::getpid()},
        {"clientInfo", {{"name", "icotes chat"}, {"version", ICOTES_VERSION}}},
        {"rootUri", "file://" + percent_encode_path(root_)},
        {"workspaceFolders", json::array({{{"uri", "file://" + percent_encode_path(root_)},
                                           {"name", std::filesystem::path(root_).filename().string()}}})},
        {"capabilities",
         {{"window", {{"showMessage", {{"messageActionItem", {{"additionalPropertiesSupport", false}}}}}}},
          {"general", {{"positionEncodings", json::array({"utf-8"})}}}}}};
    conn_->call("initialize", init, [promise](Result<json> r) { promise->set_value(std::move(r)); });
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
      die(make_error(error_code::kIoError,
                     "the daemon did not answer initialize within 30 s (its log: " + address->log_path + ")"),
          1, kWho);
    auto r = future.get();
    if (!r) die(make_error(r.error().code, "the daemon refused the session: " + r.error().message), 1, kWho);
    conn_->notify("initialized", json::object());
  }

  int run() {
    if (input_.tty()) {
      std::printf("%s\n%s\n", style_.bold("icotes chat on " + root_).c_str(),
                  style_.dim("Type a request; /help for commands, Ctrl-C cancels a turn, Ctrl-D quits.").c_str());
      if (!conversation_.empty()) std::printf("%s\n", style_.dim("continuing conversation " + conversation_).c_str());
    }
    bool interrupted = false;  // the last thing at the prompt was a Ctrl-C
    for (;;) {
      std::string line;
      const Got got = input_.read(input_.tty() ? "> " : "", line, true);
      if (got == Got::Eof) break;
      if (got == Got::Interrupt) {
        if (interrupted) break;
        interrupted = true;
        if (input_.tty()) std::printf("%s\n", style_.dim("(Ctrl-C again or /exit to quit)").c_str());
        continue;
      }
      interrupted = false;
      const auto first = line.find_first_not_of(" \t");
      if (first == std::string::npos) continue;
      line = line.substr(first);
      if (line[0] == '/') {
        if (!command(line)) break;
        continue;
      }
      if (!turn(line)) break;
    }
    finish();
    return status_;
  }

 private:
  // A /command; false: quit.
  bool command(const std::string& line) {
    const std::string name = line.substr(0, line.find_first_of(" \t"));
    if (name == "/exit" || name == "/quit") return false;
    if (name == "/new") {
      conversation_.clear();
      std::printf("%s\n", style_.dim("(a new conversation)").c_str());
    } else if (name == "/help") {
      std::printf(
          "Type a request and press Enter: the model answers, reading and editing the workspace through icotes'\n"
          "tools; each tool call shows as one line, and what needs permission is asked here.\n"
          "  /new    start a new conversation\n"
          "  /exit   quit (also Ctrl-D); the conversation can be resumed with --resume ID\n"
          "  /help   this text\n"
          "Ctrl-C cancels the running turn; at the prompt it clears the line (twice quits).\n");
    } else {
      std::printf("unknown command %s (/help lists them)\n", name.c_str());
    }
    std::fflush(stdout);
    return true;
  }

  void print_line(const std::string& text) {
    in_reasoning_ = false;
    if (!at_line_start_) std::fputc('\n', stdout);
    std::fputs(text.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    at_line_start_ = true;
  }

  void print_text(const std::string& text) {
    if (text.empty()) return;
    end_reasoning();
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    at_line_start_ = text.back() == '\n';
  }

  // A reasoning model's thinking, streamed dimmed on its own lines before
  // the answer; only for a person at a terminal (a script reading stdout
  // gets the answer alone).
  void print_reasoning(const std::string& text) {
    if (text.empty() || !input_.tty()) return;
    if (!in_reasoning_ && !at_line_start_) std::fputc('\n', stdout);
    in_reasoning_ = true;
    const std::string shown = style_.dim(text);
    std::fwrite(shown.data(), 1, shown.size(), stdout);
    std::fflush(stdout);
    at_line_start_ = text.back() == '\n';
  }

  // What follows thinking starts on a line of its own.
  void end_reasoning() {
    if (!in_reasoning_) return;
    in_reasoning_ = false;
    if (!at_line_start_) std::fputc('\n', stdout);
    at_line_start_ = true;
  }

  void render(const json& events) {
    for (const auto& e : events) {
      if (!e.is_object()) continue;
      const std::string type = e.value("type", "");
      if (type == "text") {
        streamed_text_ = true;
        print_text(e.value("text", ""));
      } else if (type == "reasoning") {
        print_reasoning(e.value("text", ""));
      } else if (type == "tool_call") {
        std::string what = e.value("summary", "");
        if (what.empty()) what = e.value("name", "?") + " " + e.value("arguments", "");
        what = one_line(what, 160);
        calls_[e.value("id", "")] = what;
        print_line(style_.dim(style_.call_mark() + what));
      } else if (type == "tool_result") {
        std::string s = e.value("summary", "");
        // "read_file src/x.c: 120 lines" after "read_file src/x.c": the rest.
        if (auto it = calls_.find(e.value("id", "")); it != calls_.end() && s.rfind(it->second + ": ", 0) == 0)
          s = s.substr(it->second.size() + 2);
        const bool ok = e.value("ok", true);
        s = one_line(s, 200);
        print_line(ok ? style_.dim(style_.ok_mark() + s) : style_.red(style_.fail_mark() + s));
      } else if (type == "usage") {
        usage_ = e;
      }
      // A run that names its conversation as it starts (the result names it
      // too, but a cancelled run gets no result).
      if (auto c = e.find("conversation"); c != e.end() && c->is_string() && !c->get_ref<const std::string&>().empty())
        conversation_ = c->get<std::string>();
    }
  }

  // A permission question: its options numbered, the user's choice sent
  // back as the action's title (null: no answer, which denies). `abandon`:
  // a Ctrl-C or the end of input while asking, which also cancels the turn.
  void ask(const Request& request, bool& abandon) {
    const json& p = request.params();
    std::vector<std::string> titles;
    for (const auto& a : p.value("actions", json::array()))
      if (a.is_object() && a.contains("title") && a["title"].is_string()) titles.push_back(a["title"]);
    std::string message = p.value("message", "");
    if (message.rfind("icotes: ", 0) == 0) message = message.substr(8);
    // The gate names the asking client: this chat, for what its model does.
    if (const std::string self = "lsp:icotes chat wants to "; message.rfind(self, 0) == 0)
      message = "The model wants to " + message.substr(self.size());
    print_line(style_.bold("? " + message));
    for (std::size_t i = 0; i < titles.size(); ++i) std::printf("  %zu) %s\n", i + 1, titles[i].c_str());
    std::fflush(stdout);
    if (titles.empty()) return request.reply(nullptr);
    const std::string prompt = "choice [1-" + std::to_string(titles.size()) + "]: ";
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (!input_.tty()) print_text(prompt);
      std::string line;
      const Got got = input_.read(input_.tty() ? prompt : std::string(), line, false);
      if (got != Got::Line) {
        abandon = true;
        if (!input_.tty()) print_text("\n");
        return request.reply(nullptr);
      }
      if (!input_.tty()) print_text(line + "\n");
      if (auto chosen = choose(titles, line)) return request.reply({{"title", *chosen}});
      std::printf("answer with a number from 1 to %zu, or the option's words\n", titles.size());
    }
    request.reply(nullptr);
  }

  static std::optional<std::string> choose(const std::vector<std::string>& titles, std::string answer) {
    while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back()))) answer.pop_back();
    answer.erase(0, answer.find_first_not_of(" \t"));
    if (answer.empty()) return std::nullopt;
    char* end = nullptr;
    const long n = std::strtol(answer.c_str(), &end, 10);
    if (end && *end == '\0') {
      if (n >= 1 && static_cast<std::size_t>(n) <= titles.size()) return titles[static_cast<std::size_t>(n) - 1];
      return std::nullopt;
    }
    auto lower = [](std::string s) {
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    const std::string a = lower(answer);
    std::optional<std::string> prefix;
    int prefixes = 0;
    for (const auto& t : titles) {
      if (lower(t) == a) return t;
      if (lower(t).rfind(a, 0) == 0) {
        prefix = t;
        ++prefixes;
      }
    }
    if (prefixes == 1) return prefix;
    return std::nullopt;
  }

  // One turn: agent/run, its progress printed, its questions asked, until
  // its answer. False: quit (the daemon went away, or Ctrl-C twice).
  bool turn(const std::string& prompt) {
    ++turns_;
    const std::string token = "icotes-chat-" + std::to_string(turns_);
    json params = {{"prompt", prompt}, {"partialResultToken", token}};
    if (!o_.provider.empty()) params["provider"] = o_.provider;
    if (!o_.model.empty()) params["model"] = o_.model;
    if (!conversation_.empty()) params["conversation"] = conversation_;
    streamed_text_ = false;
    in_reasoning_ = false;
    at_line_start_ = true;
    calls_.clear();
    usage_ = json();
    take_interrupts();
    const int n = turns_;
    const json id = conn_->call("icotes/agent/run", params, [this, n](Result<json> r) {
      events_.push({Event::Kind::Answer, json(), std::nullopt, std::make_shared<Result<json>>(std::move(r)), n});
    });
    if (id.is_null()) return closed();
    bool cancelled = false;
    for (;;) {
      pollfd p[2] = {{events_.fd(), POLLIN, 0}, {g_interrupt_pipe[0], POLLIN, 0}};
      const int r = ::poll(p, 2, -1);
      if (r < 0 && errno != EINTR) return closed();
      if (p[1].revents & POLLIN) {
        take_interrupts();
        if (input_.tty()) at_line_start_ = false;  // after the terminal's "^C"
        if (cancelled) {                           // a second Ctrl-C: the daemon is not answering
          print_line(style_.dim("(quitting)"));
          return false;
        }
        cancel(id, cancelled);
      }
      while (auto e = events_.pop())
        if (auto done = handle(*e, id, n, cancelled)) return *done;
    }
  }

  // One thing from the daemon during turn `n` (request `id`): nullopt while
  // the turn goes on, else what turn() returns.
  std::optional<bool> handle(Event& e, const json& id, int n, bool& cancelled) {
    switch (e.kind) {
      case Event::Kind::Progress:
        render(e.value);
        break;
      case Event::Kind::Message:
        print_line(style_.dim("icotes: " + e.value.value("message", "")));
        break;
      case Event::Kind::Ask: {
        bool abandon = false;
        ask(*e.request, abandon);
        if (abandon && !cancelled) cancel(id, cancelled);
        break;
      }
      case Event::Kind::Closed:
        return closed();
      case Event::Kind::Answer:
        if (e.turn != n) break;  // a turn given up earlier
        finish_turn(*e.answer);
        return true;
    }
    return std::nullopt;
  }

  void cancel(const json& id, bool& cancelled) {
    cancelled = true;
    conn_->notify("$/cancelRequest", {{"id", id}});
    print_line(style_.dim("(cancelling; Ctrl-C again quits)"));
  }

  void finish_turn(const Result<json>& r) {
    if (!r) return failed(r.error());
    const json& result = *r;
    if (auto c = result.find("conversation"); c != result.end() && c->is_string())
      conversation_ = c->get<std::string>();
    if (!streamed_text_) print_text(result.value("text", ""));
    if (!at_line_start_) print_text("\n");
    const std::string stop = result.value("stop", "end_turn");
    status_ = 0;
    if (stop == "error") {
      // The loop never fails: a provider's error (HTTP status, its message) comes in the result.
      std::string text = "error: " + result.value("error", std::string("the run stopped on an error"));
      if (text.find("provider") != std::string::npos || text.find("key") != std::string::npos)
        text += std::string("\n  ") + kProvidersHint;
      print_line(style_.red(text));
      status_ = 1;
    }
    if (const std::string note = stop_note(stop, result.value("usage", usage_)); !note.empty())
      print_line(style_.dim("(" + note + ")"));
  }

  // Why a run stopped early, and the tokens it used.
  static std::string stop_note(const std::string& stop, const json& usage) {
    std::string note;
    if (stop == "max_turns")
      note = "stopped: the turn limit was reached (say \"go on\" to continue)";
    else if (stop == "token_budget")
      note = "stopped: the token budget was spent";
    else if (stop == "cancelled")
      note = "cancelled";
    if (usage.is_object() && usage.value("inputTokens", 0) + usage.value("outputTokens", 0) > 0)
      note += (note.empty() ? "" : "; ") + std::to_string(usage.value("inputTokens", 0)) + " tokens in, " +
              std::to_string(usage.value("outputTokens", 0)) + " out";
    if (auto c = usage.is_object() ? usage.find("costUsd") : usage.end(); c != usage.end() && c->is_number()) {
      char cost[32];
      std::snprintf(cost, sizeof cost, "$%.4f", c->get<double>());
      note += (note.empty() ? "" : ", ") + std::string(cost);
    }
    return note;
  }

  // A turn answered with an error.
  void failed(const Error& e) {
    if (e.code == error_code::kRequestCancelled) {
      // The run named its conversation in its first event: the next
      // prompt continues it.
      print_line(style_.dim("(cancelled)"));
      return;
    }
    std::string text = "error: " + e.message;
    if (e.code == error_code::kMethodNotFound)
      text += "\n  this daemon has no agent/run (an older icotes?): `icotes daemon restart --root " + root_ +
              "` starts the current one";
    else if (e.message.find("provider") != std::string::npos)
      text += std::string("\n  ") + kProvidersHint;
    print_line(style_.red(text));
    status_ = 1;
  }

  bool closed() {
    print_line(style_.red("error: the daemon closed the connection (its log: " + daemon_log_ + ")"));
    status_ = 1;
    return false;
  }

  void finish() {
    if (!conversation_.empty()) {
      std::string how = "icotes chat --resume " + conversation_;
      if (o_.root_given) how += " --root " + root_;
      std::printf("%s\n", style_.dim("resume with: " + how).c_str());
    }
    std::fflush(stdout);
    if (!conn_ || conn_->closed()) return;
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    conn_->call("shutdown", json::object(), [done](const Result<json>&) { done->set_value(); });
    (void)future.wait_for(std::chrono::seconds(2));
    conn_->notify("exit", json::object());
  }

  const ChatOptions& o_;
  std::string root_;
  Input& input_;
  Style style_;
  Events events_;
  Link link_{events_};
  int fd_ = -1;
  std::shared_ptr<Connection> conn_;
  std::thread reader_;
  std::string daemon_log_;
  std::string conversation_;
  int turns_ = 0;
  int status_ = 0;
  bool streamed_text_ = false;
  bool at_line_start_ = true;
  bool in_reasoning_ = false;                 // the last thing printed was thinking
  std::map<std::string, std::string> calls_;  // tool call id -> its line
  json usage_;
};

}  // namespace

int chat(const ChatOptions& o) {
  setup_logging("warn", "");
  std::error_code ec;
  const std::string root = std::filesystem::canonical(o.root, ec).string();
  if (ec || !std::filesystem::is_directory(root))
    die(make_error(error_code::kInvalidParams, o.root + " is not a directory"), 2, kWho);
  if (auto settings = o.permissions.settings(); !settings) die(settings.error(), 2, kWho);
  std::signal(SIGPIPE, SIG_IGN);
  install_interrupt_handler();
  Input input(::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO));
  Chat chat(o, root, input);
  chat.connect();
  return chat.run();
}

}  // namespace icotes::cli
