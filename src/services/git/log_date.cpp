#include "log_date.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace icotes::git::detail {
namespace {

// "Z", "+HH", "+HHMM" or "+HH:MM" (or "-"): minutes east of UTC.
std::optional<int> zone_offset(std::string_view z) {
  if (z == "Z" || z == "z") return 0;
  if (z.size() < 3 || (z[0] != '+' && z[0] != '-')) return std::nullopt;
  std::string digits;
  if (z.size() == 3 || z.size() == 5)
    digits = z.substr(1);
  else if (z.size() == 6 && z[3] == ':')
    digits = std::string(z.substr(1, 2)) + std::string(z.substr(4));
  else
    return std::nullopt;
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const int minutes = std::stoi(digits.substr(0, 2)) * 60 + (digits.size() == 4 ? std::stoi(digits.substr(2)) : 0);
  if (minutes > 24 * 60) return std::nullopt;
  return z[0] == '-' ? -minutes : minutes;
}

}  // namespace

// One scanner over the absolute forms git's date.c reads ("@seconds", ISO
// dates and times, zones), each case as date.c decides it, so that --since/--until land on
// git's second.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
std::optional<AbsoluteDate> absolute_date(std::string_view text) {
  if (text.empty() || text.size() > 200) return std::nullopt;
  const std::string s(text);
  // git's internal form: "@<seconds>" with an optional zone, or "<seconds> <zone>".
  const std::size_t sp = s.rfind(' ');
  const std::string head = sp == std::string::npos ? s : s.substr(0, sp);
  const std::string_view digits = std::string_view(head).substr(head.empty() || head[0] != '@' ? 0 : 1);
  if (!digits.empty() && digits.size() < 18 && digits.find_first_not_of("0123456789") == std::string_view::npos &&
      (head[0] == '@' || sp != std::string::npos)) {
    AbsoluteDate d{std::stoll(std::string(digits)), std::nullopt};
    if (sp == std::string::npos) return d;
    d.offset_minutes = zone_offset(std::string_view(s).substr(sp + 1));
    if (!d.offset_minutes) return std::nullopt;
    return d;
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, used = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10) return std::nullopt;
  std::size_t pos = 10;
  if (pos + 1 < s.size() && (s[pos] == 'T' || s[pos] == ' ') && std::isdigit(static_cast<unsigned char>(s[pos + 1]))) {
    int n = 0;
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5) return std::nullopt;
    pos += 1 + 5;
    if (pos < s.size() && s[pos] == ':') {
      if (std::sscanf(s.c_str() + pos + 1, "%2d%n", &sec, &n) != 1 || n != 2) return std::nullopt;
      pos += 3;
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  if (pos == s.size()) {
    tm.tm_isdst = -1;
    return AbsoluteDate{static_cast<std::int64_t>(std::mktime(&tm)), std::nullopt};
  }
  std::string_view zone = std::string_view(s).substr(pos);
  if (zone[0] == ' ') zone.remove_prefix(1);  // "2024-01-31 12:00:00 +0200", as git writes it
  const auto offset = zone_offset(zone);
  if (!offset) return std::nullopt;
  return AbsoluteDate{static_cast<std::int64_t>(timegm(&tm)) - std::int64_t{*offset} * 60, offset};
}

namespace {

// git's relative date state (date.c approxidate_str): `tm` starts as the
// local time now with year, month and day unset; relative words move it.
struct Relative {
  std::tm tm{};
  std::tm now{};

  // date.c update_tm(): unset fields from now, then `sec` earlier.
  std::time_t update(std::time_t sec) {
    if (tm.tm_mday < 0) tm.tm_mday = now.tm_mday;
    if (tm.tm_mon < 0) tm.tm_mon = now.tm_mon;
    if (tm.tm_year < 0) {
      tm.tm_year = now.tm_year;
      if (tm.tm_mon > now.tm_mon) tm.tm_year--;
    }
    const std::time_t n = std::mktime(&tm) - sec;
    localtime_r(&n, &tm);
    return n;
  }

  // date.c date_time(): the latest `hour`:00:00 not after the time so far.
  void at_hour(int hour) {
    if (tm.tm_hour < hour) update(24 * 60 * 60);
    tm.tm_hour = hour;
    tm.tm_min = 0;
    tm.tm_sec = 0;
  }
};

constexpr const char* kNumberWords[] = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"};
constexpr const char* kWeekdays[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
constexpr std::pair<const char*, int> kUnits[] = {
    {"second", 1}, {"minute", 60}, {"hour", 60 * 60}, {"day", 24 * 60 * 60}, {"week", 7 * 24 * 60 * 60}};

// `word` is `name` or its plural.
bool is(const std::string& word, std::string_view name) {
  return word == name ||
         (word.size() == name.size() + 1 && word.back() == 's' && word.compare(0, name.size(), name) == 0);
}

int weekday(const std::string& word) {
  for (int i = 0; i < 7; ++i) {
    const std::string_view name = kWeekdays[i];
    if (is(word, name) || word == name.substr(0, 3)) return i;
  }
  return -1;
}

// The token loop of git's approxidate (date.c approxidate_str): numbers,
// units, "ago", weekdays, "yesterday"... each token a case of one loop over
// shared state, kept in date.c's shape so the two can be compared.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
std::optional<std::int64_t> relative(std::string_view text, std::time_t now_sec) {
  Relative r;
  localtime_r(&now_sec, &r.tm);
  r.now = r.tm;
  r.tm.tm_year = r.tm.tm_mon = r.tm.tm_mday = -1;
  int num = 0;
  bool touched = false;
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isdigit(c)) {
      std::size_t j = i;
      while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
      // "12:30", "2024.01.31": times and dates git reads another way.
      if (j + 1 < text.size() && std::string_view(":./-").find(text[j]) != std::string_view::npos &&
          std::isdigit(static_cast<unsigned char>(text[j + 1])))
        return std::nullopt;
      if (num != 0 || j - i > 5) return std::nullopt;  // a day of the month to git, or absurdly far back
      num = std::stoi(std::string(text.substr(i, j - i)));
      if (num == 0) return std::nullopt;
      touched = true;
      i = j;
      continue;
    }
    if (!std::isalpha(c)) {
      if (c < 0x20 || c >= 0x7f) return std::nullopt;
      ++i;
      continue;
    }
    std::size_t j = i;
    std::string word;
    while (j < text.size() && std::isalpha(static_cast<unsigned char>(text[j])))
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(text[j++])));
    i = j;
    touched = true;
    if (word == "yesterday" || word == "now") {
      if (num != 0) return std::nullopt;
      r.update(word == "now" ? 0 : 24 * 60 * 60);
      continue;
    }
    if (word == "noon" || word == "midnight") {
      if (num != 0) return std::nullopt;
      r.at_hour(word == "noon" ? 12 : 0);
      continue;
    }
    if (num == 0) {
      if (word == "ago") continue;  // git skips it
      if (word == "last") {
        num = 1;
        continue;
      }
      bool found = false;
      for (int k = 0; k < 10 && !found; ++k) {
        if (word == kNumberWords[k]) {
          num = k + 1;
          found = true;
        }
      }
      if (found) continue;
      return std::nullopt;  // a unit or weekday without a number: "now" to git
    }
    bool unit = false;
    for (const auto& [name, seconds] : kUnits) {
      if (!unit && is(word, name)) {
        r.update(static_cast<std::time_t>(seconds) * num);
        unit = true;
      }
    }
    if (unit) {
      num = 0;
      continue;
    }
    if (const int day = weekday(word); day >= 0) {
      // date.c: back to the latest such weekday before today, then
      // num - 1 weeks more.
      int n = num - 1;
      int diff = r.tm.tm_wday - day;
      if (diff <= 0) ++n;
      diff += 7 * n;
      r.update(static_cast<std::time_t>(diff) * 24 * 60 * 60);
      num = 0;
      continue;
    }
    if (is(word, "month")) {
      r.update(0);
      int m = r.tm.tm_mon - num;
      while (m < 0) {
        m += 12;
        r.tm.tm_year--;
      }
      r.tm.tm_mon = m;
      num = 0;
      continue;
    }
    if (is(word, "year")) {
      r.update(0);
      r.tm.tm_year -= num;
      num = 0;
      continue;
    }
    return std::nullopt;
  }
  if (num != 0 || !touched) return std::nullopt;
  return static_cast<std::int64_t>(r.update(0));
}

}  // namespace

std::optional<std::int64_t> log_date(std::string_view text, std::int64_t now) {
  if (text.empty() || text.size() > 200) return std::nullopt;
  if (auto t = absolute_date(text)) return t->seconds;
  return relative(text, static_cast<std::time_t>(now));
}

}  // namespace icotes::git::detail
