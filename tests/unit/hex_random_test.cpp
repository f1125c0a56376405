// icotes/hex.hpp and icotes/random_token.hpp: the one hex encoder and the
// one random-token source (TCP and HTTP doors, temporary file names).
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <set>
#include <string>

#include "icotes/hex.hpp"
#include "icotes/random_token.hpp"

namespace icotes {
namespace {

TEST(Hex, EncodesRfc4648Base16InLowerCase) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode("foobar"), "666f6f626172");  // RFC 4648 section 10, lower case
  const std::uint8_t bytes[] = {0x00, 0x0f, 0xf0, 0xff, 0x7a};
  EXPECT_EQ(hex_encode(bytes, sizeof bytes), "000ff0ff7a");
  EXPECT_EQ(hex_encode(bytes, 2), "000f");
}

TEST(RandomToken, HexOfTheAskedLengthAndNeverTheSame) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string t = random_hex(32);
    ASSERT_EQ(t.size(), 64u);
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos) << t;
    EXPECT_TRUE(seen.insert(t).second) << t;
  }
  EXPECT_EQ(random_hex(0), "");
}

// getrandom(2) refused (as a seccomp filter or an old kernel does): an
// error, never a spin and never a weaker secret. The HTTP door's own copy
// looped forever on it.
TEST(RandomToken, FailingGetrandomIsAnErrorNotASpin) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(10);  // a spinning child dies of SIGALRM
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getrandom, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
      ::_exit(3);
    try {
      (void)random_hex(16);
    } catch (const std::system_error& e) {
      ::_exit(e.code().value() == ENOSYS ? 0 : 2);
    }
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << " (14: it spun until the alarm)";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace icotes
