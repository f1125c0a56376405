#include "icotes/ignore.hpp"

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
    if (it->glob.matches(it->anchored ? rel : name))
      return it->negated ? IgnoreMatch::Whitelist : IgnoreMatch::Ignore;
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

}  // namespace icotes
