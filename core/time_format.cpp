// RFC 3339 formatting and parsing over std::chrono calendar types (g++ 12 has no chrono::parse).
#include "core/time_format.hpp"

#include <charconv>
#include <chrono>

#include <fmt/format.h>

namespace tollgate::core {
namespace {

using namespace std::chrono;

/// Reads exactly `width` digits at `pos`.
bool digits(std::string_view text, std::size_t pos, std::size_t width, int& out) {
  if (pos + width > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::string format_rfc3339(std::int64_t unix_millis) {
  const sys_time<milliseconds> t{milliseconds{unix_millis}};
  const auto day = floor<days>(t);
  const year_month_day date{day};
  const hh_mm_ss<milliseconds> time{t - day};
  const auto ms = time.subseconds().count();
  const std::string base = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                                       static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                                       time.hours().count(), time.minutes().count(), time.seconds().count());
  return ms == 0 ? base + "Z" : base + fmt::format(".{:03}Z", ms);
}

std::optional<std::int64_t> parse_time(std::string_view text) {
  if (!text.empty() && text.size() <= 12 && text.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return seconds * 1000;
  }
  int y, mo, d, h, mi, s;
  if (!digits(text, 0, 4, y) || text.size() < 20 || text[4] != '-' || !digits(text, 5, 2, mo) || text[7] != '-' ||
      !digits(text, 8, 2, d) || (text[10] != 'T' && text[10] != 't') || !digits(text, 11, 2, h) || text[13] != ':' ||
      !digits(text, 14, 2, mi) || text[16] != ':' || !digits(text, 17, 2, s))
    return std::nullopt;
  if (y < 1970 || h > 23 || mi > 59 || s > 59) return std::nullopt;
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;

  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    std::size_t n = 0;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++n)
      if (n < 3) millis = millis * 10 + (text[pos] - '0');
    if (n == 0) return std::nullopt;
    for (; n < 3; ++n) millis *= 10;
  }
  std::int64_t offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else {
    int oh, om;
    if (pos + 6 != text.size() || (text[pos] != '+' && text[pos] != '-') || !digits(text, pos + 1, 2, oh) ||
        text[pos + 3] != ':' || !digits(text, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_minutes = (oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  }
  if (pos != text.size()) return std::nullopt;
  const auto t = sys_days{date} + hours{h} + minutes{mi} + seconds{s} + milliseconds{millis} - minutes{offset_minutes};
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

}  // namespace tollgate::core
