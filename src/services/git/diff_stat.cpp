// git diff --stat (diff.c show_stats): the table of files, their change
// counts and +/- graphs, and the summary line.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "diff_formats.hpp"

namespace icotes::git::detail {
namespace {

// pprint_rename() in diff.c: "a => b", or the common directory prefix and
// suffix factored out: "dir/{a => b}/file".
std::string rename_name(std::string_view a, std::string_view b) {
  if (needs_quote(a) || needs_quote(b)) return quote_path(a) + " => " + quote_path(b);
  std::size_t pfx = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size() && a[i] == b[i]; ++i) {
    if (a[i] == '/') pfx = i + 1;
  }
  // The common suffix may reach into the prefix by one byte (its slash) only
  // when there is a prefix.
  std::size_t sfx = 0;
  const std::ptrdiff_t adjust = pfx ? 1 : 0;
  std::ptrdiff_t ia = static_cast<std::ptrdiff_t>(a.size());
  std::ptrdiff_t ib = static_cast<std::ptrdiff_t>(b.size());
  const std::ptrdiff_t lo = static_cast<std::ptrdiff_t>(pfx) - adjust;
  // Indexes may point one past the end (the terminating NUL in git's loop),
  // where both strings "hold" '\0' and compare equal.
  auto at = [](std::string_view s, std::ptrdiff_t i) {
    return i < static_cast<std::ptrdiff_t>(s.size()) ? s[static_cast<std::size_t>(i)] : '\0';
  };
  while (lo <= ia && lo <= ib && at(a, ia) == at(b, ib)) {
    if (at(a, ia) == '/') sfx = a.size() - static_cast<std::size_t>(ia);
    --ia;
    --ib;
  }
  // The prefix and suffix may overlap (a/x => a/x/y): the middles are then
  // empty.
  auto middle = [&](std::string_view s) { return s.size() > pfx + sfx ? s.size() - pfx - sfx : std::size_t{0}; };
  const std::size_t a_mid = middle(a), b_mid = middle(b);
  std::string out;
  if (pfx + sfx) {
    out.append(a.substr(0, pfx));
    out += '{';
  }
  out.append(a.substr(pfx, a_mid));
  out += " => ";
  out.append(b.substr(pfx, b_mid));
  if (pfx + sfx) {
    out += '}';
    out.append(a.substr(a.size() - sfx));
  }
  return out;
}

std::size_t decimal_width(std::uint64_t n) {
  std::size_t w = 1;
  while (n >= 10) {
    n /= 10;
    ++w;
  }
  return w;
}

// scale_linear() in diff.c: at least one column for any change.
std::uint64_t scale_linear(std::uint64_t it, std::uint64_t width, std::uint64_t max_change) {
  if (!it) return 0;
  return 1 + (it * (width - 1) / max_change);
}

// The columns of the table (show_stats() in diff.c).
struct StatLayout {
  std::uint64_t max_change = 0;
  std::size_t number_width = 0;
  long name_width = 0;
  long graph_width = 0;
};

StatLayout stat_layout(const std::vector<StatEntry>& files) {
  StatLayout l;
  std::size_t max_len = 0;
  std::size_t bin_width = 0;
  for (const auto& f : files) {
    max_len = std::max(max_len, f.name.size());
    if (f.unmerged) {
      bin_width = std::max<std::size_t>(bin_width, 8);  // "Unmerged"
      continue;
    }
    if (f.binary) {
      bin_width = std::max(bin_width, 14 + decimal_width(f.added) + decimal_width(f.deleted));
      l.number_width = 3;
      continue;
    }
    l.max_change = std::max(l.max_change, f.added + f.deleted);
  }
  long width = 80;
  l.number_width = std::max(l.number_width, decimal_width(l.max_change));
  const long nw = static_cast<long>(l.number_width);
  if (width < 16 + 6 + nw) width = 16 + 6 + nw;
  l.graph_width = static_cast<long>(l.max_change) + 4 > static_cast<long>(bin_width) ? static_cast<long>(l.max_change)
                                                                                     : static_cast<long>(bin_width) - 4;
  l.name_width = static_cast<long>(max_len);
  if (l.name_width + nw + 6 + l.graph_width > width) {
    if (l.graph_width > width * 3 / 8 - nw - 6) {
      l.graph_width = width * 3 / 8 - nw - 6;
      if (l.graph_width < 6) l.graph_width = 6;
    }
    if (l.name_width > width - nw - 6 - l.graph_width)
      l.name_width = width - nw - 6 - l.graph_width;
    else
      l.graph_width = width - nw - 6 - l.name_width;
  }
  return l;
}

// " name | ", a name wider than its column cut from the left ("...").
void append_stat_name(std::string& out, std::string_view name, long name_width) {
  std::string prefix;
  long len = name_width;
  if (name_width < static_cast<long>(name.size())) {
    prefix = "...";
    len -= 3;
    if (len < 0) len = 0;
    name.remove_prefix(name.size() - static_cast<std::size_t>(len));
    if (auto slash = name.find('/'); slash != std::string_view::npos) name.remove_prefix(slash);
  }
  const long padding = std::max<long>(0, len - static_cast<long>(name.size()));
  out += ' ';
  out += prefix;
  out.append(name);
  out.append(static_cast<std::size_t>(padding), ' ');
  out += " | ";
}

// A binary file: "Bin <old size> -> <new size> bytes".
void append_stat_binary(std::string& out, const StatEntry& f, const StatLayout& l) {
  out.append(l.number_width - 3, ' ');
  out += "Bin";
  if (f.added || f.deleted) out += " " + std::to_string(f.deleted) + " -> " + std::to_string(f.added) + " bytes";
  out += '\n';
}

// A text file: its count of changed lines and the +/- graph, scaled to the
// graph's column.
void append_stat_graph(std::string& out, const StatEntry& f, const StatLayout& l) {
  std::uint64_t add = f.added, del = f.deleted;
  const auto gw = static_cast<std::uint64_t>(l.graph_width);
  if (gw <= l.max_change) {
    std::uint64_t total = scale_linear(add + del, gw, l.max_change);
    if (total < 2 && add && del) total = 2;
    if (add < del) {
      add = scale_linear(add, gw, l.max_change);
      del = total - add;
    } else {
      del = scale_linear(del, gw, l.max_change);
      add = total - del;
    }
  }
  const std::string count = std::to_string(f.added + f.deleted);
  out.append(l.number_width > count.size() ? l.number_width - count.size() : 0, ' ');
  out += count;
  if (f.added + f.deleted) out += ' ';
  out.append(add, '+');
  out.append(del, '-');
  out += '\n';
}

// " N files changed, A insertions(+), D deletions(-)"; unmerged files are
// not counted, binary files add no lines.
std::string stat_summary(const std::vector<StatEntry>& files) {
  std::uint64_t adds = 0, dels = 0;
  for (const auto& f : files) {
    if (f.unmerged || f.binary) continue;
    adds += f.added;
    dels += f.deleted;
  }
  const std::size_t n = static_cast<std::size_t>(
      std::count_if(files.begin(), files.end(), [](const StatEntry& f) { return !f.unmerged; }));
  if (n == 0) return " 0 files changed\n";
  std::string out = " " + std::to_string(n) + (n == 1 ? " file changed" : " files changed");
  if (adds || dels == 0) out += ", " + std::to_string(adds) + (adds == 1 ? " insertion(+)" : " insertions(+)");
  if (dels || adds == 0) out += ", " + std::to_string(dels) + (dels == 1 ? " deletion(-)" : " deletions(-)");
  out += '\n';
  return out;
}

}  // namespace

StatEntry stat_entry(const FileDiff& file) {
  const Rendered& e = file.e;
  const git_diff_delta* d = e.delta;
  StatEntry s;
  s.name = (d->status == GIT_DELTA_RENAMED || d->status == GIT_DELTA_COPIED)
               ? rename_name(d->old_file.path, d->new_file.path)
               : quote_path(display_path(d));
  s.binary = e.binary;
  if (e.binary) {
    // "Bin <old size> -> <new size> bytes"; nothing when the contents
    // are the same (a mode change).
    const git_oid& new_id = file.added ? file.added_new_id : e.new_id;
    if (!git_oid_equal(&d->old_file.id, &new_id)) {
      s.deleted = e.old_size;
      s.added = file.added ? file.added_new_size : e.new_size;
    }
  } else {
    s.added = e.additions;
    s.deleted = e.deletions;
  }
  return s;
}

std::string format_stat(const std::vector<StatEntry>& files) {
  if (files.empty()) return "";
  const StatLayout l = stat_layout(files);
  std::string out;
  for (const auto& f : files) {
    append_stat_name(out, f.name, l.name_width);
    if (f.unmerged) {
      out += "Unmerged\n";
    } else if (f.binary) {
      append_stat_binary(out, f, l);
    } else {
      append_stat_graph(out, f, l);
    }
  }
  return out + stat_summary(files);
}

}  // namespace icotes::git::detail
