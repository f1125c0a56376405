// The attached client's ledger (include/doors/icotes/ledger.hpp): what the
// launcher finds in it once the daemon is gone.
#include "icotes/ledger.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "icotes/client_hello.hpp"
#include "icotes/tcp.hpp"

namespace icotes {
namespace {

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  std::string read_all() {
    std::string out;
    char buf[65536];
    const int fl = ::fcntl(r, F_GETFL);
    ::fcntl(r, F_SETFL, fl | O_NONBLOCK);
    for (ssize_t n; (n = ::read(r, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::fcntl(r, F_SETFL, fl);
    return out;
  }
};

// The ledger as the daemon maps it; `fd` stays open for reading after.
std::shared_ptr<SharedLedger> map_ledger(int fd, std::span<const std::string> ids = {}) {
  auto created = create_ledger(ids);
  EXPECT_TRUE(created);
  EXPECT_EQ(::dup2(*created, fd), fd);
  ::close(*created);
  auto l = SharedLedger::map(::dup(fd));
  EXPECT_TRUE(l) << (l ? "" : l.error().message);
  return *l;
}

std::vector<std::string> waiting_ids(int fd) {
  auto c = read_ledger(fd);
  EXPECT_TRUE(c);
  std::vector<std::string> out;
  for (const auto& id : c->waiting) out.push_back(id.dump());
  std::sort(out.begin(), out.end());
  return out;
}

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override { fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC); }
  void TearDown() override { ::close(fd_); }
  int fd_ = -1;  // the launcher's descriptor of the ledger
};

TEST_F(LedgerTest, AnAnswerWrittenWholeLeavesTheLedger) {
  auto ledger = map_ledger(fd_);
  Pipe pipe;
  SocketTransport t(pipe.w, OutboundLimits{}, "test");
  t.set_ledger(ledger);
  ledger->opened("1", Framing::NewlineDelimited);
  ledger->opened("\"a\"", Framing::NewlineDelimited);
  ledger->opened("3", Framing::NewlineDelimited);
  const std::string answer = R"({"jsonrpc":"2.0","id":1,"result":{}})"
                             "\n";
  const std::string_view piece = answer;
  const std::string id1 = "1";
  ASSERT_TRUE(t.write_answer(std::span<const std::string_view>(&piece, 1), std::span<const std::string>(&id1, 1)));
  ASSERT_TRUE(t.write("{\"jsonrpc\":\"2.0\",\"method\":\"note\"}\n"));  // a notification answers nothing
  ledger->dropped("3");                                                 // cancelled: no answer will come
  EXPECT_EQ(waiting_ids(fd_), std::vector<std::string>{"\"a\""});
  auto c = read_ledger(fd_);
  EXPECT_EQ(c->framing, Framing::NewlineDelimited);
  EXPECT_TRUE(c->filler.empty());
  EXPECT_EQ(ledger->waiting(), 1u);
}

TEST_F(LedgerTest, AnAnswerCutShortIsCompletedAndItsRequestStillWaits) {
  auto ledger = map_ledger(fd_);
  Pipe pipe;
  ASSERT_GT(::fcntl(pipe.w, F_SETPIPE_SZ, 4096), 0);
  ::fcntl(pipe.w, F_SETFL, ::fcntl(pipe.w, F_GETFL) | O_NONBLOCK);
  std::string out;
  {
    SocketTransport t(pipe.w, OutboundLimits{}, "test");
    t.set_ledger(ledger);
    ledger->opened("7", Framing::ContentLength);
    const std::string body = R"({"jsonrpc":"2.0","id":7,"result":")" + std::string(20000, 'x') + "\"}";
    const std::string header = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    const std::string_view pieces[2] = {header, body};
    const std::string id = "7";
    ASSERT_TRUE(t.write_answer(pieces, std::span<const std::string>(&id, 1)));
    EXPECT_GT(t.queued_bytes(), 0u) << "the pipe took it all";
    // The daemon dies here: nothing more is written.
    ledger->freeze();
    t.close();
    out = pipe.read_all();
    auto c = read_ledger(fd_);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->framing, Framing::ContentLength);
    ASSERT_EQ(c->waiting.size(), 1u);
    EXPECT_EQ(c->waiting[0], 7);
    // What the client got plus the filler is one whole frame.
    EXPECT_EQ(c->filler.text, "");
    EXPECT_EQ(out.size() + c->filler.spaces, header.size() + body.size());
    FrameReader reader;
    int frames = 0;
    reader.feed(
        out + std::string(c->filler.spaces, ' '), [&](std::string&&) { ++frames; },
        [](const FrameError&) { ADD_FAILURE(); });
    EXPECT_EQ(frames, 1);
  }
}

TEST_F(LedgerTest, AHeaderCutShortIsCompleted) {
  auto ledger = map_ledger(fd_);
  ledger->opened("1", Framing::ContentLength);
  const std::string id = "1";
  ledger->frame(22 + 40, 22, std::span<const std::string>(&id, 1));  // "Content-Length: 40\r\n\r\n" + 40
  ledger->sent(10);
  auto c = read_ledger(fd_);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->filler, (FrameFiller{std::string("Content-Length: 40\r\n\r\n").substr(10), 40}));
  ASSERT_EQ(c->waiting.size(), 1u);
  // Once the frame is out, the answer counts as delivered.
  ledger->sent(62);
  EXPECT_TRUE(read_ledger(fd_)->waiting.empty());
  EXPECT_TRUE(read_ledger(fd_)->filler.empty());
}

TEST_F(LedgerTest, ALineCutShortEndsWithANewline) {
  auto ledger = map_ledger(fd_);
  ledger->opened("1", Framing::NewlineDelimited);
  ledger->frame(30, 0, {});
  ledger->sent(5);
  EXPECT_EQ(read_ledger(fd_)->filler, (FrameFiller{"\n", 0}));
}

// A frame of any declared size is completed without holding its bytes.
TEST_F(LedgerTest, AHugeFrameCutShortIsCountedNotAllocated) {
  auto ledger = map_ledger(fd_);
  ledger->opened("1", Framing::ContentLength);
  ledger->frame(std::uint64_t{1} << 40, 0, {});
  ledger->sent(5);
  EXPECT_EQ(read_ledger(fd_)->filler, (FrameFiller{"", (std::uint64_t{1} << 40) - 5}));
}

TEST_F(LedgerTest, ItGrowsPastItsFirstSlots) {
  auto ledger = map_ledger(fd_);
  for (int i = 0; i < 1000; ++i) ledger->opened(std::to_string(i), Framing::NewlineDelimited);
  for (int i = 0; i < 1000; i += 2) ledger->dropped(std::to_string(i));
  auto c = read_ledger(fd_);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->waiting.size(), 500u);
  EXPECT_EQ(ledger->waiting(), 500u);
}

TEST_F(LedgerTest, RequestsTheLauncherReadAreTakenAsReadOnce) {
  const std::vector<std::string> ids = {"1", "\"two\""};
  auto ledger = map_ledger(fd_, ids);
  EXPECT_EQ(waiting_ids(fd_), (std::vector<std::string>{"\"two\"", "1"}));
  ledger->opened("1", Framing::NewlineDelimited);  // found again, not entered twice
  EXPECT_EQ(ledger->waiting(), 2u);
  ledger->end_adoption();  // "two" was never read: it does not wait
  EXPECT_EQ(waiting_ids(fd_), std::vector<std::string>{"1"});
}

TEST_F(LedgerTest, AnIdTooLongToKeepIsAnsweredWithNull) {
  auto ledger = map_ledger(fd_);
  ledger->opened("\"" + std::string(200, 'k') + "\"", Framing::NewlineDelimited);
  auto c = read_ledger(fd_);
  ASSERT_EQ(c->waiting.size(), 1u);
  EXPECT_TRUE(c->waiting[0].is_null());
}

TEST_F(LedgerTest, ADroppedResponseStillAnswersItsRequest) {
  auto ledger = map_ledger(fd_);
  Pipe pipe;
  auto t = std::make_shared<SocketTransport>(pipe.w, OutboundLimits{}, "test");
  t->set_ledger(ledger);
  auto dropping = drop_first_response(t, json(5));
  ledger->opened("5", Framing::NewlineDelimited);
  const std::string answer = R"({"jsonrpc":"2.0","id":5,"result":{}})"
                             "\n";
  const std::string_view piece = answer;
  const std::string id = "5";
  ASSERT_TRUE(
      dropping->write_answer(std::span<const std::string_view>(&piece, 1), std::span<const std::string>(&id, 1)));
  EXPECT_EQ(pipe.read_all(), "");
  EXPECT_TRUE(waiting_ids(fd_).empty());
}

TEST_F(LedgerTest, AnythingElseIsNotALedger) {
  const int f = ::memfd_create("x", MFD_CLOEXEC);
  ASSERT_EQ(::write(f, "hello", 5), 5);
  auto l = SharedLedger::map(f);
  EXPECT_FALSE(l);
}

// The daemon maps a ledger the launcher made: one the launcher could still
// shrink would let it kill the daemon (SIGBUS on the next slot touched).
TEST_F(LedgerTest, OnlyALedgerSealedAgainstShrinkingIsMapped) {
  const std::string id = "7";
  auto ledger = map_ledger(fd_, std::span<const std::string>(&id, 1));
  EXPECT_GT(::fcntl(fd_, F_GET_SEALS) & F_SEAL_SHRINK, 0);
  EXPECT_NE(::ftruncate(fd_, 0), 0);  // the seal holds
  // The same bytes in an unsealed memfd are refused.
  const int f = ::memfd_create("x", MFD_CLOEXEC);
  struct stat st {};
  ASSERT_EQ(::fstat(fd_, &st), 0);
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  ASSERT_EQ(::pread(fd_, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  ASSERT_EQ(::write(f, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  auto l = SharedLedger::map(f);
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().message.find("sealed"), std::string::npos) << l.error().message;
}

}  // namespace
}  // namespace icotes
