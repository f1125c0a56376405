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

/// `text` as a Unix time, relative forms counted back from `now` (Unix
/// seconds). ISO forms: YYYY-MM-DD (00:00 local time, where git takes the
/// current time of day), YYYY-MM-DD[T ]HH:MM[:SS] with an optional Z,
/// +HH:MM, +HHMM or +HH (none: local time). nullopt: none of the forms.
std::optional<std::int64_t> log_date(std::string_view text, std::int64_t now);

}  // namespace icotes::git::detail
