// Durations ("200ms", "1h30m", bare seconds) and byte sizes ("8MiB", "10MB") in config values.
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "config/internal.hpp"
#include "config/loader.hpp"

namespace tollgate::config {
namespace {

// About 31 years: far beyond any sensible timeout, far below int64 overflow.
constexpr double kMaxDurationMs = 1e12;

bool is_number_char(char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; }

/// Parses a non-negative decimal ("30", "0.5") from the front of `text`, advancing it.
double take_number(std::string_view& text, std::string_view whole, const char* what) {
  std::size_t length = 0;
  while (length < text.size() && is_number_char(text[length])) ++length;
  double value = 0;
  const char* first = text.data();
  const char* last = first + length;
  auto [end, error] = std::from_chars(first, last, value, std::chars_format::fixed);
  if (length == 0 || error != std::errc() || end != last || !std::isfinite(value)) {
    throw std::invalid_argument("not a " + std::string(what) + ": " + detail::quote(whole));
  }
  text.remove_prefix(length);
  return value;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text) {
  const std::string_view whole = detail::trim(text);
  std::string_view rest = whole;
  if (rest.empty()) throw std::invalid_argument("empty duration");

  double total_ms = 0;
  bool bare = true;
  while (!rest.empty()) {
    const double number = take_number(rest, whole, "duration");
    std::size_t unit_length = 0;
    while (unit_length < rest.size() && std::isalpha(static_cast<unsigned char>(rest[unit_length]))) {
      ++unit_length;
    }
    const std::string_view unit = rest.substr(0, unit_length);
    rest.remove_prefix(unit_length);
    double unit_ms = 0;
    if (unit.empty()) {
      // A bare number means seconds, but only on its own: "1m30" is a typo, not 1m30s.
      if (!bare || !rest.empty()) {
        throw std::invalid_argument("missing unit in duration " + detail::quote(whole));
      }
      unit_ms = 1000;
    } else if (unit == "ms") {
      unit_ms = 1;
    } else if (unit == "s") {
      unit_ms = 1000;
    } else if (unit == "m") {
      unit_ms = 60'000;
    } else if (unit == "h") {
      unit_ms = 3'600'000;
    } else if (unit == "d") {
      unit_ms = 86'400'000;
    } else {
      throw std::invalid_argument("unknown unit " + detail::quote(unit) + " in duration " +
                                  detail::quote(whole) + " (use ms, s, m, h or d)");
    }
    bare = false;
    total_ms += number * unit_ms;
    if (total_ms > kMaxDurationMs) {
      throw std::invalid_argument("duration too long: " + detail::quote(whole));
    }
  }
  return std::chrono::milliseconds(std::llround(total_ms));
}

std::uint64_t parse_size(std::string_view text) {
  const std::string_view whole = detail::trim(text);
  std::string_view rest = whole;
  if (rest.empty()) throw std::invalid_argument("empty size");

  const std::string_view digits = rest.substr(0, rest.find_first_not_of("0123456789."));
  const double number = take_number(rest, whole, "size");
  const std::string unit = lower(detail::trim(rest));

  std::uint64_t multiplier = 0;
  if (unit.empty() || unit == "b") {
    multiplier = 1;
  } else if (unit == "kb") {
    multiplier = 1000ull;
  } else if (unit == "mb") {
    multiplier = 1000ull * 1000;
  } else if (unit == "gb") {
    multiplier = 1000ull * 1000 * 1000;
  } else if (unit == "tb") {
    multiplier = 1000ull * 1000 * 1000 * 1000;
  } else if (unit == "kib") {
    multiplier = 1ull << 10;
  } else if (unit == "mib") {
    multiplier = 1ull << 20;
  } else if (unit == "gib") {
    multiplier = 1ull << 30;
  } else if (unit == "tib") {
    multiplier = 1ull << 40;
  } else {
    throw std::invalid_argument("unknown unit " + detail::quote(detail::trim(rest)) + " in size " +
                                detail::quote(whole) + " (use B, KB, MB, GB, KiB, MiB or GiB)");
  }

  if (digits.find('.') == std::string_view::npos) {
    // Whole numbers stay in integer arithmetic so large byte counts are exact.
    std::uint64_t count = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
    if (error != std::errc() || end != digits.data() + digits.size() ||
        count > std::numeric_limits<std::uint64_t>::max() / multiplier) {
      throw std::invalid_argument("size too large: " + detail::quote(whole));
    }
    return count * multiplier;
  }
  if (multiplier == 1) {
    throw std::invalid_argument("a size in bytes must be a whole number: " + detail::quote(whole));
  }
  const double bytes = std::round(number * static_cast<double>(multiplier));
  if (bytes >= 18446744073709551615.0) throw std::invalid_argument("size too large: " + detail::quote(whole));
  return static_cast<std::uint64_t>(bytes);
}

}  // namespace tollgate::config
