// write_fully / send_fully (include/support/icotes/fd_io.hpp): every byte arrives
// through short writes, failures come back as the errno, never as a signal
// (send) or a silent partial write.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

#include "icotes/fd_io.hpp"

namespace icotes {
namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

void on_alarm(int) {}

// A blocking pipe write returns early only when a signal interrupts it: a
// timer firing every 100 µs (handler without SA_RESTART) against a slow
// reader gives both partial writes and EINTR; every byte must still arrive.
TEST(FdIo, WriteFullyDeliversEveryByteThroughInterruptedWrites) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_GE(::fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
  const std::string data = pattern(1 << 20);
  std::string got;
  std::thread reader([&] {
    // The timer's signal goes to any thread that does not block it: this one does.
    sigset_t alarm_set;
    sigemptyset(&alarm_set);
    sigaddset(&alarm_set, SIGALRM);
    ::pthread_sigmask(SIG_BLOCK, &alarm_set, nullptr);
    char buf[1000];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) {
      got.append(buf, static_cast<std::size_t>(n));
      if (got.size() % 64 == 0) ::usleep(10);
    }
  });
  struct sigaction sa {
  }, old{};
  sa.sa_handler = on_alarm;  // no SA_RESTART: write(2) returns early
  ASSERT_EQ(::sigaction(SIGALRM, &sa, &old), 0);
  itimerval every{{0, 100}, {0, 100}};
  ASSERT_EQ(::setitimer(ITIMER_REAL, &every, nullptr), 0);
  const int rc = write_fully(p[1], data);
  itimerval off{};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  ::sigaction(SIGALRM, &old, nullptr);
  EXPECT_EQ(rc, 0);
  ::close(p[1]);
  reader.join();
  ::close(p[0]);
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

TEST(FdIo, WriteFullyReportsTheErrno) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK), 0);
  ::close(p[0]);
  // SIGPIPE blocked for this thread; the one raised is consumed below.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &set, &old), 0);
  EXPECT_EQ(write_fully(p[1], "x"), EPIPE);
  const timespec zero{0, 0};
  ::sigtimedwait(&set, nullptr, &zero);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(p[1]);
  EXPECT_EQ(write_fully(p[1], "x"), EBADF);  // closed
  EXPECT_EQ(write_fully(-1, ""), 0);         // nothing to write: no call made
}

TEST(FdIo, WriteFullyOnAFullNonBlockingPipeSaysEagain) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK), 0);
  EXPECT_EQ(write_fully(p[1], pattern(4 << 20)), EAGAIN);  // more than the pipe holds, nobody reading
  ::close(p[0]);
  ::close(p[1]);
}

TEST(FdIo, SendFullyToAClosedPeerIsEpipeNotSigpipe) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  ::close(s[1]);
  // Default SIGPIPE disposition would kill the test program here if send
  // raised it: MSG_NOSIGNAL must hold.
  struct sigaction dfl {
  }, old{};
  dfl.sa_handler = SIG_DFL;
  ASSERT_EQ(::sigaction(SIGPIPE, &dfl, &old), 0);
  EXPECT_EQ(send_fully(s[0], "hello"), EPIPE);
  ::sigaction(SIGPIPE, &old, nullptr);
  ::close(s[0]);
}

TEST(FdIo, SendFullyDeliversEveryByte) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  const std::string data = pattern(2 << 20);
  std::string got;
  std::thread reader([&] {
    char buf[3000];
    ssize_t n;
    while ((n = ::read(s[1], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
  });
  EXPECT_EQ(send_fully(s[0], data), 0);
  ::shutdown(s[0], SHUT_WR);
  reader.join();
  ::close(s[0]);
  ::close(s[1]);
  EXPECT_TRUE(got == data);
}

}  // namespace
}  // namespace icotes
