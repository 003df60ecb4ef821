// Broadcast: late readers, 50 readers, fast and slow readers, failure, cancellation, readers
// destroyed while waiting, and a leader thread appending while readers run on 4 threads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/cache/broadcast.hpp"
#include "support/run.hpp"

using tollgate::core::Broadcast;
using tollgate::core::Chunk;
using tollgate::core::ChunkStream;
using tollgate::core::ErrorKind;
using tollgate::core::GatewayError;
using tollgate::core::make_error;
using tollgate::testing::pull_all;
using tollgate::testing::run;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Strings = std::vector<std::string>;

namespace {

Chunk chunk(std::size_t i) { return Chunk{"chunk-" + std::to_string(i), std::nullopt, false}; }

Strings sequence(std::size_t count) {
  Strings out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(chunk(i).data);
  return out;
}

Strings data_of(const std::vector<Chunk>& chunks) {
  Strings out;
  for (const Chunk& c : chunks) out.push_back(c.data);
  return out;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

/// What one reader saw, written only by its own coroutine and read after the io threads joined.
struct Seen {
  Strings data;
  std::optional<GatewayError> error;
  bool ended = false;
  Clock::time_point done_at{};
  std::size_t watched_at_done = 0;  // the value of the watched counter when this reader ended
};

/// Pulls `reader` to its end, adding each chunk to `count` when given; when `watch` is given,
/// notes its value at the end.
asio::awaitable<void> read_all(std::unique_ptr<ChunkStream> reader, Seen& seen,
                               const std::atomic<std::size_t>* watch, std::atomic<std::size_t>* count = nullptr) {
  for (;;) {
    auto next = co_await reader->next();
    if (!next) {
      seen.error = next.error();
      break;
    }
    if (!*next) {
      seen.ended = true;
      break;
    }
    seen.data.push_back(std::move((*next)->data));
    if (count != nullptr) ++*count;
  }
  seen.done_at = Clock::now();
  if (watch != nullptr) seen.watched_at_done = watch->load();
}

/// Pulls `reader` to its end, one chunk per `pace`, publishing how many chunks it has in `progress`.
asio::awaitable<void> read_slowly(std::unique_ptr<ChunkStream> reader, std::chrono::milliseconds pace, Seen& seen,
                                  std::atomic<std::size_t>& progress) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    auto next = co_await reader->next();
    if (!next) {
      seen.error = next.error();
      break;
    }
    if (!*next) {
      seen.ended = true;
      break;
    }
    seen.data.push_back(std::move((*next)->data));
    progress.store(seen.data.size());
    timer.expires_after(pace);
    co_await timer.async_wait(asio::use_awaitable);
  }
  seen.done_at = Clock::now();
}

/// The leader as a coroutine: appends `count` chunks, letting everything queued run in between;
/// notes the fewest readers found waiting before an append, and whether each reader had already
/// read every earlier chunk (live delivery, not only at the end).
asio::awaitable<void> lead(std::shared_ptr<Broadcast> broadcast, std::size_t count, const std::vector<Seen>& seen,
                           std::size_t& fewest_waiting, bool& in_step) {
  const auto executor = co_await asio::this_coro::executor;
  for (std::size_t i = 0; i < count; ++i) {
    fewest_waiting = std::min(fewest_waiting, broadcast->waiting());
    for (const Seen& s : seen) in_step = in_step && s.data.size() == i;
    broadcast->append(chunk(i));
    co_await asio::post(executor, asio::use_awaitable);
  }
  broadcast->finish();
}

/// Runs `io` on `threads` threads until it runs out of work. A lost wake-up would leave a reader
/// waiting forever: after 10 s the io_context is stopped and false returned, instead of hanging.
bool run_threads(asio::io_context& io, int threads) {
  std::mutex mutex;
  std::condition_variable all_done;
  int running = threads;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      io.run();
      std::lock_guard lock(mutex);
      if (--running == 0) all_done.notify_all();
    });
  }
  bool finished = false;
  {
    std::unique_lock lock(mutex);
    finished = all_done.wait_for(lock, 10s, [&] { return running == 0; });
  }
  if (!finished) io.stop();
  for (auto& thread : pool) thread.join();
  return finished;
}

/// Yields until `done` or 5 s passed; returns `done()`.
template <class Done>
bool spin_until(Done done) {
  const auto give_up = Clock::now() + 5s;
  while (!done() && Clock::now() < give_up) std::this_thread::yield();
  return done();
}

}  // namespace

TEST_CASE("broadcast: a reader created late gets every chunk from the start", "[broadcast]") {
  auto broadcast = std::make_shared<Broadcast>();
  CHECK(broadcast->size() == 0);
  CHECK_FALSE(broadcast->finished());

  SECTION("after the end") {
    for (std::size_t i = 0; i < 5; ++i) broadcast->append(chunk(i));
    broadcast->finish();
    CHECK(broadcast->size() == 5);
    CHECK(broadcast->finished());
    auto reader = broadcast->reader();
    const auto pulled = pull_all(*reader);
    CHECK(data_of(pulled.chunks) == sequence(5));
    CHECK_FALSE(pulled.error);
  }
  SECTION("in the middle: the chunks already sent, then the live ones") {
    asio::io_context io;
    broadcast->append(chunk(0));
    broadcast->append(chunk(1));
    auto reader = broadcast->reader();
    Seen seen;
    asio::co_spawn(io, read_all(std::move(reader), seen, nullptr), asio::detached);
    io.poll();
    CHECK(seen.data == sequence(2));
    CHECK(broadcast->waiting() == 1);
    broadcast->append(chunk(2));
    CHECK(broadcast->waiting() == 0);  // woken at once, even before it runs
    io.poll();
    CHECK(seen.data == sequence(3));
    CHECK(broadcast->waiting() == 1);
    broadcast->finish();
    io.run();
    CHECK(seen.data == sequence(3));
    CHECK(seen.ended);
    CHECK_FALSE(seen.error);
    CHECK(broadcast->waiting() == 0);
  }
  SECTION("each reader keeps its own place") {
    asio::io_context io;
    for (std::size_t i = 0; i < 3; ++i) broadcast->append(chunk(i));
    auto first = broadcast->reader();
    auto second = broadcast->reader();
    CHECK(run(io, first->next()).value()->data == "chunk-0");
    CHECK(run(io, first->next()).value()->data == "chunk-1");
    CHECK(run(io, second->next()).value()->data == "chunk-0");
    CHECK(run(io, first->next()).value()->data == "chunk-2");
    CHECK(run(io, second->next()).value()->data == "chunk-1");
  }
}

TEST_CASE("broadcast: ready() is true exactly when next() would not wait", "[broadcast]") {
  auto broadcast = std::make_shared<Broadcast>();
  asio::io_context io;
  auto reader = broadcast->reader();
  CHECK_FALSE(reader->ready());
  broadcast->append(chunk(0));
  CHECK(reader->ready());
  broadcast->append(chunk(1));
  CHECK(run(io, reader->next()).value()->data == "chunk-0");
  CHECK(reader->ready());
  CHECK(run(io, reader->next()).value()->data == "chunk-1");
  CHECK_FALSE(reader->ready());
  broadcast->finish();
  CHECK(reader->ready());  // the end is available at once too
  CHECK_FALSE(run(io, reader->next()).value().has_value());
}

TEST_CASE("broadcast: chunks keep their usage fields", "[broadcast]") {
  auto broadcast = std::make_shared<Broadcast>();
  tollgate::core::Usage usage;
  usage.prompt_tokens = 7;
  usage.completion_tokens = 11;
  broadcast->append(Chunk{R"({"choices":[]})", usage, true});
  broadcast->finish();
  auto reader = broadcast->reader();
  const auto pulled = pull_all(*reader);
  REQUIRE(pulled.chunks.size() == 1);
  CHECK(pulled.chunks[0].data == R"({"choices":[]})");
  REQUIRE(pulled.chunks[0].usage.has_value());
  CHECK(pulled.chunks[0].usage->prompt_tokens == 7);
  CHECK(pulled.chunks[0].usage->completion_tokens == 11);
  CHECK(pulled.chunks[0].usage_only);
}

TEST_CASE("broadcast: 50 readers each get the whole sequence in order", "[broadcast]") {
  constexpr std::size_t kReaders = 50;
  constexpr std::size_t kChunks = 200;
  auto broadcast = std::make_shared<Broadcast>();
  asio::io_context io;
  std::vector<Seen> seen(kReaders);
  for (std::size_t r = 0; r < kReaders; ++r) {
    asio::co_spawn(io, read_all(broadcast->reader(), seen[r], nullptr), asio::detached);
  }
  io.poll();
  REQUIRE(broadcast->waiting() == kReaders);  // all caught up with an empty buffer

  std::size_t fewest_waiting = kReaders + 1;
  bool in_step = true;
  asio::co_spawn(io, lead(broadcast, kChunks, seen, fewest_waiting, in_step), asio::detached);
  io.run();

  CHECK(in_step);
  // Every append found all 50 readers waiting: each one had read the previous chunk and parked.
  CHECK(fewest_waiting == kReaders);
  CHECK(broadcast->waiting() == 0);
  for (const Seen& s : seen) {
    CHECK(s.data == sequence(kChunks));
    CHECK(s.ended);
    CHECK_FALSE(s.error);
  }
}

TEST_CASE("broadcast: a slow or idle reader delays neither the leader nor the fast readers", "[broadcast]") {
  constexpr std::size_t kChunks = 60;
  constexpr std::size_t kFast = 4;
  constexpr auto kPace = 10ms;
  auto broadcast = std::make_shared<Broadcast>();
  asio::io_context io;
  std::vector<Seen> fast(kFast);
  Seen slow;
  std::atomic<std::size_t> slow_progress{0};
  std::atomic<std::size_t> fast_read{0};  // chunks read by all fast readers together
  auto idle = broadcast->reader();  // never read until the end

  asio::co_spawn(asio::make_strand(io), read_slowly(broadcast->reader(), kPace, slow, slow_progress), asio::detached);
  for (std::size_t r = 0; r < kFast; ++r) {
    asio::co_spawn(asio::make_strand(io), read_all(broadcast->reader(), fast[r], &slow_progress, &fast_read), asio::detached);
  }

  // The leader runs on its own thread; io runs on 4 others. Only this thread asserts.
  Clock::duration slowest_append{};
  Clock::duration appending{};  // the leader's time inside append(), all chunks together
  Clock::time_point lead_start{};
  Clock::time_point last_append{};
  std::size_t slow_at_finish = 0;
  bool readers_parked = true;
  std::thread leader([&] {
    lead_start = Clock::now();
    for (std::size_t i = 0; i < kChunks; ++i) {
      // Paced by the fast readers only (each has read every earlier chunk, live, and waits again),
      // never by the slow one.
      readers_parked = readers_parked && spin_until([&] {
                         return fast_read.load() == kFast * i && broadcast->waiting() >= kFast;
                       });
      const auto before = Clock::now();
      broadcast->append(chunk(i));
      const auto took = Clock::now() - before;
      slowest_append = std::max(slowest_append, took);
      appending += took;
    }
    last_append = Clock::now();
    broadcast->finish();
    slow_at_finish = slow_progress.load();
  });
  const bool ran = run_threads(io, 4);
  leader.join();
  REQUIRE(ran);

  CHECK(readers_parked);
  const auto leader_time = last_append - lead_start;
  Clock::time_point last_fast_done{};
  std::size_t slow_at_fast_done = 0;
  for (const Seen& s : fast) {
    CHECK(s.data == sequence(kChunks));
    CHECK(s.ended);
    last_fast_done = std::max(last_fast_done, s.done_at);
    slow_at_fast_done = std::max(slow_at_fast_done, s.watched_at_done);
  }
  INFO("leader " << ms(leader_time) << " ms, appending " << ms(appending) << " ms, slowest append " << ms(slowest_append) << " ms, fast readers done "
                 << ms(last_fast_done - last_append) << " ms after the last append; slow reader at chunk "
                 << slow_at_fast_done);
  // The slow reader needs kChunks * kPace = 600 ms; the leader and the fast readers are done well
  // before it (unloaded: leader ~3 ms in all, an append ~0.2 ms, fast readers done ~0.05 ms after
  // the last append, slow reader at chunk 1; the bounds leave room for a machine busy compiling,
  // where pacing on the fast readers alone took ~4 ms a chunk).
  CHECK(appending < 50ms);
  CHECK(slowest_append < 20ms);
  CHECK(last_fast_done - last_append < 50ms);
  CHECK(slow_at_finish < kChunks * 3 / 4);
  CHECK(slow_at_fast_done < kChunks * 3 / 4);
  // And the slow one still gets everything, at its own pace.
  CHECK(slow.data == sequence(kChunks));
  CHECK(slow.ended);
  CHECK(slow.done_at > last_fast_done);
  // The idle reader lost nothing by waiting to be read.
  CHECK(data_of(pull_all(*idle).chunks) == sequence(kChunks));
}

TEST_CASE("broadcast: fail() after 3 chunks gives each reader 3 chunks then the error", "[broadcast]") {
  constexpr std::size_t kReaders = 6;
  auto broadcast = std::make_shared<Broadcast>();
  asio::io_context io;
  std::vector<Seen> seen(kReaders);
  for (std::size_t r = 0; r < kReaders; ++r) {
    asio::co_spawn(asio::make_strand(io), read_all(broadcast->reader(), seen[r], nullptr), asio::detached);
  }
  std::thread leader([&broadcast] {
    for (std::size_t i = 0; i < 3; ++i) broadcast->append(chunk(i));
    broadcast->fail(make_error(ErrorKind::kUpstreamError, "upstream reset the stream"));
    // The first end wins.
    broadcast->finish();
    broadcast->fail(make_error(ErrorKind::kInternal, "late"));
  });
  const bool ran = run_threads(io, 4);
  leader.join();
  REQUIRE(ran);

  for (const Seen& s : seen) {
    CHECK(s.data == sequence(3));
    CHECK_FALSE(s.ended);
    REQUIRE(s.error.has_value());
    CHECK(s.error->kind == ErrorKind::kUpstreamError);
    CHECK(s.error->message == "upstream reset the stream");
  }
  SECTION("a reader created after the failure gets the same, and the error again on every call") {
    auto late = broadcast->reader();
    const auto pulled = pull_all(*late);
    CHECK(data_of(pulled.chunks) == sequence(3));
    REQUIRE(pulled.error.has_value());
    CHECK(pulled.error->kind == ErrorKind::kUpstreamError);
    auto again = run(late->next());
    REQUIRE(again.has_error());
    CHECK(again.error().message == "upstream reset the stream");
  }
}

TEST_CASE("broadcast: a reader destroyed while waiting leaves nothing behind", "[broadcast]") {
  auto broadcast = std::make_shared<Broadcast>();
  broadcast->append(chunk(0));
  Seen doomed_seen;
  auto doomed = std::make_unique<asio::io_context>();
  asio::co_spawn(*doomed, read_all(broadcast->reader(), doomed_seen, nullptr), asio::detached);
  doomed->poll();
  REQUIRE(doomed_seen.data == sequence(1));
  REQUIRE(broadcast->waiting() == 1);
  const long owners_with_reader = broadcast.use_count();
  CHECK(owners_with_reader == 2);

  asio::io_context survivor;
  Seen survivor_seen;
  asio::co_spawn(survivor, read_all(broadcast->reader(), survivor_seen, nullptr), asio::detached);
  survivor.poll();
  REQUIRE(broadcast->waiting() == 2);

  SECTION("while waiting") {
    doomed.reset();
    CHECK(broadcast->waiting() == 1);
  }
  SECTION("after it was woken, before it resumed") {
    broadcast->append(chunk(1));
    CHECK(broadcast->waiting() == 0);
    doomed.reset();
  }
  CHECK(broadcast.use_count() == 2);  // the reader and its frame released the buffer: this and the survivor
  if (broadcast->size() < 2) broadcast->append(chunk(1));
  broadcast->finish();
  survivor.run();
  CHECK(survivor_seen.data == sequence(2));
  CHECK(survivor_seen.ended);
  CHECK(broadcast->waiting() == 0);
  CHECK(doomed_seen.data == sequence(1));
  CHECK_FALSE(doomed_seen.ended);
}

TEST_CASE("broadcast: a cancelled wait returns a timeout and the reader keeps its place", "[broadcast]") {
  auto broadcast = std::make_shared<Broadcast>();
  broadcast->append(chunk(0));
  auto reader = broadcast->reader();
  asio::io_context io;
  REQUIRE(run(io, reader->next()).value()->data == "chunk-0");

  asio::cancellation_signal signal;
  std::optional<tollgate::core::Result<std::optional<Chunk>>> result;
  std::exception_ptr error;
  asio::co_spawn(io, reader->next(),
                 asio::bind_cancellation_slot(signal.slot(),
                                              [&](std::exception_ptr e, tollgate::core::Result<std::optional<Chunk>> r) {
                                                error = e;
                                                result = std::move(r);
                                              }));
  io.restart();  // run() left it out of work, hence stopped
  io.poll();
  REQUIRE(broadcast->waiting() == 1);
  signal.emit(asio::cancellation_type::terminal);
  io.run();
  CHECK(error == nullptr);
  REQUIRE(result.has_value());
  REQUIRE(result->has_error());
  CHECK(result->error().kind == ErrorKind::kUpstreamTimeout);
  CHECK(broadcast->waiting() == 0);

  broadcast->append(chunk(1));
  broadcast->finish();
  const auto rest = pull_all(io, *reader);
  CHECK(data_of(rest.chunks) == Strings{"chunk-1"});
  CHECK_FALSE(rest.error);
}

TEST_CASE("broadcast: one thread appends while readers run on 4 threads", "[broadcast]") {
  constexpr std::size_t kReaders = 8;
  constexpr std::size_t kChunks = 2000;
  auto broadcast = std::make_shared<Broadcast>();
  asio::io_context io;
  std::vector<Seen> seen(kReaders);
  for (std::size_t r = 0; r < kReaders; ++r) {
    // Half on strands, half straight on the multi-threaded io_context: both must work.
    if (r % 2 == 0) {
      asio::co_spawn(asio::make_strand(io), read_all(broadcast->reader(), seen[r], nullptr), asio::detached);
    } else {
      asio::co_spawn(io, read_all(broadcast->reader(), seen[r], nullptr), asio::detached);
    }
  }
  std::atomic<std::size_t> max_waiting{0};
  std::thread leader([&broadcast, &max_waiting] {
    for (std::size_t i = 0; i < kChunks; ++i) {
      max_waiting = std::max(max_waiting.load(), broadcast->waiting());
      broadcast->append(chunk(i));
      if (i % 100 == 0) std::this_thread::yield();  // let readers catch up and park now and then
    }
    broadcast->finish();
  });
  const bool ran = run_threads(io, 4);
  leader.join();
  REQUIRE(ran);

  CHECK(max_waiting > 0);  // the wake-up path was exercised, not only buffered reads
  CHECK(broadcast->waiting() == 0);
  CHECK(broadcast->size() == kChunks);
  const Strings expected = sequence(kChunks);
  for (const Seen& s : seen) {
    CHECK(s.data == expected);
    CHECK(s.ended);
    CHECK_FALSE(s.error);
  }
}
