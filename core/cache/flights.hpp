// Flights: requests in flight by cache key, so identical requests share one upstream call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/cache/broadcast.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/headers.hpp"
#include "core/money/money.hpp"
#include "core/openai/usage.hpp"

namespace tollgate::core {

/// What a flight's leader got back, for its joiners to copy: a stream's head (status 200, which
/// deployment answers; the chunks follow in the broadcast), a buffered answer of any status, or
/// tollgate's own error.
struct FlightHead {
  int status = 200;
  std::string body;                     // a buffered answer; empty for a stream
  std::optional<GatewayError> failure;  // tollgate's own error (no chunks follow)
  Headers headers;                      // the leader's reply headers (x-tollgate-*, Retry-After…)
  std::string provider, upstream_model;
  std::optional<Usage> usage;           // a buffered answer's usage

  /// A failure another try may not repeat: tollgate's error or an upstream status of 408, 429 or
  /// 5xx. A 4xx says the request itself is wrong; repeating it gives the same answer.
  bool retryable() const noexcept;
};

/// One upstream call shared by a leader and its joiners. The leader sets the head once, then the
/// broadcast carries a stream's chunks and its end; a buffered answer or an error ends the
/// broadcast with no chunk. A joiner reads the broadcast: its first next() returns when the head
/// is known (a chunk: the stream started; the end: read head()), so head() never races the leader.
/// Thread-safe.
class Flight {
 public:
  Flight();
  Flight(const Flight&) = delete;
  Flight& operator=(const Flight&) = delete;

  Broadcast& broadcast() noexcept { return *broadcast_; }

  /// The leader: sets the head (before the first chunk or the end).
  void set_head(FlightHead head);
  /// The head, or nullopt when the leader went away before it had one.
  std::optional<FlightHead> head() const;

  /// What the upstream call cost (the leader's charge), once it is known: a buffered answer at
  /// once, a stream when it ends. 0 until then.
  void set_cost(Nanos cost) noexcept { cost_.store(cost, std::memory_order_release); }
  Nanos cost() const noexcept { return cost_.load(std::memory_order_acquire); }

  /// Requests that joined this flight (for tests and logs).
  std::size_t joined() const noexcept { return joined_.load(std::memory_order_relaxed); }

 private:
  friend class FlightTable;

  std::shared_ptr<Broadcast> broadcast_;
  mutable std::mutex mutex_;  // guards head_
  std::optional<FlightHead> head_;
  std::atomic<Nanos> cost_{0};
  std::atomic<std::size_t> joined_{0};
};

/// The flights by key: the first request for a key leads (calls upstream), the ones that arrive
/// while it is in flight join it. With a recent window, a flight that succeeded stays joinable for
/// that long after it landed (its answer is kept even when the response cache is off). Keys are
/// opaque: the caller puts in them everything that must match (the cache key, stream or not).
/// Thread-safe; one mutex, held for a hash lookup.
class FlightTable {
 public:
  /// `clock` must outlive the table.
  FlightTable(const Clock& clock, std::chrono::nanoseconds recent_window);

  struct Ticket {
    std::shared_ptr<Flight> flight;
    bool leader = false;
  };

  /// Joins the flight for `key` that is in flight or landed within the recent window, or starts
  /// one with the caller as its leader. A leader must call land() exactly once.
  Ticket join(const std::string& key);

  /// Joins the flight for `key` when there is one (in flight, or landed within the recent
  /// window); never starts one.
  std::optional<Ticket> join_existing(const std::string& key);

  /// The leader's flight is over: forgotten, or kept for the recent window when `succeeded`;
  /// returns whether it is kept. A flight that no longer owns `key` (never the case for a leader
  /// that lands once) is ignored. Once it has returned false nobody can join the flight any more,
  /// so Flight::joined() is final.
  bool land(const std::string& key, const std::shared_ptr<Flight>& flight, bool succeeded);

  /// Drops the landed flights whose window has passed; returns how many. O(flights).
  std::size_t purge_expired();

  /// Flights held: in flight and landed within the window.
  std::size_t size() const;

  /// Shared streams whose upstream is still being read by a task of its own (see DedupStage):
  /// shutdown waits for them, so that the ledger rows they hold are written.
  std::size_t pumping() const noexcept { return pumping_.load(std::memory_order_acquire); }
  void pump_started() noexcept { pumping_.fetch_add(1, std::memory_order_acq_rel); }
  void pump_ended() noexcept { pumping_.fetch_sub(1, std::memory_order_acq_rel); }

 private:
  struct Entry {
    std::shared_ptr<Flight> flight;
    std::optional<Clock::Steady::time_point> expires_at;  // set once landed (recent window)
  };

  const Clock& clock_;
  const std::chrono::nanoseconds window_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> flights_;
  std::atomic<std::size_t> pumping_{0};
};

}  // namespace tollgate::core
