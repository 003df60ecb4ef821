// Broadcast: one upstream stream's chunks, appended by its leader and read by any number of readers.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>

#include "core/error.hpp"
#include "core/pipeline/chunk_stream.hpp"

namespace tollgate::core {

/// The chunks of one upstream stream, appended by its leader and read by any number of readers,
/// each from the start at its own pace. Thread-safe. Chunks are kept until the buffer is
/// destroyed (a stream is bounded; the cache will keep the transcript anyway).
///
/// The leader (append, finish, fail) may call from any thread; it never waits for a reader: an
/// append stores the chunk and wakes the readers that have caught up, whatever their pace. Each
/// reader is a ChunkStream pulled by one consumer on one strand; different readers may run on
/// different executors and threads. One small mutex guards the buffer; it is never held across a
/// suspension, a handler call or a chunk copy.
///
/// Create it with std::make_shared (reader() needs shared_from_this). Every reader keeps the
/// buffer alive. The leader must end the stream with finish() or fail() (say from its own
/// destructor when it is dropped): until then a reader that has caught up waits.
class Broadcast : public std::enable_shared_from_this<Broadcast> {
 public:
  Broadcast() = default;
  Broadcast(const Broadcast&) = delete;
  Broadcast& operator=(const Broadcast&) = delete;

  /// The leader: one more chunk; wakes waiting readers. Appending after the end is a bug (asserts;
  /// ignored in a release build).
  void append(Chunk chunk);
  /// Clean end: each reader's next() returns nullopt after the last chunk. The first end wins:
  /// finish() or fail() after the end does nothing.
  void finish();
  /// The upstream failed: each reader's next() returns `error` after the chunks, every time it is
  /// called from then on. The first end wins.
  void fail(GatewayError error);

  /// A ChunkStream reading from the first chunk; next() suspends while the reader has caught up
  /// and the stream is not finished. ready() is true when next() completes without waiting: a
  /// chunk is available, or the stream has ended. next() may run on any executor; when its wait is
  /// cancelled (asio per-operation cancellation, or a cancellation already requested) it returns
  /// kUpstreamTimeout and the reader keeps its place, so a later next() resumes where it was. The
  /// reader must outlive a next() in progress; destroying the coroutine that waits in next() (its
  /// io_context destroyed) is safe and leaves nothing behind.
  std::unique_ptr<ChunkStream> reader();

  /// Chunks appended so far.
  std::size_t size() const;
  /// True once finish() or fail() was called (no chunk will follow).
  bool finished() const;
  /// Readers suspended in next() waiting for the leader (for tests and metrics).
  std::size_t waiting() const;
  /// Readers alive now: a leader that reads its upstream for readers stops when none is left.
  std::size_t readers() const noexcept { return readers_.load(std::memory_order_acquire); }

 private:
  class Reader;
  struct Waiter;     // one next() that waits; lives in its coroutine frame
  struct StartWait;  // the initiation of a waiter's timer wait

  /// What a reader at `position` gets now. `chunk` points into chunks_, whose elements never move
  /// nor change once appended, so the reader copies it outside the mutex.
  struct Look {
    const Chunk* chunk = nullptr;
    bool ended = false;
    std::optional<GatewayError> error;  // with ended: the stream failed
    bool must_wait() const noexcept { return chunk == nullptr && !ended; }
  };

  /// Under the mutex: what a reader at `position` gets now; when it must wait and `waiter` is
  /// given, links the waiter so that the next append or end wakes it.
  Look look(std::size_t position, Waiter* waiter);
  Look look_locked(std::size_t position) const;
  /// Wakes and unlinks every waiter; the caller holds mutex_.
  void wake_all_locked() noexcept;
  /// After the wait: unlinks the waiter if nobody woke it (its wait was cancelled).
  void finish_wait(Waiter& waiter) noexcept;

  mutable std::mutex mutex_;
  std::deque<Chunk> chunks_;  // a deque: push_back never moves the chunks readers point at
  bool ended_ = false;
  std::optional<GatewayError> error_;
  std::list<Waiter*> waiters_;
  std::atomic<std::size_t> readers_{0};
};

}  // namespace tollgate::core
