// icotes/ring_buffer.hpp: the one output ring (terminal raw output, exec
// job streams), against a std::string holding the whole stream.
#include "icotes/ring_buffer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

namespace icotes {
namespace {

TEST(ByteRing, KeepsTheLastCapacityBytesByOffset) {
  ByteRing r(8);
  EXPECT_EQ(r.start(), 0u);
  EXPECT_EQ(r.end(), 0u);
  r.append("abc");
  EXPECT_EQ(r.copy(0, 3), "abc");
  r.append("defghij");  // 10 bytes: "ab" gone
  EXPECT_EQ(r.start(), 2u);
  EXPECT_EQ(r.end(), 10u);
  EXPECT_EQ(r.copy(2, 10), "cdefghij");
  EXPECT_EQ(r.copy(5, 7), "fg");
  r.append("0123456789ABCDEF");  // longer than the ring at once
  EXPECT_EQ(r.start(), 18u);
  EXPECT_EQ(r.copy(18, 26), "89ABCDEF");
  ByteRing one(0);  // taken as 1
  one.append("xyz");
  EXPECT_EQ(one.copy(one.start(), one.end()), "z");
}

TEST(ByteRing, MatchesTheWholeStreamForRandomWrites) {
  std::mt19937 rng(7);
  for (std::size_t cap : {1u, 5u, 64u, 1000u}) {
    ByteRing r(cap);
    std::string all;
    for (int i = 0; i < 500; ++i) {
      std::string piece(rng() % (2 * cap + 3), '\0');
      for (auto& c : piece) c = static_cast<char>('a' + rng() % 26);
      r.append(piece);
      all += piece;
      ASSERT_EQ(r.end(), all.size());
      ASSERT_EQ(r.start(), all.size() - std::min(all.size(), cap));
      const std::uint64_t from = r.start() + (r.end() > r.start() ? rng() % (r.end() - r.start()) : 0);
      ASSERT_EQ(r.copy(from, r.end()), all.substr(from)) << cap << " " << i;
    }
  }
}

}  // namespace
}  // namespace icotes
