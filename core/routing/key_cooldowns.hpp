// Key cooldowns: which upstream keys must rest (after a 429) or are predicted to be out of quota.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/routing/rate_headers.hpp"

namespace tollgate::core {

/// Per upstream key (by key id, never key material): a cooldown deadline set when the upstream
/// answers 429, and the last quota window its rate-limit headers showed. Thread-safe; every call is
/// a short critical section with no I/O, so it may be called from any strand. Times are the
/// injected steady clock's; nothing here reads a clock. Entries are kept per configured key (a
/// bounded set), never per request.
class KeyCooldowns {
 public:
  using TimePoint = Clock::Steady::time_point;

  /// Puts `key` on cooldown until `until`. Never shortens a cooldown already longer.
  void cool_down(std::string_view key, TimePoint until);

  /// True while `key`'s cooldown has not ended at `now`.
  bool cooling(std::string_view key, TimePoint now) const;

  /// When `key`'s cooldown ends, if it is cooling at `now`.
  std::optional<TimePoint> until(std::string_view key, TimePoint now) const;

  /// Records the window read from `key`'s latest response at `now`, replacing the previous one.
  /// Resets are kept as deadlines (now + reset); a count without a reset predicts nothing.
  void note_window(std::string_view key, const RateWindow& window, TimePoint now);

  /// True while the last window noted for `key` says 0 requests remaining, or fewer tokens than
  /// `tokens_needed` (at least 1: every request uses a token), and that limit's reset has not
  /// passed at `now`. The router uses it to prefer other keys before this one answers 429.
  bool predicted_exhausted(std::string_view key, std::int64_t tokens_needed, TimePoint now) const;

  /// The first moment one of `keys` is off cooldown: `now` when one is not cooling, else the
  /// earliest end among them (for a 503's Retry-After). nullopt when `keys` is empty.
  std::optional<TimePoint> soonest(std::span<const std::string> keys, TimePoint now) const;

 private:
  struct Entry {
    std::optional<TimePoint> cool_until;
    std::optional<std::int64_t> requests_remaining;
    std::optional<TimePoint> requests_reset_at;
    std::optional<std::int64_t> tokens_remaining;
    std::optional<TimePoint> tokens_reset_at;
  };

  /// The cooldown end of `key` if it is cooling at `now`; the caller holds `mutex_`.
  std::optional<TimePoint> until_locked(std::string_view key, TimePoint now) const;

  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace tollgate::core
