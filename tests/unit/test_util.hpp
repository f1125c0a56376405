// Helpers shared by the unit tests: temporary directories and small file I/O.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "icotes/rpc.hpp"

namespace icotes::test {

/// A directory made with mkdtemp under /tmp, removed (without following
/// symlinks) when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/icotes-unit-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = std::filesystem::canonical(p).string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + path);
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline bool exists_nofollow(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

/// Every entry (relative path) beneath `dir`, sorted, without following symlinks.
inline std::vector<std::string> tree(const std::string& dir) {
  std::vector<std::string> out;
  for (auto it = std::filesystem::recursive_directory_iterator(dir);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    out.push_back(std::filesystem::relative(it->path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// A Transport that keeps every frame written.
class CaptureTransport final : public Transport {
 public:
  bool write(std::string_view bytes) override {
    std::lock_guard lock(mutex_);
    frames_.emplace_back(bytes);
    return !broken_;
  }
  void close() override {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  std::vector<std::string> frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    frames_.clear();
  }
  void set_broken(bool b) {
    std::lock_guard lock(mutex_);
    broken_ = b;
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> frames_;
  bool broken_ = false;
  bool closed_ = false;
};

}  // namespace icotes::test
