// The exec service with real processes: exit codes, signals, stdin, env,
// cwd, timeouts that kill grandchildren, cancellation, huge output, the
// sandbox (writes outside, network, a fork bomb, rlimits), a missing bwrap,
// background jobs, run_code, and the permission targets of argv and code.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "icotes/builtin_ops.hpp"
#include "icotes/exec.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/workspace.hpp"
#include "services/exec/exec_internal.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using std::chrono::milliseconds;
using test::TempDir;

// A workspace in a temp dir, with an optional [exec] section.
struct Ws {
  /// `nested`: the root is a directory below the temp dir, so its parent is
  /// not /tmp (private in the sandbox anyway).
  explicit Ws(const std::string& exec_toml = "", bool nested = false) {
    if (nested) std::filesystem::create_directories(top / "ws");
    path = nested ? top / "ws" : top.path();
    if (!exec_toml.empty()) test::write_file(path + "/.icotes/config.toml", "[exec]\n" + exec_toml);
    auto r = ConfinedRoot::open(path);
    if (!r) throw std::runtime_error(r.error().message);
    root = std::make_unique<ConfinedRoot>(std::move(*r));
    auto s = exec::Service::open(*root, false);
    if (!s) throw std::runtime_error(s.error().message);
    service = std::move(*s);
  }
  exec::Spec sh(const std::string& command, bool sandbox = true) const {
    exec::Spec spec;
    spec.argv = {"/bin/sh", "-c", command};
    spec.cwd = path;
    spec.sandbox = sandbox;
    spec.network = service->settings().network;
    spec.timeout = milliseconds(60000);
    return spec;
  }
  Result<exec::Outcome> run(const exec::Spec& spec, const CancellationToken& cancel = {}) {
    return service->run(spec, cancel);
  }
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
  TempDir top;
  std::string path;
  std::unique_ptr<ConfinedRoot> root;
  std::unique_ptr<exec::Service> service;
};

// A /proc file, empty when the process is gone (libstdc++'s filebuf throws
// on the ESRCH a vanished process gives).
std::string read_proc(const std::string& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

// Pids of live (not zombie) processes whose command line contains `needle`.
std::vector<int> processes_with(const std::string& needle) {
  std::vector<int> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_proc(e.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    const std::string stat = read_proc(e.path() / "stat");
    const auto paren = stat.rfind(')');
    const bool zombie = paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
    if (!zombie && cmdline.find(needle) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

// Waits (bounded) until no live process matches `needle`.
bool gone(const std::string& needle) {
  for (int i = 0; i < 100; ++i) {
    if (processes_with(needle).empty()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

long max_rss_kb() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

TEST(ExecRun, ExitCodeAndBothStreams) {
  Ws ws;
  for (bool sandbox : {false, true}) {
    auto r = ws.run(ws.sh("echo out; echo err >&2; exit 3", sandbox));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->ending, exec::Ending::Exited);
    EXPECT_EQ(r->exit_code, 3);
    EXPECT_FALSE(r->signal);
    EXPECT_EQ(r->out.text, "out\n");
    EXPECT_EQ(r->err.text, "err\n");
    EXPECT_EQ(r->out.total_bytes, 4u);
    EXPECT_EQ(r->sandboxed, sandbox);
    EXPECT_EQ(r->note, "exited with code 3");
  }
}

// Command output is repaired as terminal output and JSON strings are: one
// U+FFFD per maximal subpart (icotes/utf8.hpp). exec replaced each byte, so
// a cut euro sign before "A" became two U+FFFD where a terminal showed one.
TEST(ExecRun, OutputRepairsUtf8AsTerminalsDo) {
  Ws ws;
  auto r = ws.run(ws.sh("printf 'x\\342\\202A\\377\\355\\240\\200'", false));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text,
            "x\xEF\xBF\xBD"
            "A\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(ExecRun, SignalEndsIt) {
  Ws ws;
  auto r = ws.run(ws.sh("kill -SEGV $$", false));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ending, exec::Ending::Signaled);
  EXPECT_EQ(r->signal, SIGSEGV);
  EXPECT_FALSE(r->exit_code);
  EXPECT_EQ(r->note, "killed by SIGSEGV");
  // In the sandbox bwrap reports it as 128 + N.
  r = ws.run(ws.sh("kill -SEGV $$", true));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 128 + SIGSEGV);
}

TEST(ExecRun, StdinIsGivenOrDevNull) {
  Ws ws;
  auto spec = ws.sh("tr a-z A-Z");
  spec.stdin_data = "hello\n";
  auto r = ws.run(spec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text, "HELLO\n");
  // More than a pipe holds.
  spec = ws.sh("wc -c", false);
  spec.stdin_data = std::string(3 << 20, 'x');
  r = ws.run(spec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text, std::to_string(3 << 20) + "\n");
  // A reader that stops early: the rest is dropped (no SIGPIPE here).
  spec = ws.sh("head -c 10", false);
  spec.stdin_data = std::string(3 << 20, 'y');
  r = ws.run(spec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text, "yyyyyyyyyy");
  EXPECT_EQ(r->exit_code, 0);
  // Without stdin: /dev/null, read at once (no hang waiting for a person).
  r = ws.run(ws.sh("cat; readlink /proc/self/fd/0; tty; echo $?", false));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text, "/dev/null\nnot a tty\n1\n");
}

TEST(ExecRun, EnvironmentIsNonInteractiveAndOverridable) {
  Ws ws;
  auto spec = ws.sh("echo \"$FOO|$GIT_TERMINAL_PROMPT|$DEBIAN_FRONTEND|$PAGER|$GIT_PAGER\"");
  spec.env = {{"FOO", "bar baz"}};
  auto r = ws.run(spec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text, "bar baz|0|noninteractive|cat|cat\n");
  // Its own session: it leads a new process group and session.
  r = ws.run(ws.sh("ps -o pid=,pgid=,sid= -p $$", false));
  ASSERT_TRUE(r) << r.error().message;
  std::istringstream in(r->out.text);
  int pid = 0, pgid = 0, sid = 0;
  in >> pid >> pgid >> sid;
  EXPECT_EQ(pid, pgid);
  EXPECT_EQ(pid, sid);
}

TEST(ExecRun, CwdAndArgvNotFound) {
  Ws ws;
  std::filesystem::create_directories(ws / "sub dir");
  auto spec = ws.sh("pwd");
  spec.cwd = ws / "sub dir";
  auto r = ws.run(spec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text, ws / "sub dir\n");

  exec::Spec argv;
  argv.argv = {"no-such-program-icotes", "x"};
  argv.cwd = ws.path;
  argv.sandbox = false;
  r = ws.run(argv);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::kNotFound);
  EXPECT_NE(r.error().message.find("'no-such-program-icotes' was not found in PATH"), std::string::npos)
      << r.error().message;
  // argv runs without a shell: metacharacters are plain words.
  argv.argv = {"printf", "%s|", "a b", "$HOME", ";", "*"};
  r = ws.run(argv);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text, "a b|$HOME|;|*|");
}

TEST(ExecRun, TimeoutKillsAGrandchildThatIgnoresSigterm) {
  Ws ws;
  for (bool sandbox : {false, true}) {
    const std::string token = sandbox ? "987.125" : "987.25";
    auto spec = ws.sh("(trap '' TERM; exec sleep " + token + ") & wait", sandbox);
    spec.timeout = milliseconds(1000);
    auto r = ws.run(spec);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->ending, exec::Ending::Timeout);
    EXPECT_NE(r->note.find("killed after the 1000 ms timeout"), std::string::npos) << r->note;
    EXPECT_LT(r->duration.count(), 30000);
    EXPECT_TRUE(gone("sleep " + token)) << "the grandchild survived (sandbox " << sandbox << ")";
  }
}

TEST(ExecRun, ClosedStdoutStillEndsAtTheTimeout) {
  Ws ws;
  auto spec = ws.sh("exec >&- 2>&-; sleep 30", false);
  spec.timeout = milliseconds(1000);
  auto r = ws.run(spec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ending, exec::Ending::Timeout);
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_LT(r->duration.count(), 20000);
}

TEST(ExecRun, LeftoverHoldingThePipeDoesNotHangTheCall) {
  Ws ws;
  auto r = ws.run(ws.sh("sleep 976.5 & echo started", false));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ending, exec::Ending::Exited);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out.text, "started\n");
  EXPECT_LT(r->duration.count(), 20000);
  EXPECT_TRUE(gone("sleep 976.5"));
}

TEST(ExecRun, EndlessOutputStillTimesOut) {
  Ws ws;
  std::uint64_t streamed = 0;
  exec::OutputSink sink = [&](std::string_view, std::uint64_t total) { streamed = total; };
  auto spec = ws.sh("yes", false);
  spec.timeout = milliseconds(1000);
  auto r = ws.service->run(spec, CancellationToken{}, sink);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ending, exec::Ending::Timeout);
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_GT(r->out.total_bytes, 1u << 20);
  EXPECT_EQ(r->out.text.substr(0, 8), "y\ny\ny\ny\n");
  EXPECT_GT(streamed, 0u);
  EXPECT_LT(r->duration.count(), 20000);
}

TEST(ExecRun, IdleTimeout) {
  Ws ws;
  auto spec = ws.sh("echo hi; sleep 30", false);
  spec.idle_timeout = milliseconds(500);
  auto r = ws.run(spec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ending, exec::Ending::IdleTimeout);
  EXPECT_EQ(r->out.text, "hi\n");
  EXPECT_LT(r->duration.count(), 20000);
}

TEST(ExecRun, CancellationKillsTheGroup) {
  Ws ws;
  for (bool sandbox : {false, true}) {
    const std::string token = sandbox ? "965.125" : "965.25";
    CancellationToken cancel;
    std::thread canceller([&] {
      for (int i = 0; i < 200 && processes_with("sleep " + token).empty(); ++i)
        std::this_thread::sleep_for(milliseconds(25));
      cancel.cancel();
    });
    auto r = ws.run(ws.sh("sleep " + token + " & sleep " + token + "; wait", sandbox), cancel);
    canceller.join();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, error_code::kRequestCancelled);
    EXPECT_NE(r.error().message.find("cancelled"), std::string::npos);
    EXPECT_TRUE(gone("sleep " + token));
  }
}

TEST(ExecRun, GigabyteOfOutputKeepsHeadAndTailInFlatMemory) {
  Ws ws;
  const long before = max_rss_kb();
  auto spec = ws.sh("head -c 1G /dev/zero | tr '\\0' a; echo; echo the-end", false);
  spec.max_output_bytes = 30000;
  auto r = ws.run(spec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 0);
  const std::uint64_t total = (1ULL << 30) + 1 + 8;
  EXPECT_EQ(r->out.total_bytes, total);
  EXPECT_EQ(r->out.omitted_bytes, total - 30000);
  EXPECT_EQ(r->out.text, std::string(15000, 'a') + "\n[... " + std::to_string(total - 30000) + " bytes omitted ...]\n" +
                             std::string(15000 - 9, 'a') + "\nthe-end\n");
  EXPECT_LT(max_rss_kb() - before, 64 * 1024) << "memory grew with the output";
}

TEST(ExecCapture, CutsOnCharacterBoundariesAndRepairsUtf8) {
  exec::detail::Capture c(10);
  std::string euros;
  for (int i = 0; i < 10; ++i) euros += "\xe2\x82\xac";  // 30 bytes
  c.add(euros);
  const auto got = c.finish();
  EXPECT_EQ(got.total_bytes, 30u);
  EXPECT_EQ(got.omitted_bytes, 24u);  // 5 head bytes keep one euro, 5 tail bytes one
  EXPECT_EQ(got.text, "\xe2\x82\xac\n[... 24 bytes omitted ...]\n\xe2\x82\xac");
}

TEST(ExecRun, StreamsOutputWhileItRuns) {
  Ws ws;
  std::string seen;
  std::vector<std::uint64_t> totals;
  int calls = 0;
  exec::OutputSink sink = [&](std::string_view text, std::uint64_t total) {
    seen += text;
    totals.push_back(total);
    ++calls;
  };
  auto r = ws.service->run(ws.sh("for i in 1 2 3; do echo $i; sleep 0.2; done; printf '\\342\\202'; printf '\\254\\n'"),
                           CancellationToken{}, sink);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(seen, "1\n2\n3\n\xe2\x82\xac\n");
  EXPECT_GE(calls, 3);
  EXPECT_TRUE(std::is_sorted(totals.begin(), totals.end()));
  EXPECT_EQ(totals.back(), 10u);
}

// --- the sandbox ---------------------------------------------------------------

TEST(ExecSandbox, WritesOutsideTheWorkspaceFail) {
  Ws ws("", true);
  const std::string parent = std::filesystem::path(ws.path).parent_path();
  const char* home = std::getenv("HOME");
  ASSERT_TRUE(home);
  const std::string name = "icotes-escape-" + std::to_string(::getpid());
  for (const std::string& target :
       {parent + "/" + name, "/etc/" + name, std::string(home) + "/" + name, ws / ".icotes/" + name}) {
    auto r = ws.run(ws.sh("echo x > '" + target + "'"));
    ASSERT_TRUE(r) << r.error().message;
    // A $HOME under /tmp lands in the sandbox's private /tmp, and is gone.
    if (target.rfind("/tmp/", 0) != 0) {
      EXPECT_NE(r->exit_code, 0) << target;
      EXPECT_NE(r->err.text.find("Read-only file system"), std::string::npos) << r->err.text;
    }
    EXPECT_FALSE(test::exists_nofollow(target)) << target << " was written";
  }
  // git's hooks and config would run code outside the sandbox later; a
  // repository without a hooks directory must not get one from inside.
  std::filesystem::create_directories(ws / ".git");
  test::write_file(ws / ".git/config", "[core]\n");
  auto planted = ws.run(ws.sh("mkdir -p .git/hooks && echo x > .git/hooks/post-checkout"));
  ASSERT_TRUE(planted) << planted.error().message;
  EXPECT_FALSE(test::exists_nofollow(ws / ".git/hooks/post-checkout"));
  auto r = ws.run(ws.sh("echo x > .git/hooks/pre-commit; echo y >> .git/config; echo z > .git/HEAD; echo ok > inside"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(test::exists_nofollow(ws / ".git/hooks/pre-commit"));
  EXPECT_EQ(test::read_file(ws / ".git/config"), "[core]\n");
  EXPECT_EQ(test::read_file(ws / ".git/HEAD"), "z\n");
  EXPECT_EQ(test::read_file(ws / "inside"), "ok\n");
  // /tmp is private: nothing lands in the host's.
  r = ws.run(ws.sh("echo x > /tmp/" + name + "; cat /tmp/" + name));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text, "x\n");
  EXPECT_FALSE(test::exists_nofollow("/tmp/" + name));
}

TEST(ExecSandbox, ReadOnlyWorkspaceInReadOnlyMode) {
  TempDir dir;
  auto root = ConfinedRoot::open(dir.path());
  ASSERT_TRUE(root);
  auto service = exec::Service::open(*root, true);
  ASSERT_TRUE(service);
  exec::Spec spec;
  spec.argv = {"/bin/sh", "-c", "echo x > file"};
  spec.cwd = dir.path();
  auto r = (*service)->run(spec, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(r->exit_code, 0);
  EXPECT_FALSE(test::exists_nofollow(dir / "file"));
}

// A loopback listener; counts the connections it accepted.
struct Listener {
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 8);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
  int accepted() {
    int n = 0;
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 200) == 1) {
      ::close(::accept(fd, nullptr, nullptr));
      ++n;
    }
    return n;
  }
  int fd = -1;
  int port = 0;
};

TEST(ExecSandbox, NoNetworkUnlessAllowed) {
  Listener l;
  const std::string connect = "python3 -c \"import socket; socket.create_connection(('127.0.0.1', " +
                              std::to_string(l.port) + "), 5); print('connected')\"";
  {
    Ws ws;
    auto r = ws.run(ws.sh(connect));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_NE(r->exit_code, 0);
    EXPECT_EQ(r->out.text, "");
    EXPECT_NE(r->err.text.find("ConnectionRefusedError"), std::string::npos) << r->err.text;
    EXPECT_EQ(l.accepted(), 0);
    // Unsandboxed it would reach it: the test can fail.
    r = ws.run(ws.sh(connect, false));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->out.text, "connected\n");
    EXPECT_EQ(l.accepted(), 1);
  }
  Ws net("network = true\n");
  EXPECT_TRUE(net.service->settings().network);
  auto r = net.run(net.sh(connect));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 0) << r->err.text;
  EXPECT_EQ(r->out.text, "connected\n");
  EXPECT_TRUE(r->sandboxed);
  EXPECT_EQ(l.accepted(), 1);
}

TEST(ExecSandbox, ForkBombIsBoundedAndKilled) {
  Ws ws("max_processes = 64\n");
  // Bounded on purpose (at most 300 processes) in case the limit failed.
  // The kernel refuses the 65th task: the shell's fork fails, it stops;
  // the watchdog ends it when it sees that first.
  auto spec = ws.sh("for i in $(seq 300); do sleep 954.5 & done; wait");
  spec.timeout = milliseconds(30000);
  auto r = ws.run(spec);
  ASSERT_TRUE(r) << r.error().message;
  if (r->ending != exec::Ending::ProcessLimit) {
    EXPECT_NE(r->exit_code, 0) << r->note;
  }
  EXPECT_TRUE(gone("sleep 954.5"));
  // A recursive one, 2^8 shells at most.
  spec = ws.sh("f() { if [ $1 -gt 0 ]; then f $(($1 - 1)) & f $(($1 - 1)); wait; else sleep 954.25; fi; }; f 8");
  r = ws.run(spec);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(gone("sleep 954.25"));
  // Under the limit nothing happens.
  r = ws.run(ws.sh("for i in $(seq 20); do sleep 0.2 & done; wait; echo done"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ending, exec::Ending::Exited);
  EXPECT_EQ(r->out.text, "done\n");
}

TEST(ExecSandbox, MemoryAndFileSizeLimits) {
  Ws ws("memory_mb = 512\nfile_size_mb = 1\n");
  auto r = ws.run(ws.sh("python3 -c 'x = bytearray(1024 * 1024 * 1024)'"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_NE(r->err.text.find("MemoryError"), std::string::npos) << r->err.text;
  r = ws.run(ws.sh("python3 -c 'x = bytearray(64 * 1024 * 1024); print(len(x))'"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text, "67108864\n");
  r = ws.run(ws.sh("head -c 2M /dev/zero > big"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 128 + SIGXFSZ);
  EXPECT_EQ(std::filesystem::file_size(ws / "big"), 1u << 20);
}

TEST(ExecSandbox, MissingBwrapIsAnErrorThatSaysWhatToDo) {
  ::setenv("ICOTES_BWRAP", "/nonexistent/bwrap", 1);
  Ws ws;
  ::unsetenv("ICOTES_BWRAP");
  auto r = ws.run(ws.sh("echo should-not-run"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::kRequestFailed);
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("bubblewrap (/nonexistent/bwrap) could not be run"), std::string::npos) << m;
  EXPECT_NE(m.find("apt install bubblewrap"), std::string::npos) << m;
  EXPECT_NE(m.find("sandbox = false"), std::string::npos) << m;
  // Unsandboxed runs do not need it.
  r = ws.run(ws.sh("echo fine", false));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->out.text, "fine\n");
  // A bwrap that fails says what it said.
  ::setenv("ICOTES_BWRAP", "/bin/false", 1);
  Ws refused;
  ::unsetenv("ICOTES_BWRAP");
  r = refused.run(refused.sh("echo should-not-run"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("the sandbox does not work here: /bin/false failed (exited with code 1)"),
            std::string::npos)
      << r.error().message;
}

TEST(ExecSettings, ReadsTheExecSection) {
  Ws ws("sandbox = false\nnetwork = true\nmemory_mb = 100\ncpu_seconds = 7\nfile_size_mb = 0\nmax_processes = 9\n");
  const auto& s = ws.service->settings();
  EXPECT_FALSE(s.sandbox);
  EXPECT_TRUE(s.network);
  EXPECT_EQ(s.limits.memory_bytes, 100u << 20);
  EXPECT_EQ(s.limits.cpu_seconds, 7u);
  EXPECT_EQ(s.limits.file_size_bytes, 0u);
  EXPECT_EQ(s.limits.max_processes, 9u);
  TempDir d;
  test::write_file(d / "c.toml", "[exec]\nsandbox = \"no\"\n");
  auto bad = exec::load_settings(d / "c.toml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, d / "c.toml:2: exec.sandbox must be true or false");
  test::write_file(d / "c.toml", "[exec]\nmemory = 5\n");
  bad = exec::load_settings(d / "c.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("exec.memory is not a setting"), std::string::npos);
  auto none = exec::load_settings(d / "missing.toml");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->sandbox);
  EXPECT_EQ(none->limits.max_processes, 1024u);
}

// --- background jobs --------------------------------------------------------------

TEST(ExecJobs, Lifecycle) {
  Ws ws;
  auto spec = ws.sh("echo a; echo e >&2; sleep 0.3; echo b; exec sleep 943.5");
  spec.timeout = milliseconds(0);
  auto started = ws.service->start(spec, "the command");
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_EQ(started->id, "job-1");
  EXPECT_TRUE(started->running);
  EXPECT_GT(started->outcome.pid, 0);

  // Long-poll until "b" arrived.
  std::uint64_t out_offset = 0, err_offset = 0;
  std::string out, err;
  for (int i = 0; i < 100 && out.find("b\n") == std::string::npos; ++i) {
    auto o = ws.service->output("job-1", out_offset, err_offset, 65536, milliseconds(200));
    ASSERT_TRUE(o) << o.error().message;
    out += o->out.text;
    err += o->err.text;
    out_offset = o->out.next_offset;
    err_offset = o->err.next_offset;
  }
  EXPECT_EQ(err, "e\n");
  EXPECT_EQ(out, "a\nb\n");
  EXPECT_EQ(out_offset, 4u);
  auto o = ws.service->output("job-1", out_offset, 2, 65536, milliseconds(0));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->out.text, "");
  EXPECT_EQ(o->out.next_offset, 4u);
  EXPECT_TRUE(o->info.running);
  // Offsets and maxBytes page the buffer.
  o = ws.service->output("job-1", 1, 0, 2, milliseconds(0));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->out.text, "\nb");
  EXPECT_EQ(o->out.offset, 1u);
  EXPECT_EQ(o->out.next_offset, 3u);

  auto list = ws.service->list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].command, "the command");
  EXPECT_TRUE(list[0].running);

  auto killed = ws.service->kill("job-1");
  ASSERT_TRUE(killed) << killed.error().message;
  EXPECT_FALSE(killed->running);
  EXPECT_EQ(killed->outcome.ending, exec::Ending::Killed);
  EXPECT_TRUE(gone("sleep 943.5"));
  // Finished jobs stay readable.
  o = ws.service->output("job-1", 0, 0, 65536, milliseconds(0));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->out.text, "a\nb\n");
  EXPECT_FALSE(o->info.running);

  auto missing = ws.service->output("job-9", 0, 0, 10, milliseconds(0));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, error_code::kNotFound);
  EXPECT_FALSE(ws.service->kill("job-9"));
}

// A job's stream keeps its last 1 MiB, as exec.hpp says and as a terminal's
// raw output keeps its bound (one ByteRing): exec kept up to 2 MiB.
TEST(ExecJobs, KeepTheLastMebibyteOfEachStream) {
  Ws ws;
  auto job = ws.service->start(ws.sh("head -c 1572864 /dev/zero | tr '\\0' a; echo -n z >&2", false), "big");
  ASSERT_TRUE(job) << job.error().message;
  // Waits at the ends of both streams until the job has finished.
  auto o = ws.service->output(job->id, 0, 0, 16, milliseconds(0));
  for (int i = 0; i < 1000 && o && o->info.running; ++i)
    o = ws.service->output(job->id, o->info.outcome.out.total_bytes, o->info.outcome.err.total_bytes, 16,
                           milliseconds(100));
  ASSERT_TRUE(o) << o.error().message;
  ASSERT_FALSE(o->info.running);
  o = ws.service->output(job->id, 0, 0, 16, milliseconds(0));
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->info.outcome.out.total_bytes, 1572864u);
  EXPECT_EQ(o->out.dropped_bytes, 524288u);
  EXPECT_EQ(o->out.offset, 524288u);
  EXPECT_EQ(o->out.text, std::string(16, 'a'));
  EXPECT_EQ(o->out.next_offset, 524288u + 16);
  EXPECT_EQ(o->err.text, "z");
  o = ws.service->output(job->id, 1572860, 0, 65536, milliseconds(0));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->out.text, "aaaa");
  EXPECT_EQ(o->out.dropped_bytes, 0u);
}

TEST(ExecJobs, FinishOnTheirOwnAndDieWithTheService) {
  Ws ws;
  auto quick = ws.service->start(ws.sh("exit 4", false), "exit 4");
  ASSERT_TRUE(quick) << quick.error().message;
  auto o = ws.service->output(quick->id, 0, 0, 100, milliseconds(10000));
  ASSERT_TRUE(o);
  for (int i = 0; i < 100 && o->info.running; ++i) o = ws.service->output(quick->id, 0, 0, 100, milliseconds(100));
  EXPECT_FALSE(o->info.running);
  EXPECT_EQ(o->info.outcome.exit_code, 4);

  auto spec = ws.sh("trap '' TERM; sleep 932.5", false);
  spec.timeout = milliseconds(0);
  ASSERT_TRUE(ws.service->start(spec, "long"));
  spec.sandbox = true;
  spec.argv[2] = "sleep 932.25";
  ASSERT_TRUE(ws.service->start(spec, "long sandboxed"));
  for (int i = 0; i < 100 && (processes_with("sleep 932.5").empty() || processes_with("sleep 932.25").empty()); ++i)
    std::this_thread::sleep_for(milliseconds(20));
  ws.service.reset();  // the workspace closing
  EXPECT_TRUE(gone("sleep 932.5"));
  EXPECT_TRUE(gone("sleep 932.25"));
}

// --- operations: params, run_code, permission targets ---------------------------------

struct WsOps {
  WsOps() {
    auto w = Workspace::open(dir.path(), 1);
    if (!w) throw std::runtime_error(w.error().message);
    ws = std::move(*w);
  }
  Result<json> call(const std::string& id, const json& params) {
    const Operation* op = builtin_registry().find(id);
    if (!op) throw std::runtime_error("no operation " + id);
    NullProgress progress;
    Context ctx{*ws, cancel, progress, nullptr};
    return builtin_registry().invoke(*op, ctx, params);
  }
  TempDir dir;
  std::unique_ptr<Workspace> ws;
  CancellationToken cancel;
};

TEST(ExecOps, RunCommandResultShape) {
  WsOps w;
  auto r = w.call("exec/run", {{"command", "printf out; printf err >&2; exit 2"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["status"], "exited");
  EXPECT_EQ((*r)["exitCode"], 2);
  EXPECT_EQ((*r)["stdout"], "out");
  EXPECT_EQ((*r)["stderr"], "err");
  EXPECT_EQ((*r)["stdoutBytes"], 3);
  EXPECT_EQ((*r)["truncated"], false);
  EXPECT_EQ((*r)["sandboxed"], true);
  EXPECT_FALSE(r->contains("signal"));
  r = w.call("exec/run", {{"argv", {"sh", "-c", "exit 0"}}, {"cwd", "."}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["exitCode"], 0);
}

TEST(ExecOps, ParamsAreCheckedAndCwdConfined) {
  WsOps w;
  auto r = w.call("exec/run", {{"command", "true"}, {"argv", {"true"}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  r = w.call("exec/run", json::object());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  r = w.call("exec/run", {{"command", "pwd"}, {"cwd", "/etc"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::kOutsideWorkspace);
  r = w.call("exec/run", {{"command", "pwd"}, {"cwd", "../"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::kOutsideWorkspace);
  std::filesystem::create_symlink("/etc", w.dir / "out");
  r = w.call("exec/run", {{"command", "pwd"}, {"cwd", "out"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::kOutsideWorkspace);
  EXPECT_NE(r.error().message.find("leads outside the workspace"), std::string::npos) << r.error().message;
  r = w.call("exec/run", {{"command", "pwd"}, {"cwd", "missing"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::kNotFound);
}

TEST(ExecOps, RunCodeInEachLanguage) {
  WsOps w;
  auto r = w.call("exec/runCode", {{"language", "python"},
                                   {"code", "import sys\nprint(sum(range(10)), sys.stdin.read().upper())"},
                                   {"stdin", "abc"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["stdout"], "45 ABC\n");
  EXPECT_EQ((*r)["sandboxed"], true);
  r = w.call("exec/runCode",
             {{"language", "node"}, {"code", "console.log([1, 2, 3].map(x => x * 2).join(','), process.cwd())"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["stdout"], "2,4,6 " + w.dir.path() + "\n");
  r = w.call("exec/runCode", {{"language", "bash"}, {"code", "echo $((6 * 7)); exit 5"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["stdout"], "42\n");
  EXPECT_EQ((*r)["exitCode"], 5);
  // Always sandboxed, even with sandbox = false for commands.
  r = w.call("exec/runCode", {{"language", "python"}, {"code", "open('/etc/icotes-x', 'w')"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["exitCode"], 1);
  EXPECT_NE((*r)["stderr"].get<std::string>().find("Read-only file system"), std::string::npos);
}

TEST(ExecOps, BackgroundJobThroughTheOperations) {
  WsOps w;
  auto r = w.call("exec/run", {{"command", "echo hi; sleep 921.5"}, {"background", true}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["status"], "running");
  const std::string id = (*r)["id"];
  json out;
  for (int i = 0; i < 100; ++i) {
    auto o = w.call("exec/jobOutput", {{"id", id}, {"waitMs", 200}});
    ASSERT_TRUE(o) << o.error().message;
    out = *o;
    if (out["stdout"] == "hi\n") break;
  }
  EXPECT_EQ(out["stdout"], "hi\n");
  EXPECT_EQ(out["stdoutNextOffset"], 3);
  EXPECT_EQ(out["status"], "running");
  auto list = w.call("exec/jobList", json::object());
  ASSERT_TRUE(list);
  ASSERT_EQ((*list)["jobs"].size(), 1u);
  EXPECT_EQ((*list)["jobs"][0]["command"], "echo hi; sleep 921.5");
  auto k = w.call("exec/jobKill", {{"id", id}});
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ((*k)["status"], "killed");
  EXPECT_TRUE(gone("sleep 921.5"));
}

TEST(ExecGate, ArgvAndCodeAreJudgedAsTheCommandLineAUserWouldType) {
  TempDir dir;
  auto root = ConfinedRoot::open(dir.path());
  ASSERT_TRUE(root);
  permissions::Settings extra;
  extra.allow.push_back(*permissions::Rule::parse("Bash(python3:*)", permissions::Answer::Allow));
  auto gate = permissions::Gate::open(*root, extra);
  ASSERT_TRUE(gate);
  const Registry& reg = builtin_registry();
  auto needs = (*gate)->needs(*reg.find("exec/run"), {{"argv", {"git", "commit", "-m", "it's done"}}});
  ASSERT_EQ(needs.size(), 1u);
  EXPECT_EQ(needs[0].kind, OperationKind::Bash);
  EXPECT_EQ(needs[0].target, "git commit -m 'it'\\''s done'");
  needs = (*gate)->needs(*reg.find("exec/runCode"), {{"language", "python"}, {"code", "print('hi')"}});
  ASSERT_EQ(needs.size(), 1u);
  EXPECT_EQ(needs[0].target, "python3 -c 'print('\\''hi'\\'')'");
  permissions::ClientState client;
  client.settings = (*gate)->settings();
  EXPECT_TRUE((*gate)->check_now(client, "exec/runCode", needs));
  needs = (*gate)->needs(*reg.find("exec/runCode"), {{"language", "node"}, {"code", "1"}});
  EXPECT_EQ(needs[0].target, "node -e 1");
  EXPECT_FALSE((*gate)->check_now(client, "exec/runCode", needs));
  needs = (*gate)->needs(*reg.find("exec/run"), {{"command", "make -j2"}});
  EXPECT_EQ(needs[0].target, "make -j2");
  EXPECT_EQ(exec::shell_join({"a", "", "$x", "ok/path_1.c"}), "a '' '$x' ok/path_1.c");
}

// A terminal's grant is for the program it starts, as a command line.
TEST(ExecGate, ATerminalIsJudgedAsTheProgramItStarts) {
  TempDir dir;
  auto root = ConfinedRoot::open(dir.path());
  ASSERT_TRUE(root);
  permissions::Settings extra;
  extra.allow.push_back(*permissions::Rule::parse("Bash(python3 -i)", permissions::Answer::Allow));
  auto gate = permissions::Gate::open(*root, extra);
  ASSERT_TRUE(gate);
  const Registry& reg = builtin_registry();
  auto needs = (*gate)->needs(*reg.find("terminal/create"), {{"shell", "bash"}, {"args", {"-c", "echo hi"}}});
  ASSERT_EQ(needs.size(), 1u);
  EXPECT_EQ(needs[0].kind, OperationKind::Bash);
  EXPECT_EQ(needs[0].target, "bash -c 'echo hi'");
  permissions::ClientState client;
  client.settings = (*gate)->settings();
  EXPECT_FALSE((*gate)->check_now(client, "terminal/create", needs));
  needs = (*gate)->needs(*reg.find("terminal/create"), {{"shell", "python3"}, {"args", {"-i"}}});
  EXPECT_TRUE((*gate)->check_now(client, "terminal/create", needs));
  // Typing into it asks nothing.
  EXPECT_EQ(reg.find("terminal/write")->kind, OperationKind::None);
}

}  // namespace
}  // namespace icotes
