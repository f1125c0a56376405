// git/tag: `git tag -l [<pattern>]`, `git tag [-f] <name> [<rev>]`,
// `git tag [-f] -a -m <message> <name> [<rev>]` and `git tag -d <name>`
// (git-tag(1)), on libgit2's tag functions. Tags move no work-tree file.
#include <fnmatch.h>
#include <git2.h>

#include <algorithm>

#include "commit_format.hpp"
#include "repo_util.hpp"

namespace icotes::git {
namespace {

Status check_name(const std::string& name) {
  int valid = 0;
  if (name.front() == '-' || git_tag_name_is_valid(&valid, name.c_str()) != 0 || !valid) {
    git_error_clear();
    return make_error(error_code::kInvalidParams,
                      "git_tag: invalid tag name '" + name.substr(0, 200) +
                          "': see git-check-ref-format(1) (no spaces, '..', '~', '^', ':', '?', '*', '[', '\\\\', no "
                          "leading '-' or '.', no trailing '/' or '.lock')");
  }
  return ok_status();
}

struct Listed {
  std::string name;
  git_oid ref_id{};  // what refs/tags/<name> holds: a tag object or the object tagged
  git_oid target{};  // the object tagged, peeled through tag objects
  bool annotated = false;
  std::string subject;
};

// The first line of a tag message or a commit's subject (git tag -n1).
Result<Listed> describe(git_repository* repo, std::string name, const git_oid& id) {
  Listed t{std::move(name), id, id, false, {}};
  git_object* raw = nullptr;
  if (int rc = git_object_lookup(&raw, repo, &id, GIT_OBJECT_ANY); rc != 0) {
    git_error_clear();
    return t;  // a tag naming a missing object: listed by name alone
  }
  ObjectPtr obj(raw);
  if (git_object_type(obj.get()) == GIT_OBJECT_TAG) {
    t.annotated = true;
    const char* msg = git_tag_message(reinterpret_cast<git_tag*>(obj.get()));
    t.subject = subject_of(msg ? msg : "");
    git_object* peeled = nullptr;
    if (git_object_peel(&peeled, obj.get(), GIT_OBJECT_ANY) == 0) {
      // Through nested tags to what they tag.
      ObjectPtr p(peeled);
      while (git_object_type(p.get()) == GIT_OBJECT_TAG) {
        git_object* next = nullptr;
        if (git_tag_target(&next, reinterpret_cast<git_tag*>(p.get())) != 0) break;
        p.reset(next);
      }
      t.target = *git_object_id(p.get());
    }
  } else if (git_object_type(obj.get()) == GIT_OBJECT_COMMIT) {
    t.subject = subject_of(git_commit_message(reinterpret_cast<git_commit*>(obj.get())));
  }
  git_error_clear();
  return t;
}

json tag_json(const Listed& t) {
  json j = {{"name", t.name}, {"target", oid_hex(t.target)}, {"annotated", t.annotated}, {"subject", t.subject}};
  if (t.annotated) j["oid"] = oid_hex(t.ref_id);
  return j;
}

Result<json> list(Repo& r, const TagParams& p) {
  const std::string& pattern = p.pattern;
  std::vector<std::pair<std::string, git_oid>> refs;
  git_reference_iterator* raw_it = nullptr;
  if (int rc = git_reference_iterator_glob_new(&raw_it, r.repo, "refs/tags/*"); rc != 0)
    return libgit2_error(rc, "git_tag: list tags");
  std::unique_ptr<git_reference_iterator, Freer<git_reference_iterator_free>> it(raw_it);
  git_reference* raw = nullptr;
  while (git_reference_next(&raw, it.get()) == 0) {
    ReferencePtr ref(raw);
    const std::string name = std::string(git_reference_name(ref.get())).substr(10);
    // git tag -l matches the pattern with wildmatch; fnmatch without flags
    // agrees for *, ? and [...] ('*' crosses '/' in both).
    if (!pattern.empty() && ::fnmatch(pattern.c_str(), name.c_str(), 0) != 0) continue;
    git_oid id;
    if (git_reference_name_to_id(&id, r.repo, git_reference_name(ref.get())) != 0) continue;
    refs.emplace_back(name, id);
  }
  git_error_clear();
  std::sort(refs.begin(), refs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto page = page_of(p, refs.size(), 1000, detail::page_budget(r, p.limit.has_value()),
                      [&](std::size_t i) { return 2 * refs[i].first.size() + 90; });
  if (!page) return std::move(page).error();
  json out = {{"action", "list"}, {"tags", json::array()}};
  for (std::size_t i = page->begin; i < page->end; ++i) {
    auto t = describe(r.repo, refs[i].first, refs[i].second);
    if (!t) return std::move(t).error();
    out["tags"].push_back(tag_json(*t));
  }
  put_page(out, *page, refs.size(), "tags", pattern.empty() ? "pass pattern (e.g. \"v1.*\")" : "", "git_tag", p);
  return out;
}

Result<json> create(Repo& r, const std::string& name, const TagParams& p) {
  const std::string& rev = p.rev;
  if (auto st = check_revision(rev); !st) return st.error();
  const bool force = p.force;
  git_object* raw_target = nullptr;
  if (int rc = git_revparse_single(&raw_target, r.repo, rev.c_str()); rc != 0) {
    git_error_clear();
    if (rev == "HEAD") return make_error(error_code::kNotFound, "git_tag: HEAD has no commit yet; commit first");
    return make_error(error_code::kNotFound, "git_tag: unknown revision '" + rev + "'");
  }
  ObjectPtr target(raw_target);
  json out = {{"action", "create"}, {"name", name}};
  git_oid previous;
  const std::string ref = "refs/tags/" + name;
  if (git_reference_name_to_id(&previous, r.repo, ref.c_str()) == 0) {
    if (!force)
      return make_error(error_code::kConflict, "git_tag: tag '" + name + "' already exists (at " +
                                                   oid_hex(previous).substr(0, 7) +
                                                   "); pass force to move it, or choose another name");
    out["previous"] = oid_hex(previous);
  }
  git_error_clear();
  git_oid created;
  if (p.message) {
    // git tag's default cleanup for a message (builtin/tag.c, "strip"):
    // comment lines and surrounding blank lines go, trailing whitespace too.
    Buf cleaned;
    const std::string& message = *p.message;
    if (int rc = git_message_prettify(&cleaned.buf, message.c_str(), 1, '#'); rc != 0)
      return libgit2_error(rc, "git_tag: clean up the message");
    auto tagger = identity(r.repo, Role::kCommitter);
    if (!tagger) return std::move(tagger).error();
    if (int rc = git_tag_create(&created, r.repo, name.c_str(), target.get(), tagger->get(), cleaned.str().c_str(),
                                force ? 1 : 0);
        rc != 0)
      return write_error(rc, "git_tag: create '" + name + "'");
    out["oid"] = oid_hex(created);
    out["annotated"] = true;
  } else {
    if (int rc = git_tag_create_lightweight(&created, r.repo, name.c_str(), target.get(), force ? 1 : 0); rc != 0)
      return write_error(rc, "git_tag: create '" + name + "'");
    out["annotated"] = false;
  }
  out["target"] = oid_hex(*git_object_id(target.get()));
  return out;
}

Result<json> remove(Repo& r, const std::string& name) {
  git_oid id;
  const std::string ref = "refs/tags/" + name;
  if (git_reference_name_to_id(&id, r.repo, ref.c_str()) != 0) {
    git_error_clear();
    return make_error(error_code::kNotFound, "git_tag: tag '" + name + "' not found (action list shows the tags)");
  }
  if (int rc = git_tag_delete(r.repo, name.c_str()); rc != 0) return write_error(rc, "git_tag: delete '" + name + "'");
  return json{{"action", "delete"}, {"name", name}, {"oid", oid_hex(id)}};
}

}  // namespace

Result<json> tag(Repo& r, const TagParams& p) {
  const std::string& action = p.action;
  if (action == "list") return list(r, p);
  if (!p.name) return make_error(error_code::kInvalidParams, "git_tag: action '" + action + "' needs name (the tag)");
  const std::string& name = *p.name;
  if (auto st = check_name(name); !st) return st.error();
  if (action == "create") return create(r, name, p);
  return remove(r, name);
}

}  // namespace icotes::git
