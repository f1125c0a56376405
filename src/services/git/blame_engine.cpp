#include "blame_engine.hpp"

#include <algorithm>
#include <ctime>
#include <limits>
#include <queue>
#include <unordered_map>

#include "blame_diff.hpp"
#include "diff_engine.hpp"

namespace icotes::git::detail {
namespace {

// A run of lines still looking for its commit: final lines [lno, lno + num)
// are lines [s_lno, s_lno + num) of the suspect's version (0-based).
struct Entry {
  std::size_t lno;
  std::size_t s_lno;
  std::size_t num;
};

struct Node;

// A (commit, path) pair and the lines suspected to come from it.
struct Origin {
  BlameOrigin* pub = nullptr;
  Node* node = nullptr;
  git_oid blob{};  // zero for the working tree
  std::uint32_t mode = 0100644;
  BlobPtr loaded;                     // the blob, while needed
  const std::string* text = nullptr;  // the working tree's content instead
  std::vector<Entry> suspects;        // sorted by s_lno
};

struct Node {
  git_oid id{};
  CommitPtr commit;  // null for the working tree
  git_time_t date = 0;
  std::vector<Origin*> origins;
  bool has_suspects() const {
    return std::any_of(origins.begin(), origins.end(), [](const Origin* o) { return !o->suspects.empty(); });
  }
};

bool same_kind(std::uint32_t a, std::uint32_t b) { return (a & 0170000) == (b & 0170000); }

std::string_view content(const git_blob* b) {
  return {static_cast<const char*>(git_blob_rawcontent(b)), static_cast<std::size_t>(git_blob_rawsize(b))};
}

// Changed and unchanged stretches of a target against its parent.
struct Region {
  std::size_t begin, end;  // target lines [begin, end)
  bool same;
  std::ptrdiff_t offset;  // parent line = target line + offset (same regions)
};

class Blamer {
 public:
  Blamer(const Repo& r, BlameResult& out, BlameDiff differ) : r_(r), out_(out), differ_(std::move(differ)) {}

  // The driver of git's blame.c assign_blame(): the final node (the
  // working tree or the commit), then commits in date order until every line
  // has its origin; kept in blame.c's shape so the two can be compared.
  // NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
  Status run(git_commit* commit, bool worktree, const std::string& path, const std::string& content, std::size_t first,
             std::size_t last) {
    Node* final_node = nullptr;
    if (worktree) {
      fake_.date = std::numeric_limits<git_time_t>::max();
      final_node = &fake_;
      head_ = commit;
    } else {
      git_commit* dup = nullptr;
      git_commit_dup(&dup, commit);
      final_node = node(CommitPtr(dup));
    }
    Origin* o = origin(final_node, path, git_oid{}, 0100644);
    if (!worktree) {
      // The final blob's id, for the whole-file shortcut.
      auto entry = lookup(final_node->commit.get(), path);
      if (!entry) return std::move(entry).error();
      if (entry->found) {
        o->blob = entry->id;
        o->mode = entry->mode;
      }
    }
    if (worktree) o->text = &content;
    o->suspects.push_back({first - 1, first - 1, last - first + 1});
    push(final_node);

    while (!queue_.empty()) {
      Node* n = queue_.top().node;
      queue_.pop();
      while (true) {
        auto it = std::find_if(n->origins.begin(), n->origins.end(), [](Origin* x) { return !x->suspects.empty(); });
        if (it == n->origins.end()) break;
        Origin* suspect = *it;
        if (auto st = r_.check_cancel("git_blame"); !st) return st;
        ++examined_;
        r_.report(git_text::count(examined_, "commit") + " examined", static_cast<double>(examined_));
        if (auto st = pass_blame(suspect); !st) return st;
        // What no parent took is this commit's.
        for (const auto& e : suspect->suspects) out_.entries.push_back({e.lno, e.s_lno, e.num, suspect->pub});
        suspect->suspects.clear();
        suspect->loaded.reset();
      }
    }
    // Sort by final line, then merge neighbours from one origin with
    // consecutive lines (blame.c coalesce()).
    auto& v = out_.entries;
    std::sort(v.begin(), v.end(), [](const BlameEntry& a, const BlameEntry& b) { return a.lno < b.lno; });
    std::vector<BlameEntry> merged;
    for (const auto& e : v) {
      if (!merged.empty()) {
        BlameEntry& p = merged.back();
        if (p.origin == e.origin && p.orig + p.count == e.orig && p.lno + p.count == e.lno) {
          p.count += e.count;
          continue;
        }
      }
      merged.push_back(e);
    }
    v = std::move(merged);
    return ok_status();
  }

 private:
  struct QueueItem {
    git_time_t date;
    std::uint64_t seq;
    Node* node;
    // Newest first; equal dates first come, first served (prio-queue.c).
    bool operator<(const QueueItem& o) const { return date != o.date ? date < o.date : seq > o.seq; }
  };

  struct TreeEntry {
    bool found = false;
    git_oid id{};
    std::uint32_t mode = 0;
  };

  Node* node(CommitPtr c) {
    const git_oid id = *git_commit_id(c.get());
    auto it = nodes_.find(id);
    if (it != nodes_.end()) return it->second;
    Node& n = node_store_.emplace_back();
    n.id = id;
    n.date = git_commit_time(c.get());
    n.commit = std::move(c);
    nodes_.emplace(id, &n);
    return &n;
  }

  Origin* origin(Node* n, const std::string& path, const git_oid& blob, std::uint32_t mode) {
    for (Origin* o : n->origins) {
      if (o->pub->path == path) return o;
    }
    BlameOrigin& pub = out_.origins.emplace_back();
    pub.commit = n->id;
    pub.path = path;
    pub.boundary = n->commit && git_commit_parentcount(n->commit.get()) == 0;
    Origin& o = origin_store_.emplace_back();
    o.pub = &pub;
    o.node = n;
    o.blob = blob;
    o.mode = mode;
    n->origins.push_back(&o);
    return &o;
  }

  void push(Node* n) { queue_.push({n->date, seq_++, n}); }

  Result<TreeEntry> lookup(git_commit* c, const std::string& path) {
    git_tree* tree = nullptr;
    if (int rc = git_commit_tree(&tree, c); rc != 0) return libgit2_error(rc, "read a tree");
    TreePtr owned(tree);
    TreeEntry out;
    git_tree_entry* e = nullptr;
    if (git_tree_entry_bypath(&e, tree, path.c_str()) == 0) {
      if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
        out.found = true;
        out.id = *git_tree_entry_id(e);
        out.mode = static_cast<std::uint32_t>(git_tree_entry_filemode(e));
      }
      git_tree_entry_free(e);
    }
    return out;
  }

  Result<git_blob*> blob(Origin* o) {
    if (!o->loaded) {
      git_blob* b = nullptr;
      if (int rc = git_blob_lookup(&b, r_.repo, &o->blob); rc != 0) return libgit2_error(rc, "read a blob");
      o->loaded.reset(b);
    }
    return o->loaded.get();
  }

  // The file the parent had where `o` is (find_origin), or the one it was
  // renamed from (find_rename); null when the parent had none, or had
  // another kind of file there.
  Result<Origin*> find_origin(Node* parent, Origin* o) {
    for (Origin* p : parent->origins) {
      if (p->pub->path == o->pub->path) return p;
    }
    auto entry = lookup(parent->commit.get(), o->pub->path);
    if (!entry) return std::move(entry).error();
    if (entry->found) {
      if (!same_kind(entry->mode, o->mode)) return static_cast<Origin*>(nullptr);
      return origin(parent, o->pub->path, entry->id, entry->mode);
    }
    // A rename into this path (git's -M default for blame's find_rename).
    git_tree* ptree = nullptr;
    if (int rc = git_commit_tree(&ptree, parent->commit.get()); rc != 0) return libgit2_error(rc, "read a tree");
    TreePtr parent_tree(ptree);
    git_diff* raw = nullptr;
    int rc = 0;
    if (o->node->commit) {
      git_tree* ctree = nullptr;
      if ((rc = git_commit_tree(&ctree, o->node->commit.get())) != 0) return libgit2_error(rc, "read a tree");
      TreePtr child_tree(ctree);
      rc = git_diff_tree_to_tree(&raw, r_.repo, ptree, ctree, nullptr);
    } else {
      rc = git_diff_tree_to_index(&raw, r_.repo, ptree, nullptr, nullptr);
    }
    if (rc != 0) return libgit2_error(rc, "diff for renames");
    DiffPtr diff(raw);
    if (auto st = find_renames(r_.repo, diff.get(), false); !st) return std::move(st).error();
    for (std::size_t i = 0, n = git_diff_num_deltas(raw); i < n; ++i) {
      const git_diff_delta* d = git_diff_get_delta(raw, i);
      if (d->status == GIT_DELTA_RENAMED && o->pub->path == d->new_file.path)
        return origin(parent, d->old_file.path, d->old_file.id, d->old_file.mode);
    }
    return static_cast<Origin*>(nullptr);
  }

  // Hands `entries` (sorted by s_lno) to `o`, queueing its commit when none
  // of its origins had lines waiting (blame.c queue_blames).
  void give(Origin* o, std::vector<Entry>&& entries) {
    if (entries.empty()) return;
    const bool queued = o->node->has_suspects();
    const auto mid = static_cast<std::ptrdiff_t>(o->suspects.size());
    o->suspects.insert(o->suspects.end(), entries.begin(), entries.end());
    std::inplace_merge(o->suspects.begin(), o->suspects.begin() + mid, o->suspects.end(),
                       [](const Entry& a, const Entry& b) { return a.s_lno < b.s_lno; });
    if (!queued) push(o->node);
  }

  Result<std::vector<Region>> regions(Origin* target, Origin* parent) {
    auto old_blob = blob(parent);
    if (!old_blob) return std::move(old_blob).error();
    std::string_view b;
    if (target->text) {
      b = *target->text;
    } else {
      auto new_blob = blob(target);
      if (!new_blob) return std::move(new_blob).error();
      b = content(*new_blob);
    }
    auto hunks = differ_.hunks(content(*old_blob), b);
    if (!hunks) return std::move(hunks).error();
    std::vector<Region> out;
    std::size_t prev = 0;
    std::ptrdiff_t offset = 0;
    for (const auto& h : *hunks) {
      if (prev < h.new_start) out.push_back({prev, h.new_start, true, offset});
      if (h.new_count) out.push_back({h.new_start, h.new_start + h.new_count, false, 0});
      offset = static_cast<std::ptrdiff_t>(h.old_start + h.old_count) -
               static_cast<std::ptrdiff_t>(h.new_start + h.new_count);
      prev = h.new_start + h.new_count;
    }
    out.push_back({prev, std::numeric_limits<std::size_t>::max(), true, offset});
    return out;
  }

  // pass_blame_to_parent(): lines the diff leaves unchanged go to the parent.
  Status pass_to_parent(Origin* target, Origin* parent) {
    auto rs = regions(target, parent);
    if (!rs) return std::move(rs).error();
    std::vector<Entry> stay, moved;
    std::size_t ri = 0;
    for (const Entry& e : target->suspects) {
      std::size_t cur = e.s_lno;
      const std::size_t end = e.s_lno + e.num;
      while (cur < end) {
        while ((*rs)[ri].end <= cur) ++ri;
        const Region& reg = (*rs)[ri];
        const std::size_t seg_end = std::min(end, reg.end);
        const std::size_t lno = e.lno + (cur - e.s_lno);
        if (reg.same)
          moved.push_back(
              {lno, static_cast<std::size_t>(static_cast<std::ptrdiff_t>(cur) + reg.offset), seg_end - cur});
        else
          stay.push_back({lno, cur, seg_end - cur});
        cur = seg_end;
      }
    }
    target->suspects = std::move(stay);
    give(parent, std::move(moved));
    return ok_status();
  }

  // pass_blame(): find the file in each parent; a parent with the same blob
  // takes everything, otherwise each parent in turn takes what it explains.
  // Kept in the shape of blame.c's pass_blame(), which it follows step by step.
  // NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
  Status pass_blame(Origin* o) {
    std::vector<Node*> parents;
    if (!o->node->commit) {
      if (head_) {
        git_commit* dup = nullptr;
        git_commit_dup(&dup, head_);
        parents.push_back(node(CommitPtr(dup)));
      }
    } else {
      for (unsigned i = 0, n = git_commit_parentcount(o->node->commit.get()); i < n; ++i) {
        git_commit* p = nullptr;
        if (int rc = git_commit_parent(&p, o->node->commit.get(), i); rc != 0)
          return libgit2_error(rc, "read a parent");
        parents.push_back(node(CommitPtr(p)));
      }
    }
    std::vector<Origin*> sg(parents.size(), nullptr);
    for (std::size_t i = 0; i < parents.size(); ++i) {
      auto p = find_origin(parents[i], o);
      if (!p) return std::move(p).error();
      Origin* porigin = *p;
      if (!porigin) continue;
      if (!git_oid_is_zero(&o->blob) && git_oid_equal(&porigin->blob, &o->blob)) {
        if (!porigin->loaded && o->loaded) porigin->loaded = std::move(o->loaded);
        give(porigin, std::move(o->suspects));
        o->suspects.clear();
        return ok_status();
      }
      bool same = false;
      for (std::size_t j = 0; j < i; ++j) same = same || (sg[j] && git_oid_equal(&sg[j]->blob, &porigin->blob));
      if (!same) sg[i] = porigin;
    }
    for (Origin* porigin : sg) {
      if (!porigin) continue;
      if (!o->pub->previous) o->pub->previous = porigin->pub;
      if (auto st = pass_to_parent(o, porigin); !st) return st;
      if (o->suspects.empty()) break;
    }
    return ok_status();
  }

  const Repo& r_;
  std::size_t examined_ = 0;  // commits blame was passed through, for progress
  BlameResult& out_;
  BlameDiff differ_;
  git_commit* head_ = nullptr;
  Node fake_;
  std::deque<Node> node_store_;
  std::deque<Origin> origin_store_;
  std::unordered_map<git_oid, Node*, OidHash, OidEq> nodes_;
  std::priority_queue<QueueItem> queue_;
  std::uint64_t seq_ = 0;
};

}  // namespace

Result<BlameResult> blame_lines(const Repo& r, git_commit* commit, bool worktree, const std::string& path,
                                const std::string& content, std::size_t first, std::size_t last) {
  BlameResult out;
  auto differ = BlameDiff::create(config_diff_flags(r.repo));
  if (!differ) return std::move(differ).error();
  Blamer b(r, out, std::move(*differ));
  if (auto st = b.run(commit, worktree, path, content, first, last); !st) return std::move(st).error();
  return out;
}

}  // namespace icotes::git::detail
