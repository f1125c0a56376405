#include "icotes/ignore.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "icotes/glob.hpp"

namespace icotes {

IgnoreFile::IgnoreFile(std::string base, std::string_view text) : base_(std::move(base)) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line(text.substr(start, nl - start));
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Trailing spaces are ignored unless escaped with a backslash.
    while (!line.empty() && line.back() == ' ' && !(line.size() >= 2 && line[line.size() - 2] == '\\')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    Rule r;
    if (line[0] == '!') {
      r.negated = true;
      line.erase(0, 1);
    } else if (line.size() >= 2 && line[0] == '\\' && (line[1] == '!' || line[1] == '#')) {
      line.erase(0, 1);
    }
    if (line.size() > 1 && line.back() == '/') {
      r.dir_only = true;
      line.pop_back();
    }
    if (line.empty()) continue;
    r.anchored = line.find('/') != std::string::npos;
    if (line[0] == '/') line.erase(0, 1);
    r.glob = Glob(line);
    rules_.push_back(std::move(r));
  }
}

IgnoreMatch IgnoreFile::match(std::string_view path, bool is_dir) const {
  if (rules_.empty()) return IgnoreMatch::None;
  std::string_view rel = path;
  if (!base_.empty()) {
    if (rel.size() <= base_.size() || rel.compare(0, base_.size(), base_) != 0 || rel[base_.size()] != '/')
      return IgnoreMatch::None;
    rel.remove_prefix(base_.size() + 1);
  }
  const std::size_t slash = rel.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? rel : rel.substr(slash + 1);
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
    if (it->dir_only && !is_dir) continue;
    if (it->glob.matches(it->anchored ? rel : name)) return it->negated ? IgnoreMatch::Whitelist : IgnoreMatch::Ignore;
  }
  return IgnoreMatch::None;
}

IgnoreDir::IgnoreDir(std::shared_ptr<const IgnoreDir> parent, Files files, bool any_git)
    : parent_(std::move(parent)), files_(std::move(files)), any_git_(any_git) {}

IgnoreMatch IgnoreDir::match(std::string_view path, bool is_dir, const IgnoreFile* global) const {
  IgnoreMatch custom = IgnoreMatch::None, ignore = IgnoreMatch::None, gi = IgnoreMatch::None, ex = IgnoreMatch::None;
  bool saw_git = false;
  for (const IgnoreDir* d = this; d; d = d->parent_.get()) {
    if (custom == IgnoreMatch::None) custom = d->files_.rgignore.match(path, is_dir);
    if (ignore == IgnoreMatch::None) ignore = d->files_.ignore.match(path, is_dir);
    if (any_git_ && !saw_git) {
      if (gi == IgnoreMatch::None) gi = d->files_.gitignore.match(path, is_dir);
      if (ex == IgnoreMatch::None) ex = d->files_.exclude.match(path, is_dir);
    }
    saw_git = saw_git || d->files_.has_git;
  }
  for (IgnoreMatch m : {custom, ignore, gi, ex}) {
    if (m != IgnoreMatch::None) return m;
  }
  if (any_git_ && global) return global->match(path, is_dir);
  return IgnoreMatch::None;
}

std::string read_ignore_file(int dirfd, const char* name) {
  Fd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return {};
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (4u << 20)) break;  // an ignore file of megabytes is not one
  }
  return out;
}

IgnoreDir::Files read_ignore_files(int dirfd, const std::string& rel, bool has_rgignore, bool has_ignore,
                                   bool has_gitignore, bool has_git) {
  IgnoreDir::Files files;
  files.has_git = has_git;
  if (has_rgignore) files.rgignore = IgnoreFile(rel, read_ignore_file(dirfd, ".rgignore"));
  if (has_ignore) files.ignore = IgnoreFile(rel, read_ignore_file(dirfd, ".ignore"));
  if (has_gitignore) files.gitignore = IgnoreFile(rel, read_ignore_file(dirfd, ".gitignore"));
  if (has_git) files.exclude = IgnoreFile(rel, read_ignore_file(dirfd, ".git/info/exclude"));
  return files;
}

namespace {

std::string home_config_path(const char* rest) {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) return std::string(xdg) + "/" + rest;
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.config/" + rest;
  return {};
}

std::string read_path(const std::string& path) {
  if (path.empty()) return {};
  return read_ignore_file(AT_FDCWD, path.c_str());
}

}  // namespace

IgnoreFile global_git_excludes() {
  std::string file;
  for (const std::string& cfg :
       {home_config_path("git/config"), std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.gitconfig"}) {
    const std::string text = read_path(cfg);
    bool in_core = false;
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      std::string line = text.substr(start, nl - start);
      start = nl + 1;
      line.erase(0, line.find_first_not_of(" \t"));
      if (!line.empty() && line[0] == '[') {
        std::string sect = line.substr(1, line.find(']') - 1);
        std::transform(sect.begin(), sect.end(), sect.begin(), ::tolower);
        in_core = sect == "core";
        continue;
      }
      if (!in_core) continue;
      std::string key = line.substr(0, line.find('='));
      key.erase(key.find_last_not_of(" \t") + 1);
      std::transform(key.begin(), key.end(), key.begin(), ::tolower);
      if (key != "excludesfile" || line.find('=') == std::string::npos) continue;
      std::string value = line.substr(line.find('=') + 1);
      value.erase(0, value.find_first_not_of(" \t\""));
      value.erase(value.find_last_not_of(" \t\"\r") + 1);
      if (value.rfind("~/", 0) == 0 && std::getenv("HOME")) value = std::string(std::getenv("HOME")) + value.substr(1);
      file = value;
    }
  }
  if (file.empty()) file = home_config_path("git/ignore");
  return IgnoreFile("", read_path(file));
}

std::shared_ptr<const IgnoreDir> ignore_ancestors(const ConfinedRoot& root, const std::string& rel) {
  std::shared_ptr<const IgnoreDir> chain;
  if (rel.empty()) return chain;
  std::string prefix;
  std::size_t pos = 0;
  for (;;) {
    auto d = root.open_beneath(prefix, O_RDONLY | O_DIRECTORY);
    if (!d) break;
    struct stat gst {};
    const bool has_git = ::fstatat(d->get(), ".git", &gst, AT_SYMLINK_NOFOLLOW) == 0;
    IgnoreDir::Files files = read_ignore_files(d->get(), prefix, true, true, true, has_git);
    const bool any_git = has_git || (chain && chain->any_git());
    chain = std::make_shared<const IgnoreDir>(chain, std::move(files), any_git);
    const std::size_t slash = rel.find('/', pos);
    if (slash == std::string::npos) break;
    prefix = rel.substr(0, slash);
    pos = slash + 1;
  }
  return chain;
}

}  // namespace icotes
