// Key cooldowns: a mutex-guarded table of cooldown deadlines and last-seen quota windows.
#include "core/routing/key_cooldowns.hpp"

#include <algorithm>

namespace tollgate::core {

void KeyCooldowns::cool_down(std::string_view key, TimePoint until) {
  const std::lock_guard lock{mutex_};
  auto it = entries_.find(key);
  if (it == entries_.end()) it = entries_.emplace(std::string{key}, Entry{}).first;
  auto& current = it->second.cool_until;
  if (!current || *current < until) current = until;
}

std::optional<KeyCooldowns::TimePoint> KeyCooldowns::until_locked(std::string_view key, TimePoint now) const {
  const auto it = entries_.find(key);
  if (it == entries_.end() || !it->second.cool_until || *it->second.cool_until <= now) return std::nullopt;
  return it->second.cool_until;
}

bool KeyCooldowns::cooling(std::string_view key, TimePoint now) const {
  const std::lock_guard lock{mutex_};
  return until_locked(key, now).has_value();
}

std::optional<KeyCooldowns::TimePoint> KeyCooldowns::until(std::string_view key, TimePoint now) const {
  const std::lock_guard lock{mutex_};
  return until_locked(key, now);
}

void KeyCooldowns::note_window(std::string_view key, const RateWindow& window, TimePoint now) {
  const auto deadline = [now](const std::optional<std::chrono::milliseconds>& reset) {
    return reset ? std::optional<TimePoint>{now + *reset} : std::nullopt;
  };
  const std::lock_guard lock{mutex_};
  auto it = entries_.find(key);
  if (it == entries_.end()) it = entries_.emplace(std::string{key}, Entry{}).first;
  auto& entry = it->second;
  entry.requests_remaining = window.requests_remaining;
  entry.requests_reset_at = deadline(window.requests_reset);
  entry.tokens_remaining = window.tokens_remaining;
  entry.tokens_reset_at = deadline(window.tokens_reset);
}

bool KeyCooldowns::predicted_exhausted(std::string_view key, std::int64_t tokens_needed, TimePoint now) const {
  const std::lock_guard lock{mutex_};
  const auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  const auto& entry = it->second;
  const bool requests_out = entry.requests_remaining && *entry.requests_remaining <= 0 && entry.requests_reset_at &&
                            now < *entry.requests_reset_at;
  const bool tokens_out = entry.tokens_remaining && *entry.tokens_remaining < std::max<std::int64_t>(tokens_needed, 1) &&
                          entry.tokens_reset_at && now < *entry.tokens_reset_at;
  return requests_out || tokens_out;
}

std::optional<KeyCooldowns::TimePoint> KeyCooldowns::soonest(std::span<const std::string> keys, TimePoint now) const {
  const std::lock_guard lock{mutex_};
  std::optional<TimePoint> first;
  for (const auto& key : keys) {
    const TimePoint free_at = until_locked(key, now).value_or(now);
    if (!first || free_at < *first) first = free_at;
  }
  return first;
}

}  // namespace tollgate::core
