// The times git_log's since/until take: ISO 8601 and @<unix seconds>, and
// the common relative forms of git's approxidate (date.c approxidate_str),
// computed as git computes them, in the server's local time zone:
//   N <unit>[s] [ago]  unit second, minute, hour, day, week (N * its
//                      length before now), month, year (the calendar
//                      month or year, same day and time); N is a number
//                      or one..ten, or "last" for 1; several may follow
//                      each other ("1 year 2 months ago"); words may be
//                      separated by spaces, dots or other punctuation
//                      ("2.weeks.ago")
//   last <weekday>     the latest such weekday before today, at the
//   N <weekday>s ago   current time of day (weekday: monday or mon ...);
//                      N weeks further back for N > 1
//   yesterday, now     24 hours ago, now
//   midnight, noon     today's 00:00; the latest 12:00 (yesterday's
//                      before noon), or after another form: that day's
//                      ("yesterday noon")
// Everything else is refused rather than guessed: git reads an unknown
// word as nothing, so "today" or "monday" alone mean now there.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace icotes::git::detail {

/// A point in time and, when the text named one, its zone.
struct AbsoluteDate {
  std::int64_t seconds = 0;           // Unix seconds
  std::optional<int> offset_minutes;  // east of UTC; none: the text gave no zone
};

/// The absolute forms git's date parser (date.c parse_date) reads that
/// scripts and people write: "@<seconds>" with an optional " <zone>",
/// "<seconds> <zone>" (git's internal form, as GIT_AUTHOR_DATE holds it),
/// and ISO 8601 YYYY-MM-DD[(T| )HH:MM[:SS]] followed by an optional zone
/// Z, +HH, +HHMM or +HH:MM, attached or after one space. Without a zone
/// the time is local (mktime); YYYY-MM-DD alone is 00:00. nullopt: none of
/// these forms, or a field out of range.
std::optional<AbsoluteDate> absolute_date(std::string_view text);

/// `text` as a Unix time, relative forms counted back from `now` (Unix
/// seconds), absolute ones as absolute_date() reads them (YYYY-MM-DD alone
/// is 00:00 local time, where git takes the current time of day). nullopt:
/// none of the forms.
std::optional<std::int64_t> log_date(std::string_view text, std::int64_t now);

}  // namespace icotes::git::detail
