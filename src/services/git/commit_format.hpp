// Helpers shared by git/diff, log, show and blame: git's date formats,
// commit fields as git prints them, object id abbreviation as git chooses
// it, and paging arguments.
#pragma once

#include <git2.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "handles.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/git.hpp"
#include "icotes/git_text.hpp"

namespace icotes::git::detail {

/// Hashing and equality of object ids, for unordered containers.
struct OidHash {
  std::size_t operator()(const git_oid& o) const {
    std::size_t h;
    std::memcpy(&h, o.id, sizeof h);  // ids are uniformly distributed
    return h;
  }
};
struct OidEq {
  bool operator()(const git_oid& a, const git_oid& b) const { return git_oid_equal(&a, &b); }
};

// --- revisions ---------------------------------------------------------------

/// `rev` (checked, resolved through Repo::resolve) peeled to a commit.
/// Errors: kNotFound for unknown revisions; kInvalidParams when it names
/// something that is not a commit (a blob, a tree).
Result<CommitPtr> lookup_commit(const Repo& r, std::string_view rev);

/// The tree of HEAD, or null when HEAD is unborn (no commit yet).
Result<TreePtr> head_tree(const Repo& r);

// --- dates (git's date.c, show_date) ------------------------------------------

/// `%aI`: 2005-04-07T15:13:13-07:00 (strict ISO 8601, the signer's offset).
std::string iso_strict_date(const git_time& t);
/// git's default ("normal") format: "Thu Apr 7 15:13:13 2005 -0700".
std::string normal_date(const git_time& t);
/// The offset as git prints it in headers: +hhmm / -hhmm.
std::string tz_offset(int offset_minutes);

// --- commits -------------------------------------------------------------------

/// The parts of a commit message as git's pretty.c splits them: `%s` (the
/// first paragraph, its lines right-trimmed and joined by spaces) and `%b`
/// (everything after the blank lines that follow it).
struct MessageParts {
  std::string subject;
  std::string body;
};
MessageParts split_message(std::string_view raw_message);

/// {hash, parents, author{name,email,date}, committer{...}, subject, body}
/// (schemas/git/log.json "commits" items).
json commit_json(const git_commit* c);

// --- abbreviated ids (git's object-name.c, find_unique_abbrev_r) -------------

/// The abbreviation length git starts from when core.abbrev is unset or
/// "auto": max(7, ceil((msb(count) + 1) / 2)) where count is the number of
/// objects in the repository's pack indexes (loose objects are not counted,
/// packfile.c repo_approximate_object_count). core.abbrev set to a number is
/// used as is (clamped to 4..40).
int default_abbrev(git_repository* repo);

/// Abbreviates `oid` to at least `min_len` hex digits, longer while another
/// object in the repository shares the prefix (the id need not exist, like a
/// working-tree blob's). The all-zero id is not looked up.
std::string abbrev_oid(git_odb* odb, const git_oid& oid, int min_len);

// --- quoting (git's quote.c, quote_c_style with core.quotePath on) ------------

/// True when git would quote `name` in diff headers and --stat/--name-only
/// lists: control characters, '"', '\\' and bytes >= 0x80.
bool needs_quote(std::string_view name);
/// `name` as git prints it: unchanged, or in double quotes with C escapes
/// (\t \n \" \\ and octal \ooo for other bytes).
std::string quote_path(std::string_view name);

// --- paging ----------------------------------------------------------------------

/// A "cursor" param as a non-negative number ("" or absent: 0). Errors:
/// kInvalidParams telling the client to pass nextCursor back.
Result<std::size_t> parse_cursor(const std::optional<std::string>& cursor);

/// Bytes of a page's text left for what the MCP text block adds around it
/// (a header line, the note with the call that continues).
inline constexpr std::size_t kPageReserve = 2 * 1024;
/// The default text of one page, in bytes: a tool result within
/// kDefaultToolResultBytes (client_profile.hpp) with its header and note.
inline constexpr std::size_t kDefaultPageBytes = kDefaultToolResultBytes - kPageReserve;

/// The text budget of one page, in bytes: `asked` (a "maxBytes" param) when
/// given (else `fallback`), never more than the client takes (Repo::policy
/// .max_result_bytes less kPageReserve, when it has a cap) and never less
/// than 1 KiB.
std::size_t text_budget(const Repo& r, const std::optional<std::size_t>& asked, std::size_t fallback);

/// The text budget of a page counted in items (commits, lines, entries):
/// without an item count asked for (`limit_given`), kDefaultPageBytes; with
/// it, what the client takes (no bound for a client without a cap: a
/// program asking for 1000 commits gets them). Never more than the client's
/// cap less kPageReserve.
std::size_t page_budget(const Repo& r, bool limit_given);

/// The exact call that fetches the next page: `tool` with `params` and
/// "cursor" set to `cursor`, as compact JSON, e.g.
/// `git_log {"paths":["src"],"cursor":"50"}`. `replace` overrides members
/// (a resolved revision instead of HEAD, so the pages stay one answer).
std::string continue_call(std::string_view tool, const json& params, const std::string& cursor,
                          const json& replace = json::object());

}  // namespace icotes::git::detail
