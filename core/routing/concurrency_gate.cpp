// ConcurrencyGate: slot counting, per-tenant round-robin queues, and waits that survive any thread.
#include "core/routing/concurrency_gate.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

namespace tollgate::core {

// A granted waiter is woken by setting its timer's expiry to the past: that completes a wait in
// progress and makes a wait not yet started complete at once. Every operation on the timer from
// outside its coroutine (grant) and the start of its wait both happen under the gate's mutex, so
// they never overlap, whatever thread each runs on and whatever executor the coroutine uses.
struct ConcurrencyGate::Waiter {
  Waiter(ConcurrencyGate& owner, boost::asio::any_io_executor executor)
      : gate(owner), timer(std::move(executor)) {}
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  // The RAII guard for a coroutine frame destroyed while suspended.
  ~Waiter() {
    if (!settled) gate.abandon(*this);
  }

  ConcurrencyGate& gate;
  boost::asio::steady_timer timer;
  Turns::iterator queue;                  // valid while linked
  std::list<Waiter*>::iterator position;  // valid while linked
  bool linked = false;                    // in a tenant queue (mutex_)
  bool granted = false;                   // holds a handed-over slot not yet taken (mutex_)
  bool settled = false;                   // finish_wait ran (the coroutine's own flag)
};

struct ConcurrencyGate::StartWait {
  ConcurrencyGate* gate;
  Waiter* waiter;

  template <class Handler>
  void operator()(Handler&& handler) const {
    // async_wait only registers the handler (asio never calls it from the initiating function).
    std::lock_guard lock(gate->mutex_);
    waiter->timer.async_wait(std::forward<Handler>(handler));
  }
};

ConcurrencyGate::ConcurrencyGate(int capacity) : capacity_(capacity) {}

bool ConcurrencyGate::take_free_locked() noexcept {
  if (capacity_ > 0 && (in_flight_ >= capacity_ || !turns_.empty())) return false;
  ++in_flight_;
  return true;
}

ConcurrencyGate::Slot ConcurrencyGate::try_acquire() {
  std::lock_guard lock(mutex_);
  return take_free_locked() ? Slot(this) : Slot();
}

boost::asio::awaitable<ConcurrencyGate::Slot> ConcurrencyGate::acquire(std::string tenant,
                                                                       std::chrono::milliseconds timeout) {
  if (Slot slot = try_acquire()) co_return std::move(slot);
  if (timeout <= std::chrono::milliseconds::zero()) co_return Slot();
  // A cancellation requested before the wait starts would never reach the timer's handler.
  const boost::asio::cancellation_state cancellation = co_await boost::asio::this_coro::cancellation_state;
  if (cancellation.cancelled() != boost::asio::cancellation_type::none) co_return Slot();

  Waiter waiter(*this, co_await boost::asio::this_coro::executor);
  // Set before the waiter is visible to other threads: afterwards only grants touch the timer.
  waiter.timer.expires_after(timeout);
  if (enqueue_or_take(waiter, std::move(tenant))) {
    waiter.settled = true;
    co_return Slot(this);
  }
  boost::system::error_code ec;
  auto token = boost::asio::redirect_error(boost::asio::use_awaitable, ec);
  co_await boost::asio::async_initiate<decltype(token), void(boost::system::error_code)>(
      StartWait{this, &waiter}, token);
  // Expiry, a grant and cancellation all end up here; the granted flag alone decides.
  co_return finish_wait(waiter);
}

bool ConcurrencyGate::enqueue_or_take(Waiter& waiter, std::string tenant) {
  std::lock_guard lock(mutex_);
  // A slot may have been freed since try_acquire.
  if (take_free_locked()) return true;
  auto found = by_tenant_.find(tenant);
  Turns::iterator queue;
  if (found != by_tenant_.end()) {
    queue = found->second;
  } else {
    queue = turns_.insert(turns_.end(), TenantQueue{std::move(tenant), {}});
    by_tenant_.emplace(queue->tenant, queue);
  }
  waiter.queue = queue;
  waiter.position = queue->waiters.insert(queue->waiters.end(), &waiter);
  waiter.linked = true;
  ++queued_;
  return false;
}

void ConcurrencyGate::unlink_locked(Waiter& waiter) noexcept {
  const Turns::iterator queue = waiter.queue;
  queue->waiters.erase(waiter.position);
  waiter.linked = false;
  --queued_;
  if (queue->waiters.empty()) {
    by_tenant_.erase(queue->tenant);
    turns_.erase(queue);
  }
}

void ConcurrencyGate::release() noexcept {
  std::lock_guard lock(mutex_);
  release_locked();
}

void ConcurrencyGate::release_locked() noexcept {
  if (turns_.empty()) {
    --in_flight_;
    return;
  }
  const Turns::iterator queue = turns_.begin();
  Waiter& next = *queue->waiters.front();
  // The tenant's turn is used: it goes to the back of the round (or leaves it when done), and the
  // slot passes to `next` without ever being free, so in_flight_ does not change.
  if (queue->waiters.size() > 1) turns_.splice(turns_.end(), turns_, queue);
  unlink_locked(next);
  next.granted = true;
  // Cancels a wait in progress (operation_aborted) and completes a later one at once; asio posts
  // the completion to the waiter's executor and never runs it here.
  next.timer.expires_at(boost::asio::steady_timer::time_point::min());
}

ConcurrencyGate::Slot ConcurrencyGate::finish_wait(Waiter& waiter) {
  waiter.settled = true;
  std::lock_guard lock(mutex_);
  if (waiter.granted) {
    waiter.granted = false;
    return Slot(this);
  }
  if (waiter.linked) unlink_locked(waiter);
  return Slot();
}

void ConcurrencyGate::abandon(Waiter& waiter) noexcept {
  std::lock_guard lock(mutex_);
  if (waiter.linked) {
    unlink_locked(waiter);
  } else if (waiter.granted) {
    waiter.granted = false;
    release_locked();
  }
}

int ConcurrencyGate::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

int ConcurrencyGate::queued() const {
  std::lock_guard lock(mutex_);
  return queued_;
}

}  // namespace tollgate::core
