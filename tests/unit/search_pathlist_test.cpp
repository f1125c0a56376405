// search::PathList (the packed result list of grep counts/files and glob)
// and RawJsonWriter (the text of their pages): same order and text as
// sorting std::strings with files::compare_paths and writing them with
// write_json.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "icotes/files.hpp"
#include "icotes/json.hpp"
#include "icotes/search.hpp"

namespace icotes {
namespace {

std::vector<std::string> sample_paths() {
  // Names that are prefixes of each other, that sort around '/' ('-' and '.'
  // are below it, '0' above), files at the top, deep directories.
  std::vector<std::string> out = {"a",
                                  "a-b",
                                  "a.c/d",
                                  "a/b",
                                  "a/b-c",
                                  "a/b/c",
                                  "a/b/c-d",
                                  "a/b/c/d",
                                  "a/b0",
                                  "a/ba",
                                  "ab/c",
                                  "b",
                                  "z/y/x/w",
                                  "z/y/x-",
                                  "z/y.x/w",
                                  "z/y/x/w/v",
                                  "Makefile",
                                  "arch/x86/Kconfig",
                                  "arch/Kconfig",
                                  "arch/x86/boot/a.S",
                                  "arch/x86-64/q",
                                  "arch.c",
                                  "\xc3\xa9t\xc3\xa9/\"q\""};
  std::mt19937 rng(7);
  const char* parts[] = {"a", "b", "a-", "a.", "ab", "a0", "_", "B"};
  for (int i = 0; i < 400; ++i) {
    std::string p;
    const int depth = 1 + static_cast<int>(rng() % 4);
    for (int d = 0; d < depth; ++d) {
      if (d) p += '/';
      p += parts[rng() % 8];
    }
    out.push_back(p);
  }
  return out;
}

TEST(PathList, SortsAsComparePaths) {
  std::vector<std::string> paths = sample_paths();
  std::shuffle(paths.begin(), paths.end(), std::mt19937(3));
  search::PathList list(2);
  for (std::size_t i = 0; i < paths.size(); ++i) list.add(paths[i], i, 2 * i + 1);
  std::vector<std::size_t> order(paths.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return files::compare_paths(paths[a], paths[b]) < 0; });
  list.sort_by_path(files::compare_paths);
  ASSERT_EQ(list.size(), paths.size());
  std::string scratch;
  for (std::size_t i = 0; i < order.size(); ++i) {
    // Equal paths (the random ones repeat) may come in either order.
    EXPECT_EQ(list.path(i, scratch), paths[order[i]]) << i;
    EXPECT_EQ(files::compare_paths(paths[list.value(i, 0)], paths[order[i]]), 0) << i;
    EXPECT_EQ(list.value(i, 1), 2 * list.value(i, 0) + 1);
  }
}

TEST(PathList, SortsByValueThenPath) {
  search::PathList list(1);
  list.add("b/x", 5);
  list.add("a", 7);
  list.add("c", 5);
  list.add("a/y", 5);
  list.add("old", static_cast<std::uint64_t>(-3));  // before the epoch
  list.sort_by_value_desc(0, files::compare_paths);
  std::string scratch;
  std::vector<std::string> got;
  for (std::size_t i = 0; i < list.size(); ++i) got.emplace_back(list.path(i, scratch));
  EXPECT_EQ(got, (std::vector<std::string>{"a", "a/y", "b/x", "c", "old"}));
}

TEST(PathList, EmptyAndMoved) {
  search::PathList list;
  list.sort_by_path(files::compare_paths);
  EXPECT_EQ(list.size(), 0u);
  search::PathList other;
  for (int i = 0; i < 5000; ++i) other.add("dir" + std::to_string(i % 7) + "/file" + std::to_string(i));
  list = std::move(other);
  list.sort_by_path(files::compare_paths);
  ASSERT_EQ(list.size(), 5000u);
  std::string scratch;
  EXPECT_EQ(list.path(0, scratch), "dir0/file0");
  EXPECT_EQ(list.path(4999, scratch), "dir6/file993");  // components compare as bytes
}

TEST(RawJsonWriter, WritesWhatWriteJsonWrites) {
  RawJsonWriter w;
  w.reserve(8);  // too small: grows
  w.raw('[');
  w.string("plain");
  w.raw(',');
  w.string("quote \" backslash \\ tab \t bad \xff");
  w.raw(',');
  w.number(18446744073709551615ull);
  w.raw(',');
  w.value(json{{"b", 1}, {"a", {true, nullptr}}});
  w.raw(']');
  const json page = w.take();
  EXPECT_EQ(w.size(), 0u);
  const json expected = json::array({"plain", "quote \" backslash \\ tab \t bad \xEF\xBF\xBD", 18446744073709551615ull,
                                     json{{"b", 1}, {"a", {true, nullptr}}}});
  EXPECT_EQ(to_json_string(json{{"k", page}}), to_json_string(json{{"k", expected}}));
  // Written in pieces: the page is not copied into the rest.
  std::string out;
  std::vector<RawSplice> splices;
  const json reply = {{"k", page}, {"n", 1}};
  write_json(out, reply, splices);  // the splices point into `reply`
  ASSERT_EQ(splices.size(), 1u);
  std::string joined = out;
  joined.insert(splices[0].offset, splices[0].text);
  EXPECT_EQ(joined, to_json_string(json{{"k", expected}, {"n", 1}}));
}

}  // namespace
}  // namespace icotes
