// git/show: `git show <rev>` (git-show(1): the commit in the default
// "medium" format, then its patch against the first parent) and
// `git show <rev>:<path>` (a file's content, or a directory's entries).
#include <cstring>

#include "diff_engine.hpp"
#include "icotes/git_text.hpp"
#include "worktree_guard.hpp"
#include "worktree_scan.hpp"

namespace icotes::git {
namespace {

constexpr std::size_t kDefaultFiles = 500;

// `line` with tabs expanded to 8-column stops (git log's default
// --expand-tabs; columns count characters, not UTF-8 continuation bytes).
void add_tab_expanded(std::string& out, std::string_view line) {
  std::size_t col = 0;
  for (char ch : line) {
    if (ch == '\t') {
      const std::size_t n = 8 - col % 8;
      out.append(n, ' ');
      col += n;
      continue;
    }
    out += ch;
    if ((static_cast<unsigned char>(ch) & 0xc0) != 0x80) ++col;
  }
}

// Appends the message as pretty.c pp_remainder() prints it in the medium
// format: leading blank lines dropped, every line right-trimmed and indented
// by four spaces.
void add_indented_message(std::string& out, std::string_view msg) {
  bool first = true;
  std::size_t pos = 0;
  while (pos < msg.size()) {
    std::size_t nl = msg.find('\n', pos);
    std::string_view line = msg.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? msg.size() : nl + 1;
    while (!line.empty() && std::strchr(" \t\n\r\v\f", line.back())) line.remove_suffix(1);
    if (line.empty() && first) continue;
    first = false;
    out += "    ";
    add_tab_expanded(out, line);
    out += '\n';
  }
}

std::string commit_header(git_repository* repo, git_odb* odb, const git_commit* c) {
  std::string out = "commit " + oid_hex(*git_commit_id(c)) + "\n";
  const unsigned n = git_commit_parentcount(c);
  if (n > 1) {
    const int abbrev = detail::default_abbrev(repo);
    out += "Merge:";
    for (unsigned i = 0; i < n; ++i) out += " " + detail::abbrev_oid(odb, *git_commit_parent_id(c, i), abbrev);
    out += "\n";
  }
  const git_signature* a = git_commit_author(c);
  out += std::string("Author: ") + (a->name ? a->name : "") + " <" + (a->email ? a->email : "") + ">\n";
  out += "Date:   " + detail::normal_date(a->when) + "\n\n";
  const char* raw = git_commit_message_raw(c);
  add_indented_message(out, raw ? raw : "");
  // pretty_print_commit() trims the whole text and ends it with one newline
  // (so an empty message leaves no blank line after Date:).
  while (!out.empty() && std::strchr(" \t\n\r\v\f", out.back())) out.pop_back();
  return out + "\n";
}

// An annotated tag's part of `git show <tag>` (log-tree.c show_tag_object):
// "tag <name>", the tagger and date, and the message as is.
std::string tag_header(const git_tag* t) {
  std::string out = std::string("tag ") + git_tag_name(t) + "\n";
  if (const git_signature* s = git_tag_tagger(t)) {
    out += std::string("Tagger: ") + (s->name ? s->name : "") + " <" + (s->email ? s->email : "") + ">\n";
    out += "Date:   " + detail::normal_date(s->when) + "\n";
  }
  out += "\n";
  const char* msg = git_tag_message(t);
  if (msg && *msg) out += msg;
  return out + "\n";
}

Result<json> show_path(Repo& r, const ShowParams& params, const std::string& rev, const std::string& path) {
  auto commit = detail::lookup_commit(r, rev);
  if (!commit) return std::move(commit).error();
  const std::string commit_id = oid_hex(*git_commit_id(commit->get()));
  git_tree* tree_raw = nullptr;
  if (int rc = git_commit_tree(&tree_raw, commit->get()); rc != 0) return libgit2_error(rc, "read the tree of " + rev);
  TreePtr tree(tree_raw);
  git_object* obj = nullptr;
  if (path.empty()) {
    git_object_dup(&obj, reinterpret_cast<git_object*>(tree.get()));
  } else {
    git_tree_entry* entry = nullptr;
    int rc = git_tree_entry_bypath(&entry, tree.get(), path.c_str());
    if (rc == GIT_ENOTFOUND)
      return make_error(error_code::kNotFound, "'" + path + "' does not exist in " + rev +
                                                   " (paths are relative to the workspace root; see git_log with "
                                                   "paths for when it existed)");
    if (rc != 0) return libgit2_error(rc, "look up " + path + " in " + rev);
    if (git_tree_entry_type(entry) == GIT_OBJECT_COMMIT) {
      git_tree_entry_free(entry);
      return make_error(error_code::kInvalidParams, "'" + path + "' is a submodule in " + rev + ", not a file");
    }
    rc = git_tree_entry_to_object(&obj, r.repo, entry);
    git_tree_entry_free(entry);
    if (rc != 0) return libgit2_error(rc, "read " + path + " in " + rev);
  }
  ObjectPtr object(obj);
  json out = {{"path", path}, {"oid", oid_hex(*git_object_id(obj))}, {"truncated", false}};

  if (git_object_type(obj) == GIT_OBJECT_TREE) {
    // git show <rev>:<dir> prints "tree <rev>:<dir>", a blank line and the
    // entry names, directories with a trailing '/'.
    const auto* t = reinterpret_cast<const git_tree*>(obj);
    std::string text = "tree " + rev + ":" + path + "\n\n";
    for (std::size_t i = 0, n = git_tree_entrycount(t); i < n; ++i) {
      const git_tree_entry* e = git_tree_entry_byindex(t, i);
      text += git_tree_entry_name(e);
      if (git_tree_entry_type(e) == GIT_OBJECT_TREE) text += '/';
      text += '\n';
    }
    out["type"] = "tree";
    out["text"] = std::move(text);
    return out;
  }

  const auto* blob = reinterpret_cast<const git_blob*>(obj);
  const char* data = static_cast<const char*>(git_blob_rawcontent(blob));
  const std::size_t size = static_cast<std::size_t>(git_blob_rawsize(blob));
  out["type"] = "blob";
  out["size"] = size;
  // Binary as git's diff decides it: a NUL in the first 8000 bytes.
  const bool binary = std::memchr(data, 0, std::min<std::size_t>(size, 8000)) != nullptr;
  out["binary"] = binary;
  if (binary) {
    out["text"] = "";
    out["offset"] = 0;
    out["note"] =
        "'" + path + "' is binary (" + git_text::count(size, "byte") + ") in " + rev + "; its content is not shown.";
    return out;
  }
  auto cursor = detail::parse_cursor(params.cursor);
  if (!cursor) return std::move(cursor).error();
  const std::size_t offset = std::min(*cursor, size);
  const std::size_t max_bytes = detail::text_budget(r, params.max_bytes, detail::kDefaultPageBytes);
  std::size_t end = size;
  if (size - offset > max_bytes) {
    // Cut after the last whole line that fits (or mid-line for one long
    // line).
    std::string_view window(data + offset, max_bytes);
    std::size_t nl = window.rfind('\n');
    end = offset + (nl == std::string_view::npos ? max_bytes : nl + 1);
  }
  out["text"] = std::string(data + offset, end - offset);
  out["offset"] = offset;
  if (end < size) {
    out["truncated"] = true;
    out["nextCursor"] = std::to_string(end);
    out["note"] =
        "Showing bytes " + std::to_string(offset) + "-" + std::to_string(end) + " of " + std::to_string(size) +
        ". Next: " + detail::continue_call("git_show", params.given, std::to_string(end), {{"rev", commit_id}}) + ".";
  }
  return out;
}

}  // namespace

// `git show` <rev>[:<path>]: a commit with its patch, a file's content or a
// directory's entries, each rendered as git renders it (compared byte for byte by
// git.differential); kept as git's one dispatch rather than restructured.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<json> show(Repo& r, const ShowParams& params) {
  const std::string& rev = params.rev;
  if (auto st = check_revision(rev); !st) return st.error();
  if (params.path) {
    auto path = r.path(*params.path);
    if (!path) return std::move(path).error();
    // A directory's listing holds names only; a file's content may be denied.
    if (!path->empty()) {
      if (auto st = check_readable(r, "git_show", *path, false); !st) return st.error();
    }
    return show_path(r, params, rev, *path);
  }

  auto commit = detail::lookup_commit(r, rev);
  if (!commit) return std::move(commit).error();
  git_commit* c = commit->get();
  git_odb* odb_raw = nullptr;
  if (int rc = git_repository_odb(&odb_raw, r.repo); rc != 0) return libgit2_error(rc, "open the object database");
  OdbPtr odb(odb_raw);

  auto cursor = detail::parse_diff_cursor(params.cursor);
  if (!cursor) return std::move(cursor).error();
  std::string header;
  if (cursor->file == 0 && cursor->byte == 0) {
    // An annotated tag shows itself before the commit it points at.
    git_object* obj = nullptr;
    if (git_revparse_single(&obj, r.repo, rev.c_str()) == 0) {
      ObjectPtr owned(obj);
      if (git_object_type(obj) == GIT_OBJECT_TAG) header = tag_header(reinterpret_cast<git_tag*>(obj));
    }
    header += commit_header(r.repo, odb.get(), c);
  }

  json out = json::object();
  out["commit"] = detail::commit_json(c);
  const unsigned parents = git_commit_parentcount(c);
  if (parents > 1) {
    // git shows merges as a combined diff (--cc): the files that differ
    // from every parent, usually none. We show none, but keep the blank
    // line git prints after the message when the merge's tree differs
    // from a parent's.
    bool differs = false;
    for (unsigned i = 0; i < parents && !differs; ++i) {
      git_commit* p = nullptr;
      if (int rc = git_commit_parent(&p, c, i); rc != 0) return libgit2_error(rc, "read a parent of " + rev);
      differs = !git_oid_equal(git_commit_tree_id(p), git_commit_tree_id(c));
      git_commit_free(p);
    }
    if (differs && !header.empty()) header += "\n";
    out["text"] = std::move(header);
    out["files"] = json::array();
    out["total"] = 0;
    out["truncated"] = false;
    out["note"] = "Merge commit: no diff shown. Compare it with a parent through git_diff {\"target\": {\"from\": \"" +
                  rev + "^1\", \"to\": \"" + rev + "\"}}.";
    return out;
  }

  git_tree* new_tree = nullptr;
  if (int rc = git_commit_tree(&new_tree, c); rc != 0) return libgit2_error(rc, "read the tree of " + rev);
  TreePtr new_owned(new_tree);
  TreePtr old_owned;
  if (parents == 1) {
    git_commit* p = nullptr;
    if (int rc = git_commit_parent(&p, c, 0); rc != 0) return libgit2_error(rc, "read the parent of " + rev);
    CommitPtr parent(p);
    git_tree* old_tree = nullptr;
    if (int rc = git_commit_tree(&old_tree, p); rc != 0) return libgit2_error(rc, "read the parent's tree");
    old_owned.reset(old_tree);
  }
  git_diff_options o = GIT_DIFF_OPTIONS_INIT;
  o.context_lines = params.context_lines;
  o.id_abbrev = GIT_OID_HEXSZ;
  o.flags |= detail::config_diff_flags(r.repo);
  // Only the files whose entries differ (worktree_scan.hpp); a root commit
  // adds everything.
  std::vector<std::string> changed;
  std::vector<const char*> changed_ptrs;
  if (old_owned) {
    auto list = detail::changed_paths(r.repo, old_owned.get(), new_tree, {});
    if (!list) return std::move(list).error();
    changed = std::move(*list);
    for (const auto& p : changed) changed_ptrs.push_back(p.c_str());
    o.pathspec.strings = const_cast<char**>(changed_ptrs.data());
    o.pathspec.count = changed_ptrs.size();
    o.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
  }
  if (old_owned && changed.empty()) {
    // An empty commit (an empty pathspec would mean every file).
    out["text"] = std::move(header);
    out["files"] = json::array();
    out["total"] = 0;
    out["truncated"] = false;
    return out;
  }
  git_diff* raw = nullptr;
  if (int rc = git_diff_tree_to_tree(&raw, r.repo, old_owned.get(), new_tree, &o); rc != 0)
    return libgit2_error(rc, "diff " + rev);
  DiffPtr d(raw);
  const detail::RenameDefault def = detail::rename_default(r.repo);
  if (params.find_renames.value_or(def.renames || def.copies)) {
    if (auto st = detail::find_renames(r.repo, d.get(), def.copies); !st) return std::move(st).error();
  }
  detail::RenderOptions ro;
  ro.offset = cursor->file;
  ro.offset_byte = cursor->byte;
  ro.limit = params.limit.value_or(kDefaultFiles);
  ro.max_bytes = detail::text_budget(r, params.max_bytes, detail::kDefaultPageBytes);
  // The pages continue with the commit found now, whatever rev names later.
  const std::string hash = oid_hex(*git_commit_id(c));
  ro.next_call = [&params, &hash](const std::string& next) {
    return detail::continue_call("git_show", params.given, next, {{"rev", hash}});
  };
  ro.narrow = !old_owned ? std::string()
                         : ", or one file's change: git_diff {\"target\":{\"from\":\"" + hash.substr(0, 12) +
                               "^\",\"to\":\"" + hash.substr(0, 12) + "\"},\"paths\":[...]}";
  // The header counts against the first page, but leaves the diff at least
  // half of it.
  ro.max_bytes = header.size() < ro.max_bytes / 2 ? ro.max_bytes - header.size() : ro.max_bytes / 2;
  ro.abbrev = detail::default_abbrev(r.repo);
  ro.op = "git_show";
  auto page = detail::render_diff(r, d.get(), ro);
  if (!page) return std::move(page).error();
  // git separates the message from the patch with a blank line.
  if (!header.empty() && !page->text.empty()) header += "\n";
  page->text = header + page->text;
  detail::page_to_json(std::move(*page), out);
  return out;
}

}  // namespace icotes::git
