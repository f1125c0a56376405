// Parallel, ignore-aware directory walk (ripgrep's `ignore::WalkParallel`).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "icotes/cancellation.hpp"
#include "icotes/glob.hpp"
#include "icotes/ignore.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/search.hpp"
#include "icotes/thread_pool.hpp"
#include "icotes/walk.hpp"

namespace icotes::search {
namespace {

const std::map<std::string, std::vector<std::string>, std::less<>>& type_table() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> table = {
#include "rg_types.inc"
  };
  return table;
}

}  // namespace

// 64 KiB blocks: big enough that a block holds thousands of names, small
// enough that the last one's unused end does not matter.
constexpr std::size_t kPathBlock = 64 << 10;

char* PathList::Arena::room(std::size_t bytes) {
  if (blocks.empty() || blocks.back().size - blocks.back().used < bytes) {
    Block b;
    b.size = std::max(kPathBlock, bytes);
    b.data = std::make_unique_for_overwrite<char[]>(b.size);
    blocks.push_back(std::move(b));
  }
  Block& b = blocks.back();
  char* p = b.data.get() + b.used;
  b.used += bytes;
  return p;
}

struct PathList::DirIndex {
  std::unordered_map<std::string_view, std::uint32_t> ids;
};

struct PathList::Entry {
  std::uint32_t dir;
  std::string_view name;
};

PathList::PathList(unsigned values) : values_(values) {}
PathList::PathList(PathList&&) noexcept = default;
PathList& PathList::operator=(PathList&&) noexcept = default;
PathList::~PathList() = default;

namespace {
constexpr std::size_t kEntryHead = 2 * sizeof(std::uint32_t);
}

PathList::Entry PathList::entry(const char* e) const {
  std::uint32_t head[2];
  std::memcpy(head, e, sizeof head);
  return {head[0], std::string_view(e + kEntryHead + 8 * values_, head[1])};
}

std::uint32_t PathList::dir_id(std::string_view dir) {
  if (dirs_.empty()) dirs_.emplace_back();        // id 0: the root
  if (dirs_[last_dir_] == dir) return last_dir_;  // entries come a directory at a time
  if (!dir_index_) {
    dir_index_ = std::make_unique<DirIndex>();
    dir_index_->ids.emplace(std::string_view(), 0);
  }
  auto it = dir_index_->ids.find(dir);
  if (it == dir_index_->ids.end()) {
    char* p = dir_text_.room(dir.size());
    std::memcpy(p, dir.data(), dir.size());
    const std::string_view kept(p, dir.size());
    it = dir_index_->ids.emplace(kept, static_cast<std::uint32_t>(dirs_.size())).first;
    dirs_.push_back(kept);
  }
  last_dir_ = it->second;
  return last_dir_;
}

void PathList::add(std::string_view path, std::uint64_t v0, std::uint64_t v1) {
  const std::size_t slash = path.rfind('/');
  const std::string_view dir = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::uint32_t head[2] = {dir_id(dir), static_cast<std::uint32_t>(name.size())};
  char* p = entries_.room(kEntryHead + 8 * values_ + name.size());
  std::memcpy(p, head, sizeof head);
  const std::uint64_t v[2] = {v0, v1};
  std::memcpy(p + kEntryHead, v, 8 * values_);
  std::memcpy(p + kEntryHead + 8 * values_, name.data(), name.size());
  ++count_;
}

// Ranks the directories in path order and lists the entries.
void PathList::seal(Compare compare) {
  dir_index_.reset();
  if (dirs_.empty()) dirs_.emplace_back();
  std::vector<std::uint32_t> order(dirs_.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return compare(dirs_[a], dirs_[b]) < 0; });
  dir_rank_.assign(dirs_.size(), 0);
  for (std::uint32_t r = 0; r < order.size(); ++r) dir_rank_[order[r]] = r;
  index_.clear();
  index_.reserve(count_);  // once, at its final size
  for (const Arena::Block& b : entries_.blocks) {
    for (std::size_t at = 0; at < b.used;) {
      const char* e = b.data.get() + at;
      index_.push_back(e);
      at += kEntryHead + 8 * values_ + entry(e).name.size();
    }
  }
}

// compare(dir_a + "/" + name_a, dir_b + "/" + name_b) without building the
// paths. Components compare alone, so: the same directory orders by name; a
// directory and one beneath it order by the name against the deeper
// directory's next component (the file first when equal, as a path that
// ends first does); other directories order as the directories do.
int PathList::compare_entries(const char* a, const char* b, Compare compare) const {
  const Entry ea = entry(a), eb = entry(b);
  if (ea.dir == eb.dir) return compare(ea.name, eb.name);
  const std::string_view da = dirs_[ea.dir], db = dirs_[eb.dir];
  // The component of `deep` right below `top` when `top` is an ancestor of `deep`, else npos-like empty.
  auto below = [](std::string_view top, std::string_view deep, std::string_view& next) {
    if (!top.empty()) {
      if (deep.size() <= top.size() || deep.compare(0, top.size(), top) != 0 || deep[top.size()] != '/') return false;
      deep.remove_prefix(top.size() + 1);
    }
    next = deep.substr(0, deep.find('/'));
    return true;
  };
  std::string_view next;
  if (below(da, db, next)) {
    const int c = compare(ea.name, next);
    return c != 0 ? c : -1;
  }
  if (below(db, da, next)) {
    const int c = compare(next, eb.name);
    return c != 0 ? c : 1;
  }
  return dir_rank_[ea.dir] < dir_rank_[eb.dir] ? -1 : 1;
}

void PathList::sort_by_path(Compare compare) {
  seal(compare);
  std::sort(index_.begin(), index_.end(),
            [&](const char* a, const char* b) { return compare_entries(a, b, compare) < 0; });
}

void PathList::sort_by_value_desc(unsigned k, Compare compare) {
  seal(compare);
  std::sort(index_.begin(), index_.end(), [&](const char* a, const char* b) {
    std::uint64_t va, vb;
    std::memcpy(&va, a + kEntryHead + 8 * k, sizeof va);
    std::memcpy(&vb, b + kEntryHead + 8 * k, sizeof vb);
    if (va != vb) return static_cast<std::int64_t>(va) > static_cast<std::int64_t>(vb);
    return compare_entries(a, b, compare) < 0;
  });
}

std::string_view PathList::path(std::size_t i, std::string& scratch) const {
  const Entry e = entry(index_[i]);
  if (e.dir == 0) return e.name;
  const std::string_view dir = dirs_[e.dir];
  scratch.assign(dir);
  scratch += '/';
  scratch += e.name;
  return scratch;
}

std::uint64_t PathList::value(std::size_t i, unsigned k) const {
  std::uint64_t v;
  std::memcpy(&v, index_[i] + kEntryHead + 8 * k, sizeof v);
  return v;
}

void Unreadable::add(std::string path, int err, bool nameable) {
  std::lock_guard lock(mutex_);
  ++count_;
  if (!nameable) return;
  names_.push_back(std::move(path) + ": " + std::strerror(err));
  if (names_.size() >= 8 * WalkReport::kUnreadableNames) {
    std::sort(names_.begin(), names_.end());
    names_.resize(WalkReport::kUnreadableNames);
  }
}

void Unreadable::into(WalkReport& report) {
  std::lock_guard lock(mutex_);
  report.unreadable += count_;
  for (auto& n : names_) report.unreadable_names.push_back(std::move(n));
  std::sort(report.unreadable_names.begin(), report.unreadable_names.end());
  if (report.unreadable_names.size() > WalkReport::kUnreadableNames)
    report.unreadable_names.resize(WalkReport::kUnreadableNames);
  count_ = 0;
  names_.clear();
}

const std::vector<std::string>* type_globs(std::string_view name) {
  auto it = type_table().find(name);
  return it == type_table().end() ? nullptr : &it->second;
}

Result<Filter> Filter::make(const WalkOptions& o) {
  Filter f;
  f.hidden = o.hidden;
  f.no_ignore = o.no_ignore;
  f.follow = o.follow_symlinks;
  f.read_denied = o.read_denied;
  std::string overrides;
  // A glob ripgrep would refuse is an error, not a filter that matches nothing.
  for (const auto* list : {&o.include, &o.exclude}) {
    for (const auto& g : *list) {
      const std::string_view body = list == &o.include && !g.empty() && g[0] == '!' ? std::string_view(g).substr(1) : g;
      if (auto why = glob_syntax_error(body))
        return make_error(error_code::kInvalidParams,
                          "invalid glob '" + g + "' in " + (list == &o.include ? "include" : "exclude") + ": " + *why);
    }
  }
  for (const auto& g : o.include) {
    overrides += g + "\n";
    if (g.empty() || g[0] != '!') ++f.override_whitelists;
  }
  for (const auto& g : o.exclude) overrides += "!" + g + "\n";
  f.overrides = IgnoreFile("", overrides);
  for (const auto& t : o.types) {
    const auto* globs = search::type_globs(t);
    if (!globs)
      return make_error(error_code::kInvalidParams,
                        "unknown file type '" + t + "' (ripgrep's type names, e.g. c, cpp, py, js, rust)");
    for (const auto& g : *globs) f.type_globs.emplace_back(g);
  }
  if (!o.no_ignore) f.global = global_git_excludes();
  return f;
}

// ripgrep's Ignore::matched: overrides, then ignore files, then types, then hidden.
bool Filter::skip(const IgnoreDir& dir, std::string_view rel, std::string_view name, bool is_dir) const {
  if (!overrides.empty()) {
    // Override globs invert gitignore meaning: a glob includes, "!glob" excludes.
    const IgnoreMatch m = overrides.match(rel, is_dir);
    if (m == IgnoreMatch::Ignore) return false;    // a plain glob matched: included
    if (m == IgnoreMatch::Whitelist) return true;  // a "!glob" matched: excluded
    if (override_whitelists > 0 && !is_dir) return true;
  }
  bool whitelisted = false;
  if (!no_ignore) {
    const IgnoreMatch m = dir.match(rel, is_dir, global.empty() ? nullptr : &global);
    if (m == IgnoreMatch::Ignore) return true;
    whitelisted = m == IgnoreMatch::Whitelist;
  }
  if (!type_globs.empty() && !is_dir) {
    bool any = false;
    for (const auto& g : type_globs) {
      if (g.matches(name)) {
        any = true;
        break;
      }
    }
    if (!any) return true;
    whitelisted = true;
  }
  if (!whitelisted && !hidden && !name.empty() && name[0] == '.') return true;
  return false;
}

namespace {

std::string join(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

struct Job {
  Fd dir;
  std::string rel;
  // Where the directory really is, when a followed link led here (else rel).
  bool moved = false;
  std::string real;
  std::shared_ptr<const IgnoreDir> ignore;
  std::vector<std::pair<dev_t, ino_t>> ancestors;  // for symlink loops with follow

  const std::string& real_path() const { return moved ? real : rel; }
};

// What a followed link leads to, opened beneath the root.
struct Target {
  bool is_dir = false;
  Fd dir;            // a directory: open for reading
  Fd parent;         // a file: its directory, and
  std::string name;  // its name there
  std::string real;  // where it really is, workspace-relative
  dev_t dev = 0;
  ino_t ino = 0;
};

// Where a file that the walk must not follow by name lives: the directory
// of `real` opened beneath the root, and its last component, checked to be
// the file `st` describes (a file swapped meanwhile is not it).
bool open_real_file(const ConfinedRoot& root, const struct stat& st, Target& t) {
  const std::size_t slash = t.real.rfind('/');
  const std::string parent = slash == std::string::npos ? std::string() : t.real.substr(0, slash);
  t.name = slash == std::string::npos ? t.real : t.real.substr(slash + 1);
  auto dir = root.open_beneath(parent, O_RDONLY | O_DIRECTORY);
  if (!dir) return false;
  struct stat now {};
  if (::fstatat(dir->get(), t.name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0 || now.st_dev != st.st_dev ||
      now.st_ino != st.st_ino)
    return false;
  t.parent = std::move(*dir);
  return true;
}

class Walker {
 public:
  Walker(const ConfinedRoot& root, const Filter& filter, const FileCallback& on_file, const CancellationToken* cancel,
         const DirCallback* on_dir)
      : root_(root), filter_(filter), on_file_(on_file), cancel_(cancel), on_dir_(on_dir) {}

  void run(Job first, std::size_t threads) {
    push(std::move(first));
    run_on_threads(threads, [this](std::size_t) { work(); });
  }

  void report(WalkReport& out) {
    std::lock_guard lock(mutex_);
    out.read_denied += denied_.load();
    out.links_outside += links_outside_;
    std::sort(link_names_.begin(), link_names_.end());
    for (auto& n : link_names_) {
      if (out.link_names.size() >= WalkReport::kLinkNames) break;
      out.link_names.push_back(std::move(n));
    }
    unreadable_.into(out);
  }

 private:
  void push(Job j) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(j));
      ++pending_;
    }
    cv_.notify_one();
  }

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return !jobs_.empty() || pending_ == 0; });
        if (jobs_.empty()) return;
        job = std::move(jobs_.back());  // depth first keeps memory small
        jobs_.pop_back();
      }
      if (!(cancel_ && cancel_->cancelled())) visit(job);
      {
        std::lock_guard lock(mutex_);
        if (--pending_ == 0) cv_.notify_all();
      }
    }
  }

  // A link that leads outside the workspace, found at `rel`, really at
  // `real`: counted, and named unless where it is is Read-denied.
  void note_outside(const std::string& rel, const std::string& real) {
    const bool nameable = !(filter_.read_denied && filter_.read_denied(real));
    std::lock_guard lock(mutex_);
    ++links_outside_;
    if (nameable && link_names_.size() < 1000) link_names_.push_back(rel);
  }

  // Follows the link `name` of `job` (in `dfd`, found at `rel`): resolved
  // from the root beneath it (openat2 RESOLVE_BENEATH: `..` above the root,
  // absolute targets and links at any depth that lead out fail), then
  // judged by descriptor: what it is, and where it really is. A link whose
  // own target is an absolute path into the workspace is resolved from
  // there. Nothing when it leads outside (noted), dangles, or is neither a
  // directory nor a regular file.
  std::optional<Target> follow(const Job& job, int dfd, const std::string& name, const std::string& rel) {
    const std::string at = join(job.real_path(), name);  // where the link is
    std::string path = at;
    char link[PATH_MAX];
    const ssize_t n = ::readlinkat(dfd, name.c_str(), link, sizeof link);
    if (n > 0 && n < static_cast<ssize_t>(sizeof link) && link[0] == '/') {
      auto inside = root_.relative(std::string_view(link, static_cast<std::size_t>(n)));
      if (!inside) {
        note_outside(rel, at);
        return std::nullopt;
      }
      path = std::move(*inside);
    }
    auto opened = root_.open_beneath(path, O_PATH);
    if (!opened) {
      if (opened.error().code == error_code::kOutsideWorkspace) note_outside(rel, at);
      return std::nullopt;
    }
    struct stat st {};
    if (::fstat(opened->get(), &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) return std::nullopt;
    auto real = landing_path(root_, opened->get());
    if (!real) {
      if (real.error().code == error_code::kOutsideWorkspace) note_outside(rel, at);
      return std::nullopt;
    }
    Target t;
    t.real = std::move(*real);
    t.dev = st.st_dev;
    t.ino = st.st_ino;
    if (S_ISDIR(st.st_mode)) {
      t.is_dir = true;
      t.dir = Fd(::openat(opened->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!t.dir.valid()) return std::nullopt;
      return t;
    }
    if (!open_real_file(root_, st, t)) return std::nullopt;
    return t;
  }

  // A directory the walk found but could not open or list, as ripgrep
  // reports it; named unless where it really is is Read-denied.
  void unreadable_dir(const std::string& rel, const std::string& real, int err) {
    const bool nameable = !(filter_.read_denied && filter_.read_denied(real));
    unreadable_.add(rel.empty() ? std::string("./") : rel + "/", err, nameable);
  }

  // The per-directory step of the parallel walk (readdir, ignore rules, links, Read deny), the hot loop measured
  // against ripgrep in bench/.
  // NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
  void visit(Job& job) {
    const int dup = ::fcntl(job.dir.get(), F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
      const int err = errno;
      return unreadable_dir(job.rel, job.real_path(), err);
    }
    DIR* d = ::fdopendir(dup);
    if (!d) {
      const int err = errno;
      ::close(dup);
      return unreadable_dir(job.rel, job.real_path(), err);
    }
    struct Entry {
      std::string name;
      unsigned char type;
    };
    std::vector<Entry> entries;
    IgnoreDir::Files files;
    bool has_rg = false, has_ig = false, has_gi = false;
    while (struct dirent* e = ::readdir(d)) {
      const std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      if (n == ".git") files.has_git = true;
      if (n == ".rgignore") has_rg = true;
      if (n == ".ignore") has_ig = true;
      if (n == ".gitignore") has_gi = true;
      entries.push_back({std::string(n), e->d_type});
    }
    ::closedir(d);
    const int dfd = job.dir.get();
    if (!filter_.no_ignore) files = read_ignore_files(dfd, job.rel, has_rg, has_ig, has_gi, files.has_git);
    const bool any_git = files.has_git || (job.ignore && job.ignore->any_git());
    auto here = std::make_shared<const IgnoreDir>(job.ignore, std::move(files), any_git);
    if (on_dir_) (*on_dir_)(job.rel, here);
    for (const auto& e : entries) {
      if (cancel_ && cancel_->cancelled()) return;
      const std::string rel = job.rel.empty() ? e.name : job.rel + "/" + e.name;
      unsigned char type = e.type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
      }
      std::optional<Target> target;
      if (type == DT_LNK) {
        if (!filter_.follow) continue;
        target = follow(job, dfd, e.name, rel);
        if (!target) continue;
        type = target->is_dir ? DT_DIR : DT_REG;
        if (target->is_dir) {
          const auto key = std::make_pair(target->dev, target->ino);
          if (std::find(job.ancestors.begin(), job.ancestors.end(), key) != job.ancestors.end()) continue;  // loop
        }
      }
      if (type != DT_DIR && type != DT_REG) continue;
      const bool is_dir = type == DT_DIR;
      if (filter_.skip(*here, rel, e.name, is_dir)) continue;
      if (is_dir) {
        // Not a link when readdir looked: opened without following, so one
        // swapped in since is not entered.
        Fd sub = target ? std::move(target->dir)
                        : Fd(::openat(dfd, e.name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
        if (!sub.valid()) {
          const int err = errno;
          unreadable_dir(rel, job.moved ? join(job.real, e.name) : rel, err);
          continue;
        }
        Job next{std::move(sub), rel, job.moved, std::string(), here, job.ancestors};
        if (target) {
          next.moved = true;
          next.real = std::move(target->real);
        } else if (job.moved) {
          next.real = join(job.real, e.name);
        }
        struct stat st {};
        if (filter_.follow && ::fstat(next.dir.get(), &st) == 0) next.ancestors.emplace_back(st.st_dev, st.st_ino);
        push(std::move(next));
      } else if (filter_.wanted && !filter_.wanted(rel)) {
        continue;
      } else if (target) {
        if (filter_.read_denied && filter_.read_denied(target->real)) {
          denied_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        on_file_(rel, target->parent.get(), target->name.c_str());
      } else {
        if (filter_.read_denied && filter_.read_denied(job.moved ? join(job.real, e.name) : rel)) {
          denied_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        on_file_(rel, dfd, e.name.c_str());
      }
    }
  }

  const ConfinedRoot& root_;
  const Filter& filter_;
  const FileCallback& on_file_;
  const CancellationToken* cancel_;
  const DirCallback* on_dir_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Job> jobs_;
  std::size_t pending_ = 0;
  std::atomic<std::uint64_t> denied_{0};
  std::uint64_t links_outside_ = 0;
  std::vector<std::string> link_names_;
  Unreadable unreadable_;
};

}  // namespace

// The walk's entry (start judged via O_PATH, single file or tree, threads); part of the path bench/ measures against
// ripgrep.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Status walk(const ConfinedRoot& root, const WalkOptions& options, const Filter& filter, const FileCallback& on_file,
            const CancellationToken* cancel, const DirCallback* on_dir, WalkReport* report) {
  auto rel = root.relative(options.path.empty() ? "." : options.path);
  if (!rel) return std::move(rel).error();
  // O_PATH: the start is judged before anything is opened for reading (a
  // FIFO or a device named as the path is never opened).
  auto fd = root.open_beneath(*rel, O_PATH);
  if (!fd) return std::move(fd).error();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return errno_error(errno, "stat", *rel);
  // Where the start really is, when it matters: the path named may pass
  // through links (beneath the root: open_beneath saw to that).
  std::string real = *rel;
  if (filter.follow || filter.read_denied || !S_ISDIR(st.st_mode)) {
    auto landed = landing_path(root, fd->get());
    if (!landed) return std::move(landed).error();
    real = std::move(*landed);
  }
  if (!S_ISDIR(st.st_mode)) {
    // An explicit file is searched whatever the ignore rules say (as rg
    // does), the file the descriptor names, where it really is.
    if (!S_ISREG(st.st_mode) || (filter.wanted && !filter.wanted(*rel))) return ok_status();
    if (filter.read_denied && filter.read_denied(real)) {
      if (report) ++report->read_denied;
      return ok_status();
    }
    Target t;
    t.real = real;
    if (!open_real_file(root, st, t)) return ok_status();
    on_file(*rel, t.parent.get(), t.name.c_str());
    return ok_status();
  }
  Fd dir(::openat(fd->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return errno_error(errno, "open", *rel);
  // Ignore files of the directories between the root and the start path apply too.
  std::shared_ptr<const IgnoreDir> chain;
  if (!filter.no_ignore) chain = ignore_ancestors(root, *rel);
  Job first{std::move(dir), *rel, real != *rel, real != *rel ? real : std::string(), chain, {}};
  if (filter.follow) first.ancestors.emplace_back(st.st_dev, st.st_ino);
  Walker w(root, filter, on_file, cancel, on_dir);
  w.run(std::move(first), hardware_threads(8));
  if (report) w.report(*report);
  if (cancel && cancel->cancelled()) return make_error(error_code::kRequestCancelled, "search cancelled");
  return ok_status();
}

Status walk_files(const ConfinedRoot& root, const WalkOptions& options,
                  const std::function<void(const std::string&)>& on_file, const CancellationToken* cancel) {
  auto filter = Filter::make(options);
  if (!filter) return std::move(filter).error();
  return walk(
      root, options, *filter, [&](const std::string& rel, int, const char*) { on_file(rel); }, cancel);
}

}  // namespace icotes::search
