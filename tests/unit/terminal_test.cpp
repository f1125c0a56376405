// The terminal service against real programs on real PTYs: /bin/sh,
// python3, cat, stty, sleep.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "icotes/events.hpp"
#include "icotes/terminal.hpp"
#include "icotes/utf8.hpp"
#include "test_util.hpp"

namespace icotes::terminal {
namespace {

using test::TempDir;

// True once `pid` is gone or a zombie (someone else's child, reaped by init).
bool process_gone(pid_t pid, std::chrono::milliseconds budget = std::chrono::milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) return true;
    const auto close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z') return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class TerminalTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }

  void start(Limits limits) {
    service_.reset();
    service_ = std::make_unique<Service>(*root_, broker_, limits);
  }

  // Creates `program args...` and returns its id.
  std::string run(std::string program, std::vector<std::string> args, int cols = 80, int rows = 24) {
    CreateOptions o;
    o.shell = std::move(program);
    o.args = std::move(args);
    o.cols = cols;
    o.rows = rows;
    auto r = service_->create(o);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? r->id : "";
  }

  // An interactive /bin/sh, once it shows its first prompt (typing earlier
  // would put the prompt before the answer).
  std::string shell() {
    CreateOptions o;
    o.shell = "/bin/sh";
    o.env = {{"PS1", "READY> "}};
    auto r = service_->create(o);
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(wait_regex(r->id, "READY> ").result, WaitResult::Matched);
    return r->id;
  }

  WaitOutcome wait_regex(const std::string& id, const std::string& regex, std::optional<std::uint64_t> since = 0,
                         WaitOn on = WaitOn::Output) {
    WaitFor w;
    w.regex = regex;
    w.on = on;
    w.timeout_ms = 20000;
    auto r = service_->wait(id, w, since, cancel_);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : WaitOutcome{};
  }

  WaitOutcome wait_exit(const std::string& id) {
    WaitFor w;
    w.timeout_ms = 20000;
    auto r = service_->wait(id, w, 0, cancel_);
    EXPECT_TRUE(r);
    return r ? *r : WaitOutcome{};
  }

  TempDir dir_;
  std::unique_ptr<ConfinedRoot> root_ = std::make_unique<ConfinedRoot>(*ConfinedRoot::open(dir_.path()));
  events::Broker broker_;
  CancellationToken cancel_;
  std::unique_ptr<Service> service_;
};

TEST_F(TerminalTest, ShellEchoesWhatIsTypedAndAnswers) {
  const std::string id = shell();
  auto offset = service_->write(id, "echo he''llo\n", cancel_);
  ASSERT_TRUE(offset);
  // The default since is the offset at the last write.
  WaitFor w;
  w.regex = "^hello$";
  w.timeout_ms = 20000;
  auto r = service_->wait(id, w, std::nullopt, cancel_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result, WaitResult::Matched);
  EXPECT_EQ(r->match, "hello");
}

TEST_F(TerminalTest, PythonReplComputes) {
  const std::string id = run("python3", {"-i", "-q"});
  EXPECT_EQ(wait_regex(id, "^>>> ").result, WaitResult::Matched);
  auto before = service_->write(id, "2+3\n", cancel_);
  ASSERT_TRUE(before);
  auto r = wait_regex(id, "^5$", *before);
  EXPECT_EQ(r.result, WaitResult::Matched);
  EXPECT_EQ(r.match, "5");
}

TEST_F(TerminalTest, CatEchoesThroughTheLineDiscipline) {
  const std::string id = run("cat", {});
  ASSERT_TRUE(service_->write(id, "abc\n", cancel_));
  // The tty echoes "abc", then cat writes it back: two lines.
  EXPECT_EQ(wait_regex(id, "abc\\nabc\\n").result, WaitResult::Matched);
  auto raw = service_->raw(id, 0, 1000);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->bytes, "abc\r\nabc\r\n");
}

TEST_F(TerminalTest, ScreenRendersCursorAddressing) {
  const std::string id = run("/bin/sh", {"-c", "printf '\\033[2J\\033[5;10Hhello'; exec sleep 1000"});
  EXPECT_EQ(wait_regex(id, "hello", 0, WaitOn::Screen).result, WaitResult::Matched);
  auto s = service_->screen(id);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->lines.size(), 24u);
  EXPECT_EQ(s->lines[4], "         hello");
  EXPECT_EQ(s->lines[4].find("hello"), 9u);
  EXPECT_EQ(s->lines[3], "");
  EXPECT_EQ(s->cursor_row, 4);
  EXPECT_EQ(s->cursor_col, 14);
  EXPECT_EQ(s->cols, 80);
  EXPECT_FALSE(s->alt_screen);
}

TEST_F(TerminalTest, TitleAndWideCharacters) {
  const std::string id =
      run("/bin/sh", {"-c", "printf '\\033]0;My Title\\007\\346\\274\\242\\345\\255\\227|\\n'; exec sleep 1000"});
  EXPECT_EQ(wait_regex(id, "\\|").result, WaitResult::Matched);
  auto s = service_->screen(id);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->title, "My Title");
  EXPECT_EQ(s->lines[0], "漢字|");
  EXPECT_EQ(service_->info(id)->title, "My Title");
}

TEST_F(TerminalTest, ScrollbackIsBounded) {
  Limits limits;
  limits.scrollback_lines = 100;
  start(limits);
  const std::string id = run("/bin/sh", {"-c", "seq 1 20000; exec sleep 1000"});
  EXPECT_EQ(wait_regex(id, "^20000\n").result, WaitResult::Matched);
  // Wait for the emulator to have taken all of it (the match saw the ring).
  auto h = service_->history(id, 1000000);
  ASSERT_TRUE(h);
  // 20000 lines and the empty cursor line: 24 on screen, 19977 scrolled off,
  // of which the last 100 are kept; the blank cursor row is dropped.
  EXPECT_EQ(h->lines.size(), 123u);
  EXPECT_EQ(h->first_line, 19877u);
  EXPECT_EQ(h->total_lines, 20000u);
  EXPECT_EQ(h->lines.front(), "19878");
  EXPECT_EQ(h->lines.back(), "20000");
  auto tail = service_->history(id, 5);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->lines, (std::vector<std::string>{"19996", "19997", "19998", "19999", "20000"}));
  EXPECT_EQ(tail->first_line, 19995u);
}

TEST_F(TerminalTest, RawSinceAndRingBound) {
  Limits limits;
  limits.raw_bytes = 16;
  start(limits);
  const std::string id = run("/bin/sh", {"-c", "printf 0123456789abcdefghijklmnopqrstuvwxyzABCD; exec sleep 1000"});
  EXPECT_EQ(wait_regex(id, "ABCD").result, WaitResult::Matched);
  auto all = service_->raw(id, std::nullopt, 1000);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->bytes, "opqrstuvwxyzABCD");
  EXPECT_EQ(all->start, 24u);
  EXPECT_EQ(all->end, 40u);
  auto old = service_->raw(id, 3, 1000);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->start, 24u);
  EXPECT_EQ(old->dropped, 21u);
  auto part = service_->raw(id, 30, 4);
  ASSERT_TRUE(part);
  EXPECT_EQ(part->bytes, "uvwx");
  EXPECT_EQ(part->end, 34u);
  EXPECT_TRUE(part->truncated);
  EXPECT_EQ(part->dropped, 0u);
  EXPECT_EQ(service_->info(id)->offset, 40u);
}

TEST_F(TerminalTest, ResizeIsSeenByStty) {
  const std::string id = shell();
  auto before = service_->write(id, "stty size\n", cancel_);
  ASSERT_TRUE(before);
  // Up to the next prompt: typing before it would put the prompt first.
  EXPECT_EQ(wait_regex(id, "^24 80\nREADY> ", *before).result, WaitResult::Matched);
  auto info = service_->resize(id, 100, 30);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->cols, 100);
  EXPECT_EQ(info->rows, 30);
  before = service_->write(id, "stty size\n", cancel_);
  EXPECT_EQ(wait_regex(id, "^30 100$", *before).result, WaitResult::Matched);
  EXPECT_EQ(service_->screen(id)->lines.size(), 30u);
  EXPECT_FALSE(service_->resize(id, 0, 10));
}

TEST_F(TerminalTest, EnvironmentAndTerm) {
  CreateOptions o;
  o.shell = "/bin/sh";
  o.args = {"-c", "echo \"T=$TERM F=$FOO\"; exec sleep 1000"};
  o.env = {{"FOO", "bar baz"}};
  auto r = service_->create(o);
  ASSERT_TRUE(r);
  EXPECT_EQ(wait_regex(r->id, "^T=.*$").match, "T=xterm-256color F=bar baz");
  EXPECT_EQ(r->command, "/bin/sh -c 'echo \"T=$TERM F=$FOO\"; exec sleep 1000'");
}

TEST_F(TerminalTest, SigintReachesTheForegroundAndSigkillEnds) {
  const std::string id =
      run("/bin/sh", {"-c", "trap 'echo got-int; exit 7' INT; echo ready; while :; do sleep 1; done"});
  EXPECT_EQ(wait_regex(id, "^ready$").result, WaitResult::Matched);
  auto k = service_->kill(id, SIGINT);
  ASSERT_TRUE(k);
  EXPECT_EQ(wait_exit(id).result, WaitResult::Exited);
  auto info = service_->info(id);
  EXPECT_FALSE(info->alive);
  EXPECT_EQ(info->exit_code, 7);
  EXPECT_EQ(info->signal, std::nullopt);
  EXPECT_NE(service_->raw(id, 0, 1000)->bytes.find("got-int"), std::string::npos);

  const std::string id2 = run("sleep", {"1000"});
  ASSERT_TRUE(service_->kill(id2, SIGKILL));
  EXPECT_EQ(wait_exit(id2).result, WaitResult::Exited);
  EXPECT_EQ(service_->info(id2)->signal, SIGKILL);
  EXPECT_EQ(service_->info(id2)->exit_code, std::nullopt);
}

TEST_F(TerminalTest, DefaultKillReachesAGrandchild) {
  const std::string id = run("/bin/sh", {"-c", "sleep 1000 & echo PID=$!; wait"});
  auto r = wait_regex(id, "PID=\\d+");
  ASSERT_EQ(r.result, WaitResult::Matched);
  const pid_t grandchild = std::stoi(r.match.substr(4));
  ASSERT_EQ(::kill(grandchild, 0), 0);
  auto k = service_->kill(id, std::nullopt);
  ASSERT_TRUE(k);
  EXPECT_FALSE(k->alive);
  EXPECT_EQ(k->signal, SIGHUP);
  EXPECT_TRUE(process_gone(grandchild));
  // Killing it again answers its state.
  EXPECT_FALSE(service_->kill(id, std::nullopt)->alive);
}

TEST_F(TerminalTest, DefaultKillEscalatesWhenHangupIsIgnored) {
  const std::string id = run("/bin/sh", {"-c", "trap '' HUP; echo ready; exec sleep 1000"});
  EXPECT_EQ(wait_regex(id, "^ready$").result, WaitResult::Matched);
  auto k = service_->kill(id, std::nullopt);
  ASSERT_TRUE(k);
  EXPECT_FALSE(k->alive);
  EXPECT_EQ(k->signal, SIGKILL);
}

TEST_F(TerminalTest, ExitAndOutputArePublished) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<events::Event> got;
  auto sub =
      broker_.subscribe(nullptr, {"terminal/*/exit", "terminal/*/output"}, [&](std::uint64_t, const events::Event& e) {
        std::lock_guard lock(mu);
        got.push_back(e);
        cv.notify_all();
      });
  ASSERT_TRUE(sub);
  const std::string id = run("/bin/sh", {"-c", "echo bye; exit 3"});
  std::unique_lock lock(mu);
  const bool seen = cv.wait_for(lock, std::chrono::seconds(20),
                                [&] { return !got.empty() && got.back().topic == "terminal/" + id + "/exit"; });
  ASSERT_TRUE(seen);
  std::string text;
  std::uint64_t next = 0;
  for (const auto& e : got) {
    if (e.topic != "terminal/" + id + "/output") continue;
    EXPECT_EQ(e.data["offset"].get<std::uint64_t>(), next);
    next += e.data["bytes"].get<std::uint64_t>();
    text += e.data["data"].get<std::string>();
  }
  EXPECT_EQ(text, "bye\r\n");
  const auto& exit = got.back().data;
  EXPECT_EQ(exit["exitCode"], 3);
  EXPECT_TRUE(exit["signal"].is_null());
  EXPECT_EQ(exit["offset"], 5);
  broker_.unsubscribe(nullptr, *sub);
}

TEST_F(TerminalTest, AWaitAfterAWriteDoesNotMatchItsEcho) {
  // The terminal echoes `sleep 1; echo DONE`, which holds DONE a second
  // before the command prints it: the wait must see the output, not the
  // echo. With an explicit since, the echo is output like any other.
  const std::string id = shell();
  auto offset = service_->write(id, "sleep 1; echo DONE\n", cancel_);
  ASSERT_TRUE(offset);
  WaitFor w;
  w.regex = "DONE";
  w.timeout_ms = 20000;
  const auto start = std::chrono::steady_clock::now();
  auto r = service_->wait(id, w, std::nullopt, cancel_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result, WaitResult::Matched);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  auto echoed = service_->wait(id, w, *offset, cancel_);
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->result, WaitResult::Matched);
}

TEST_F(TerminalTest, WaitTimesOutOrReturnsWhenIdle) {
  const std::string id = run("/bin/sh", {"-c", "echo x; exec sleep 1000"});
  WaitFor w;
  w.regex = "never";
  w.timeout_ms = 300;
  auto r = service_->wait(id, w, 0, cancel_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result, WaitResult::Timeout);
  EXPECT_GE(r->waited_ms, 300);
  w.idle_ms = 200;
  w.timeout_ms = 20000;
  r = service_->wait(id, w, 0, cancel_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result, WaitResult::Idle);
  EXPECT_GE(r->waited_ms, 200);
  w.regex = "(";
  auto bad = service_->wait(id, w, 0, cancel_);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, error_code::kInvalidParams);
}

TEST_F(TerminalTest, WaitHonoursCancellation) {
  const std::string id = run("sleep", {"1000"});
  CancellationToken token;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    token.cancel();
  });
  WaitFor w;
  w.timeout_ms = 60000;
  auto r = service_->wait(id, w, 0, token);
  canceller.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::kRequestCancelled);
}

TEST_F(TerminalTest, CwdIsConfined) {
  std::filesystem::create_directories(dir_ / "sub/dir");
  std::filesystem::create_symlink("/tmp", dir_ / "out");
  CreateOptions o;
  o.shell = "/bin/sh";
  o.args = {"-c", "pwd; exec sleep 1000"};
  o.cwd = "sub/dir";
  auto ok = service_->create(o);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->cwd, "sub/dir");
  EXPECT_EQ(wait_regex(ok->id, "^/.*$").match, dir_.path() + "/sub/dir");
  for (const std::string bad : {"..", "sub/../../x", "/etc", "out", "out/"}) {
    o.cwd = bad;
    auto r = service_->create(o);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, error_code::kOutsideWorkspace) << bad << ": " << r.error().message;
  }
  o.cwd = "missing";
  auto missing = service_->create(o);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, error_code::kNotFound);
}

TEST_F(TerminalTest, WriteToAnExitedTerminalFailsClearly) {
  const std::string id = run("/bin/sh", {"-c", "exit 4"});
  EXPECT_EQ(wait_exit(id).result, WaitResult::Exited);
  auto w = service_->write(id, "hello\n", cancel_);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, error_code::kRequestFailed);
  EXPECT_NE(w.error().message.find("has exited (exit code 4)"), std::string::npos) << w.error().message;
  auto unknown = service_->write("999", "x", cancel_);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, error_code::kNotFound);
  CreateOptions o;
  o.shell = "no-such-program-xyz";
  auto missing = service_->create(o);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, error_code::kNotFound);
}

TEST_F(TerminalTest, ListShowsRunningAndExited) {
  const std::string a = run("sleep", {"1000"});
  const std::string b = run("/bin/sh", {"-c", "exit 0"}, 90, 20);
  EXPECT_EQ(wait_exit(b).result, WaitResult::Exited);
  auto all = service_->list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, a);
  EXPECT_TRUE(all[0].alive);
  EXPECT_EQ(all[0].command, "sleep 1000");
  EXPECT_GT(all[0].pid, 0);
  EXPECT_GT(all[0].created_ms, 1700000000000);
  EXPECT_EQ(all[1].id, b);
  EXPECT_FALSE(all[1].alive);
  EXPECT_EQ(all[1].exit_code, 0);
  EXPECT_EQ(all[1].cols, 90);
  EXPECT_EQ(all[1].rows, 20);
}

TEST_F(TerminalTest, ExitedTerminalsAreForgottenBeyondTheBound) {
  Limits limits;
  limits.max_exited = 2;
  start(limits);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(run("/bin/sh", {"-c", "exit 0"}));
    EXPECT_EQ(wait_exit(ids.back()).result, WaitResult::Exited);
  }
  auto all = service_->list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, ids[2]);
  EXPECT_EQ(all[1].id, ids[3]);
}

TEST_F(TerminalTest, DestructorEndsEverything) {
  const std::string a = run("/bin/sh", {"-c", "sleep 1000 & echo PID=$!; wait"});
  const std::string b = run("/bin/sh", {"-c", "trap '' HUP; echo PID=$$; exec sleep 1000"});
  const pid_t grandchild = std::stoi(wait_regex(a, "PID=\\d+").match.substr(4));
  const pid_t stubborn = std::stoi(wait_regex(b, "PID=\\d+").match.substr(4));
  const pid_t child = service_->info(a)->pid;
  service_.reset();
  EXPECT_TRUE(process_gone(grandchild, std::chrono::milliseconds(1)));
  EXPECT_TRUE(process_gone(stubborn, std::chrono::milliseconds(1)));
  EXPECT_TRUE(process_gone(child, std::chrono::milliseconds(1)));
}

TEST_F(TerminalTest, FloodKeepsMemoryBounded) {
  Limits limits;
  limits.scrollback_lines = 50;
  limits.raw_bytes = 4096;
  start(limits);
  // ~5 MB of output; what is kept stays within the bounds.
  const std::string id =
      run("/bin/sh", {"-c", "yes 0123456789012345678901234567890123456789 | head -c 5000000; echo; echo DONE"});
  EXPECT_EQ(wait_exit(id).result, WaitResult::Exited);
  auto info = service_->info(id);
  EXPECT_GT(info->offset, 5000000u);
  auto raw = service_->raw(id, 0, 1 << 20);
  EXPECT_EQ(raw->bytes.size(), 4096u);
  EXPECT_EQ(raw->dropped, info->offset - 4096);
  auto h = service_->history(id, 1000000);
  EXPECT_LE(h->lines.size(), 50u + 24u);
  EXPECT_EQ(h->lines.back(), "DONE");
}

// Output is taken off the PTY by one thread and handled by another through
// a bounded queue: when handling stalls (here a subscriber that does not
// return), the reader stops reading, the PTY fills and the program blocks;
// nothing piles up in memory. Released, every byte arrives.
TEST_F(TerminalTest, StalledConsumerBlocksTheProgramNotMemory) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::size_t delivered = 0;
  auto sub = broker_.subscribe(nullptr, {"terminal/*/output"}, [&](std::uint64_t, const events::Event& e) {
    std::unique_lock lock(mu);
    delivered += e.data["bytes"].get<std::size_t>();
    cv.wait(lock, [&] { return release; });
  });
  ASSERT_TRUE(sub);
  // 12 MiB in 1 MiB steps; the step count reaches a file after each.
  const std::string id = run("/bin/sh", {"-c",
                                         "i=0; while [ $i -lt 12 ]; do head -c 1048576 /dev/zero | tr '\\0' a; "
                                         "i=$((i+1)); echo $i > steps; done; echo; echo DONE"});
  auto steps = [&] {
    std::ifstream f(dir_.path() + "/steps");
    int n = 0;
    f >> n;
    return n;
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const int stalled_at = steps();
  // The queue (1 MiB), the chunk in hand, the PTY's buffers: a few MiB at most.
  EXPECT_LE(stalled_at, 4) << "the program kept writing while nothing was handled";
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(wait_exit(id).result, WaitResult::Exited);
  EXPECT_EQ(steps(), 12);
  EXPECT_EQ(service_->info(id)->offset, 12u * 1048576u + 2u + 6u);  // then "\r\n" and "DONE\r\n"
  std::lock_guard lock(mu);
  EXPECT_EQ(delivered, 12u * 1048576u + 8u);
  broker_.unsubscribe(nullptr, *sub);
}

TEST(TerminalText, SignalNames) {
  EXPECT_EQ(parse_signal("SIGINT"), SIGINT);
  EXPECT_EQ(parse_signal("int"), SIGINT);
  EXPECT_EQ(parse_signal("KILL"), SIGKILL);
  EXPECT_EQ(parse_signal("15"), SIGTERM);
  EXPECT_EQ(parse_signal("SIGNOPE"), std::nullopt);
  EXPECT_EQ(parse_signal("0"), std::nullopt);
  EXPECT_EQ(parse_signal("999"), std::nullopt);
  EXPECT_EQ(signal_name(SIGHUP), "SIGHUP");
  EXPECT_EQ(signal_name(64), "64");
}

TEST(TerminalText, CommandLineQuotes) {
  EXPECT_EQ(command_line(std::string("bash"), {"-c", "echo 'hi' && ls"}), "bash -c 'echo '\\''hi'\\'' && ls'");
  EXPECT_EQ(command_line(std::string("python3"), {"-i"}), "python3 -i");
  EXPECT_EQ(command_line(std::string("x"), {""}), "x ''");
  EXPECT_EQ(command_line(std::nullopt, {}), default_shell());
}

TEST(TerminalText, StripperRemovesSequencesAcrossChunks) {
  ControlStripper s;
  std::string out;
  s.feed("a\x1b[3", out);
  s.feed("1mb\x1b]0;title\x07", out);
  s.feed("c\r\n\x1b(Bd\x1bP1$r\x1b\\e\x1b=\tf\x08", out);
  EXPECT_EQ(out,
            "abc\nd"
            "e\tf");
}

TEST(TerminalText, Utf8RepairKeepsSplitCharacters) {
  std::string carry;
  EXPECT_EQ(repair_utf8("a\xe6\xbc", carry), "a");
  EXPECT_EQ(carry, "\xe6\xbc");
  EXPECT_EQ(repair_utf8("\xa2z", carry), "漢z");
  EXPECT_EQ(repair_utf8("\xff"
                        "b\xc3(",
                        carry),
            "\xEF\xBF\xBD"
            "b\xEF\xBF\xBD(");
  EXPECT_TRUE(carry.empty());
}

TEST(TerminalText, ScrollbackSetting) {
  TempDir dir;
  auto none = load_limits(dir / "missing.toml");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->scrollback_lines, 10000u);
  test::write_file(dir / "a.toml", "[terminal]\nscrollback = 250\n");
  EXPECT_EQ(load_limits(dir / "a.toml")->scrollback_lines, 250u);
  test::write_file(dir / "b.toml", "[terminal]\nscrollback = \"many\"\n");
  auto bad = load_limits(dir / "b.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("terminal.scrollback"), std::string::npos);
}

}  // namespace
}  // namespace icotes::terminal
