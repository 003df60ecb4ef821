// Broadcast: a growing chunk buffer, readers that each keep their own place, and wake-ups across threads.
#include "core/cache/broadcast.hpp"

#include <cassert>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

namespace tollgate::core {

// The technique of ConcurrencyGate: a waiting reader is woken by setting its timer's expiry to the
// past, which completes a wait in progress and makes a wait not yet started complete at once.
// Waking (under mutex_) and starting the wait (under mutex_, in StartWait) never overlap, whatever
// thread the leader runs on and whatever executor the reader's coroutine uses.
struct Broadcast::Waiter {
  Waiter(Broadcast& owner, boost::asio::any_io_executor executor)
      : broadcast(owner), timer(std::move(executor), boost::asio::steady_timer::time_point::max()) {}
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  // The RAII guard for a coroutine frame destroyed while suspended: the leader must not touch a
  // timer that is gone.
  ~Waiter() {
    if (!settled) broadcast.finish_wait(*this);
  }

  Broadcast& broadcast;
  boost::asio::steady_timer timer;
  std::list<Waiter*>::iterator position;  // valid while linked
  bool linked = false;                    // in waiters_ (mutex_)
  bool settled = false;                   // finish_wait ran (the coroutine's own flag)
};

struct Broadcast::StartWait {
  Broadcast* broadcast;
  Waiter* waiter;

  template <class Handler>
  void operator()(Handler&& handler) const {
    // async_wait only registers the handler (asio never calls it from the initiating function).
    std::lock_guard lock(broadcast->mutex_);
    waiter->timer.async_wait(std::forward<Handler>(handler));
  }
};

/// One reader's place in the buffer. Pulled by one consumer on one strand.
class Broadcast::Reader final : public ChunkStream {
 public:
  explicit Reader(std::shared_ptr<Broadcast> broadcast) : broadcast_(std::move(broadcast)) {
    broadcast_->readers_.fetch_add(1, std::memory_order_acq_rel);
  }
  ~Reader() override { broadcast_->readers_.fetch_sub(1, std::memory_order_acq_rel); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  boost::asio::awaitable<Result<std::optional<Chunk>>> next() override;
  bool ready() const noexcept override;

 private:
  std::shared_ptr<Broadcast> broadcast_;
  std::size_t position_ = 0;  // the index of the next chunk to return
};

namespace {

GatewayError cancelled_read() {
  // Only a deadline (an idle timeout raced against next()) or a shutdown cancels a read.
  return make_error(ErrorKind::kUpstreamTimeout, "stopped waiting for the next chunk of the shared stream");
}

}  // namespace

boost::asio::awaitable<Result<std::optional<Chunk>>> Broadcast::Reader::next() {
  Broadcast& broadcast = *broadcast_;
  Look look = broadcast.look(position_, nullptr);
  if (look.must_wait()) {
    // A cancellation requested before the wait starts would never reach the timer's handler.
    const boost::asio::cancellation_state cancellation = co_await boost::asio::this_coro::cancellation_state;
    if (cancellation.cancelled() != boost::asio::cancellation_type::none) co_return cancelled_read();

    Waiter waiter(broadcast, co_await boost::asio::this_coro::executor);
    look = broadcast.look(position_, &waiter);
    if (look.must_wait()) {
      boost::system::error_code ec;
      auto token = boost::asio::redirect_error(boost::asio::use_awaitable, ec);
      co_await boost::asio::async_initiate<decltype(token), void(boost::system::error_code)>(
          StartWait{&broadcast, &waiter}, token);
      // A wake-up and a cancellation both end the wait with operation_aborted; the buffer decides.
      broadcast.finish_wait(waiter);
      look = broadcast.look(position_, nullptr);
      if (look.must_wait()) co_return cancelled_read();
    } else {
      waiter.settled = true;
    }
  }
  if (look.chunk != nullptr) {
    ++position_;
    co_return std::optional<Chunk>(*look.chunk);
  }
  if (look.error) co_return *look.error;
  co_return std::nullopt;
}

bool Broadcast::Reader::ready() const noexcept {
  std::lock_guard lock(broadcast_->mutex_);
  return position_ < broadcast_->chunks_.size() || broadcast_->ended_;
}

void Broadcast::append(Chunk chunk) {
  std::lock_guard lock(mutex_);
  assert(!ended_ && "Broadcast::append after finish() or fail()");
  if (ended_) return;
  chunks_.push_back(std::move(chunk));
  wake_all_locked();
}

void Broadcast::finish() {
  std::lock_guard lock(mutex_);
  if (ended_) return;
  ended_ = true;
  wake_all_locked();
}

void Broadcast::fail(GatewayError error) {
  std::lock_guard lock(mutex_);
  if (ended_) return;
  ended_ = true;
  error_ = std::move(error);
  wake_all_locked();
}

std::unique_ptr<ChunkStream> Broadcast::reader() { return std::make_unique<Reader>(shared_from_this()); }

std::size_t Broadcast::size() const {
  std::lock_guard lock(mutex_);
  return chunks_.size();
}

bool Broadcast::finished() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

std::size_t Broadcast::waiting() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

Broadcast::Look Broadcast::look(std::size_t position, Waiter* waiter) {
  std::lock_guard lock(mutex_);
  Look look = look_locked(position);
  if (look.must_wait() && waiter != nullptr) {
    waiter->position = waiters_.insert(waiters_.end(), waiter);
    waiter->linked = true;
  }
  return look;
}

Broadcast::Look Broadcast::look_locked(std::size_t position) const {
  Look look;
  if (position < chunks_.size()) {
    look.chunk = &chunks_[position];
  } else if (ended_) {
    look.ended = true;
    look.error = error_;
  }
  return look;
}

void Broadcast::wake_all_locked() noexcept {
  for (Waiter* waiter : waiters_) {
    waiter->linked = false;
    // Cancels a wait in progress (operation_aborted) and completes a later one at once; asio posts
    // the completion to the reader's executor and never runs it here, so the leader never waits.
    waiter->timer.expires_at(boost::asio::steady_timer::time_point::min());
  }
  waiters_.clear();
}

void Broadcast::finish_wait(Waiter& waiter) noexcept {
  waiter.settled = true;
  std::lock_guard lock(mutex_);
  if (waiter.linked) {
    waiters_.erase(waiter.position);
    waiter.linked = false;
  }
}

}  // namespace tollgate::core
