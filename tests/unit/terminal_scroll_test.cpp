// The plain-text fast path (Limits::fast_scroll) against libvterm alone: the
// same output through two terminals, one with the fast path and one
// without, must leave the same scrollback, screen and cursor.
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "icotes/events.hpp"
#include "icotes/terminal.hpp"
#include "test_util.hpp"

namespace icotes::terminal {
namespace {

using test::TempDir;

struct Outcome {
  std::vector<std::string> lines;
  std::uint64_t first_line = 0;
  int cursor_row = 0, cursor_col = 0;
};

Outcome run_through(const ConfinedRoot& root, bool fast, const std::vector<std::string>& argv, int cols, int rows) {
  events::Broker broker;
  Limits limits;
  limits.fast_scroll = fast;
  limits.scrollback_lines = 100000;
  Service service(root, broker, limits);
  CreateOptions o;
  o.shell = argv.front();
  o.args.assign(argv.begin() + 1, argv.end());
  o.cols = cols;
  o.rows = rows;
  auto t = service.create(o);
  EXPECT_TRUE(t.ok()) << (t ? "" : t.error().message);
  if (!t) return {};
  WaitFor w;
  w.timeout_ms = 60000;
  CancellationToken cancel;
  // Exited, and all output read (the exit event comes after the last output).
  for (int i = 0; i < 600; ++i) {
    auto info = service.info(t->id);
    if (info && !info->alive) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto h = service.history(t->id, 1000000);
  auto s = service.screen(t->id);
  EXPECT_TRUE(h.ok() && s.ok());
  return Outcome{h->lines, h->first_line, s->cursor_row, s->cursor_col};
}

TEST(TerminalFastScroll, LeavesTheSameScrollbackAndScreenAsTheEmulator) {
  TempDir dir;
  // Lines of every kind the fast path splits: empty, short, exactly the
  // width, one past it, several widths, trailing spaces; and chunks that
  // end mid-line (the file is far larger than one 64 KiB read).
  std::mt19937 rng(42);
  std::ofstream f(dir / "text.txt");
  const int cols = 40;
  for (int i = 0; i < 30000; ++i) {
    const int kind = static_cast<int>(rng() % 8);
    std::size_t len = kind == 0 ? 0 : kind == 1 ? cols : kind == 2 ? cols + 1 : kind == 3 ? 3 * cols : rng() % 70;
    std::string line;
    for (std::size_t k = 0; k < len; ++k) line += static_cast<char>('a' + (i + k) % 26);
    if (kind == 4) line += "   ";
    f << line << '\n';
  }
  f << "no newline at the end";
  f.close();
  auto root = ConfinedRoot::open(dir.path());
  ASSERT_TRUE(root.ok());
  for (const auto& argv :
       std::vector<std::vector<std::string>>{{"cat", "text.txt"},
                                             // A prompt with colours first, then the plain text.
                                             {"sh", "-c", "printf '\\033[1;32mready\\033[0m\\n'; cat text.txt"},
                                             // A scroll region set before: the fast path must stand aside.
                                             {"sh", "-c", "printf '\\033[2;10r'; cat text.txt"}}) {
    const Outcome slow = run_through(*root, false, argv, cols, 12);
    const Outcome fast = run_through(*root, true, argv, cols, 12);
    // With a scroll region nothing reaches scrollback (the region scrolls).
    if (argv.back().find("\\033[2;10r") == std::string::npos) {
      ASSERT_GT(slow.lines.size(), 30000u) << argv.back();
    }
    EXPECT_EQ(fast.first_line, slow.first_line) << argv.back();
    ASSERT_EQ(fast.lines.size(), slow.lines.size()) << argv.back();
    for (std::size_t i = 0; i < slow.lines.size(); ++i)
      ASSERT_EQ(fast.lines[i], slow.lines[i]) << argv.back() << ": line " << i;
    EXPECT_EQ(fast.cursor_row, slow.cursor_row);
    EXPECT_EQ(fast.cursor_col, slow.cursor_col);
  }
}

}  // namespace
}  // namespace icotes::terminal
