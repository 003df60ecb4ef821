// ConcurrencyGate: a deployment's max_concurrency, with a fair (per virtual key) wait queue.
#pragma once

#include <chrono>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <boost/asio/awaitable.hpp>

namespace tollgate::core {

/// Bounds the requests in flight on one deployment. capacity <= 0: unlimited (acquire never waits;
/// slots are still counted by in_flight()).
///
/// Waiters queue per tenant (the virtual key id; "" for anonymous); a freed slot goes straight to
/// the next tenant in round-robin order among the tenants that wait, each tenant's own waiters
/// FIFO, so one key sending 1000 requests cannot starve another sending 1. While anyone waits, a
/// slot is never free: try_acquire cannot jump the queue.
///
/// Thread-safe: acquire, try_acquire and slot releases may come from any thread or strand, and a
/// waiting coroutine may run on any executor (a strand, or an io_context run by several threads).
/// One small mutex guards the queues; it is never held across a suspension or a handler call.
/// The gate must outlive every Slot and every acquire() in progress.
class ConcurrencyGate {
 public:
  explicit ConcurrencyGate(int capacity);
  ConcurrencyGate(const ConcurrencyGate&) = delete;
  ConcurrencyGate& operator=(const ConcurrencyGate&) = delete;

  /// A held slot. Move-only; releasing it (destructor or reset()) hands the slot to the next waiter,
  /// or frees it when nobody waits. An empty Slot (default, moved-from, refused) releases nothing.
  class Slot {
   public:
    Slot() noexcept = default;
    Slot(Slot&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        reset();
        gate_ = std::exchange(other.gate_, nullptr);
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { reset(); }

    /// Releases the slot now (no effect on an empty Slot).
    void reset() noexcept {
      if (ConcurrencyGate* gate = std::exchange(gate_, nullptr)) gate->release();
    }
    explicit operator bool() const noexcept { return gate_ != nullptr; }

   private:
    friend class ConcurrencyGate;
    explicit Slot(ConcurrencyGate* gate) noexcept : gate_(gate) {}
    ConcurrencyGate* gate_ = nullptr;
  };

  /// A slot at once when one is free and nobody waits; else an empty Slot.
  Slot try_acquire();

  /// Waits at most `timeout` for a slot (<= 0: only tries) and returns it, or an empty Slot on
  /// timeout. Call it from a coroutine on any executor; the slot may be handed over from another
  /// thread. The coroutine may be destroyed while waiting (its io_context stopped and destroyed,
  /// the request dropped): its place in the queue is then given up, and a slot already granted to
  /// it is passed on, never leaked. Cancellation of the awaiting operation (asio per-operation
  /// cancellation, or a cancellation already requested when the wait would start) counts like a
  /// timeout, unless a slot was granted first: then the slot is returned.
  boost::asio::awaitable<Slot> acquire(std::string tenant, std::chrono::milliseconds timeout);

  int capacity() const noexcept { return capacity_; }
  /// Slots held, including slots handed to a waiter that has not resumed yet.
  int in_flight() const;
  /// Callers waiting for a slot.
  int queued() const;

 private:
  struct Waiter;     // one acquire() that waits; lives in its coroutine frame
  struct StartWait;  // the initiation of a waiter's timer wait
  struct TenantQueue {
    std::string tenant;
    std::list<Waiter*> waiters;  // FIFO
  };
  using Turns = std::list<TenantQueue>;

  /// Takes a slot if one is free and nobody waits; the caller holds mutex_.
  bool take_free_locked() noexcept;
  /// Returns a held slot: to the next waiter in turn, else to the free pool.
  void release() noexcept;
  void release_locked() noexcept;
  /// Queues `waiter` behind its tenant's earlier waiters, or takes a slot when one became free.
  bool enqueue_or_take(Waiter& waiter, std::string tenant);
  /// After the wait: the granted slot, or an empty Slot (the waiter leaves the queue).
  Slot finish_wait(Waiter& waiter);
  /// The coroutine frame holding `waiter` is being destroyed before finish_wait.
  void abandon(Waiter& waiter) noexcept;
  void unlink_locked(Waiter& waiter) noexcept;

  const int capacity_;

  mutable std::mutex mutex_;
  int in_flight_ = 0;
  int queued_ = 0;
  Turns turns_;  // tenants with waiters; the front one is served next, then goes to the back
  std::unordered_map<std::string_view, Turns::iterator> by_tenant_;  // keys view TenantQueue::tenant
};

}  // namespace tollgate::core
