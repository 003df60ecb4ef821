// Flights: the leader/joiner table, the shared head of one upstream call, and the recent window.
#include "core/cache/flights.hpp"

namespace tollgate::core {

bool FlightHead::retryable() const noexcept {
  if (failure) return failure->info().retryable;
  return status == 408 || status == 429 || status >= 500;
}

Flight::Flight() : broadcast_(std::make_shared<Broadcast>()) {}

void Flight::set_head(FlightHead head) {
  std::lock_guard lock(mutex_);
  head_ = std::move(head);
}

std::optional<FlightHead> Flight::head() const {
  std::lock_guard lock(mutex_);
  return head_;
}

FlightTable::FlightTable(const Clock& clock, std::chrono::nanoseconds recent_window)
    : clock_(clock), window_(recent_window) {}

FlightTable::Ticket FlightTable::join(const std::string& key) {
  std::shared_ptr<Flight> stale;  // destroyed after the lock is released
  std::lock_guard lock(mutex_);
  auto [it, inserted] = flights_.try_emplace(key);
  Entry& entry = it->second;
  if (!inserted) {
    if (!entry.expires_at || clock_.now() < *entry.expires_at) {
      entry.flight->joined_.fetch_add(1, std::memory_order_relaxed);
      return Ticket{entry.flight, false};
    }
    stale = std::move(entry.flight);
    entry.expires_at.reset();
  }
  entry.flight = std::make_shared<Flight>();
  return Ticket{entry.flight, true};
}

std::optional<FlightTable::Ticket> FlightTable::join_existing(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = flights_.find(key);
  if (it == flights_.end()) return std::nullopt;
  Entry& entry = it->second;
  if (entry.expires_at && clock_.now() >= *entry.expires_at) return std::nullopt;
  entry.flight->joined_.fetch_add(1, std::memory_order_relaxed);
  return Ticket{entry.flight, false};
}

bool FlightTable::land(const std::string& key, const std::shared_ptr<Flight>& flight, bool succeeded) {
  std::shared_ptr<Flight> landed;
  std::lock_guard lock(mutex_);
  auto it = flights_.find(key);
  if (it == flights_.end() || it->second.flight != flight) return false;
  if (it->second.expires_at) return true;
  if (succeeded && window_.count() > 0) {
    it->second.expires_at = clock_.now() + window_;
    return true;
  }
  landed = std::move(it->second.flight);
  flights_.erase(it);
  return false;
}

std::size_t FlightTable::purge_expired() {
  std::vector<std::shared_ptr<Flight>> expired;
  std::lock_guard lock(mutex_);
  const auto now = clock_.now();
  for (auto it = flights_.begin(); it != flights_.end();) {
    if (it->second.expires_at && *it->second.expires_at <= now) {
      expired.push_back(std::move(it->second.flight));
      it = flights_.erase(it);
    } else {
      ++it;
    }
  }
  return expired.size();
}

std::size_t FlightTable::size() const {
  std::lock_guard lock(mutex_);
  return flights_.size();
}

}  // namespace tollgate::core
