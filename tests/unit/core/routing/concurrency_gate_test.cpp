// ConcurrencyGate: capacity under threads, FIFO per tenant, round-robin across tenants, timeouts,
// cancellation, waiters destroyed with their io_context, unlimited capacity and Slot moves.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include "core/routing/concurrency_gate.hpp"
#include "support/run.hpp"

using tollgate::core::ConcurrencyGate;
using tollgate::testing::run;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

using Slot = ConcurrencyGate::Slot;
using Order = std::vector<std::string>;

// Waits for a slot, then records `name` (or that it timed out) and lets the slot go.
asio::awaitable<void> take_and_record(ConcurrencyGate& gate, std::string tenant, std::string name, Order& order) {
  Slot slot = co_await gate.acquire(std::move(tenant), 10s);
  order.push_back(slot ? name : name + " timed out");
}

asio::awaitable<bool> got_slot(ConcurrencyGate& gate, std::string tenant, std::chrono::milliseconds timeout) {
  Slot slot = co_await gate.acquire(std::move(tenant), timeout);
  co_return static_cast<bool>(slot);
}

// Waits until cancelled, then asks for a slot with that cancellation still requested (and not
// thrown: this coroutine turns throw_if_cancelled off).
asio::awaitable<bool> got_slot_after_cancellation(ConcurrencyGate& gate, std::string tenant,
                                                  std::chrono::milliseconds timeout) {
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer forever(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
  boost::system::error_code ec;
  co_await forever.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return co_await got_slot(gate, std::move(tenant), timeout);
}

// Queues one waiter per name (tenant = the name's first letter) on `io`, in this order, and runs
// each until it waits.
void queue_waiters(asio::io_context& io, ConcurrencyGate& gate, const Order& names, Order& order) {
  for (const std::string& name : names) {
    asio::co_spawn(io, take_and_record(gate, name.substr(0, 1), name, order), asio::detached);
  }
  io.poll();
}

// The order in which waiters queued as `names` get a slot that is held while they queue.
Order service_order(const Order& names) {
  ConcurrencyGate gate(1);
  Slot held = gate.try_acquire();
  REQUIRE(held);
  asio::io_context io;
  Order order;
  queue_waiters(io, gate, names, order);
  REQUIRE(gate.queued() == static_cast<int>(names.size()));
  REQUIRE(order.empty());
  held.reset();
  io.run();
  CHECK(gate.in_flight() == 0);
  CHECK(gate.queued() == 0);
  return order;
}

struct ChurnStats {
  std::atomic<int> current{0};
  std::atomic<int> max_seen{0};
  std::atomic<int> acquired{0};
  std::atomic<int> refused{0};
  std::atomic<int> gate_over_capacity{0};
  std::atomic<int> saw_queue{0};  // times a holder saw others waiting: the wait path was used

  void note_in_flight(int now) {
    int seen = max_seen.load();
    while (now > seen && !max_seen.compare_exchange_weak(seen, now)) {
    }
  }
};

// `rounds` times: wait for a slot, hold it across a suspension (so others queue), release it.
asio::awaitable<void> churn(ConcurrencyGate& gate, std::string tenant, int rounds, ChurnStats& stats) {
  const auto executor = co_await asio::this_coro::executor;
  for (int i = 0; i < rounds; ++i) {
    Slot slot = co_await gate.acquire(tenant, 20s);
    if (!slot) {
      ++stats.refused;
      continue;
    }
    ++stats.acquired;
    stats.note_in_flight(++stats.current);
    if (gate.in_flight() > gate.capacity()) ++stats.gate_over_capacity;
    if (gate.queued() > 0) ++stats.saw_queue;
    co_await asio::post(executor, asio::use_awaitable);
    --stats.current;
  }
}

}  // namespace

TEST_CASE("concurrency gate: capacity holds under 8 threads x 1000 acquire/release", "[gate]") {
  constexpr int kCapacity = 3;
  constexpr int kWorkers = 8;
  constexpr int kRounds = 1000;
  ConcurrencyGate gate(kCapacity);
  asio::io_context io(kWorkers);
  ChurnStats stats;
  for (int w = 0; w < kWorkers; ++w) {
    // Half on strands, half straight on the multi-threaded io_context: both must work.
    const std::string tenant = "key-" + std::to_string(w % 3);
    if (w % 2 == 0) {
      asio::co_spawn(asio::make_strand(io), churn(gate, tenant, kRounds, stats), asio::detached);
    } else {
      asio::co_spawn(io, churn(gate, tenant, kRounds, stats), asio::detached);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kWorkers; ++t) threads.emplace_back([&io] { io.run(); });
  for (auto& thread : threads) thread.join();
  const auto elapsed = std::chrono::steady_clock::now() - start;

  CHECK(stats.acquired == kWorkers * kRounds);
  CHECK(stats.refused == 0);
  CHECK(stats.max_seen <= kCapacity);
  CHECK(stats.max_seen == kCapacity);  // 8 contenders holding across a hop do fill the gate
  CHECK(stats.gate_over_capacity == 0);
  CHECK(stats.saw_queue > 0);
  CHECK(gate.in_flight() == 0);
  CHECK(gate.queued() == 0);
  // A lost wake-up would still end with a slot, but only when the 20 s wait expired.
  CHECK(elapsed < 10s);
}

TEST_CASE("concurrency gate: one tenant's waiters are served first come, first served", "[gate]") {
  CHECK(service_order({"a0", "a1", "a2", "a3", "a4"}) == Order{"a0", "a1", "a2", "a3", "a4"});
}

TEST_CASE("concurrency gate: tenants that wait take turns", "[gate]") {
  SECTION("A queues 5, then B queues 1: B is served second, not sixth") {
    CHECK(service_order({"a0", "a1", "a2", "a3", "a4", "b0"}) == Order{"a0", "b0", "a1", "a2", "a3", "a4"});
  }
  SECTION("three tenants, interleaved arrivals") {
    CHECK(service_order({"a0", "a1", "a2", "b0", "b1", "c0"}) == Order{"a0", "b0", "c0", "a1", "b1", "a2"});
    CHECK(service_order({"c0", "a0", "c1", "b0", "a1"}) == Order{"c0", "a0", "b0", "c1", "a1"});
  }
}

TEST_CASE("concurrency gate: the anonymous tenant is a tenant like any other", "[gate]") {
  ConcurrencyGate gate(1);
  Slot held = gate.try_acquire();
  asio::io_context io;
  Order order;
  for (const char* name : {"anon0", "anon1"}) {
    asio::co_spawn(io, take_and_record(gate, "", name, order), asio::detached);
  }
  asio::co_spawn(io, take_and_record(gate, "k", "k0", order), asio::detached);
  io.poll();
  REQUIRE(gate.queued() == 3);
  held.reset();
  io.run();
  CHECK(order == Order{"anon0", "k0", "anon1"});
}

TEST_CASE("concurrency gate: a freed slot goes to the waiter, not to a later try_acquire", "[gate]") {
  ConcurrencyGate gate(1);
  Slot held = gate.try_acquire();
  asio::io_context io;
  Order order;
  queue_waiters(io, gate, {"a0"}, order);
  REQUIRE(gate.queued() == 1);
  held.reset();
  CHECK(gate.in_flight() == 1);
  CHECK(gate.queued() == 0);
  CHECK_FALSE(gate.try_acquire());
  io.run();
  CHECK(order == Order{"a0"});
  CHECK(gate.in_flight() == 0);
  CHECK(gate.try_acquire());
}

TEST_CASE("concurrency gate: a wait that times out returns an empty slot and leaves the queue", "[gate]") {
  ConcurrencyGate gate(1);
  Slot held = gate.try_acquire();
  asio::io_context io;

  SECTION("alone") {
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(run(io, got_slot(gate, "a", 20ms)));
    CHECK(std::chrono::steady_clock::now() - start >= 20ms);
    CHECK(gate.queued() == 0);
    CHECK(gate.in_flight() == 1);
    held.reset();
    CHECK(gate.in_flight() == 0);
  }
  SECTION("from the middle of the queue, the others keep their places") {
    Order order;
    queue_waiters(io, gate, {"a0"}, order);
    CHECK_FALSE(run(io, got_slot(gate, "b", 20ms)));  // queued behind a0, gives up
    queue_waiters(io, gate, {"a1"}, order);
    CHECK(gate.queued() == 2);
    held.reset();
    io.run();
    CHECK(order == Order{"a0", "a1"});
    CHECK(gate.in_flight() == 0);
    CHECK(gate.queued() == 0);
  }
  SECTION("a zero timeout only tries") {
    CHECK_FALSE(run(io, got_slot(gate, "a", 0ms)));
    CHECK(gate.queued() == 0);
    held.reset();
    CHECK(run(io, got_slot(gate, "a", 0ms)));
  }
}

TEST_CASE("concurrency gate: cancelling the wait counts like a timeout", "[gate]") {
  ConcurrencyGate gate(1);
  Slot held = gate.try_acquire();
  asio::io_context io;
  asio::cancellation_signal signal;
  std::optional<bool> result;
  std::exception_ptr error;
  auto done = [&result, &error](std::exception_ptr e, bool got) {
    error = e;
    result = got;
  };

  SECTION("while queued") {
    asio::co_spawn(io, got_slot(gate, "a", 10s), asio::bind_cancellation_slot(signal.slot(), done));
    io.poll();
    REQUIRE(gate.queued() == 1);
    signal.emit(asio::cancellation_type::terminal);
    io.run();
  }
  SECTION("requested before the wait starts, in a coroutine that does not throw on cancellation") {
    const auto start = std::chrono::steady_clock::now();
    asio::co_spawn(io, got_slot_after_cancellation(gate, "a", 10s), asio::bind_cancellation_slot(signal.slot(), done));
    io.poll();
    REQUIRE(gate.queued() == 0);
    signal.emit(asio::cancellation_type::terminal);
    io.run();
    CHECK(std::chrono::steady_clock::now() - start < 5s);
  }
  REQUIRE(result.has_value());
  CHECK(error == nullptr);
  CHECK_FALSE(*result);
  CHECK(gate.queued() == 0);
  CHECK(gate.in_flight() == 1);
}

TEST_CASE("concurrency gate: a waiter destroyed with its io_context never leaks the slot", "[gate]") {
  ConcurrencyGate gate(1);
  Slot held = gate.try_acquire();
  Order order;
  auto doomed = std::make_unique<asio::io_context>();
  queue_waiters(*doomed, gate, {"d0"}, order);
  REQUIRE(gate.queued() == 1);

  SECTION("while queued, nobody else waiting") {
    doomed->stop();
    doomed.reset();
    CHECK(gate.queued() == 0);
    CHECK(gate.in_flight() == 1);
    held.reset();
    CHECK(gate.in_flight() == 0);
  }
  SECTION("while queued: its place goes, the next waiter is served") {
    asio::io_context survivor;
    queue_waiters(survivor, gate, {"s0"}, order);
    REQUIRE(gate.queued() == 2);
    doomed->stop();
    doomed.reset();
    CHECK(gate.queued() == 1);
    held.reset();
    survivor.run();
    CHECK(order == Order{"s0"});
    CHECK(gate.in_flight() == 0);
  }
  SECTION("after a slot was handed to it but before it resumed, nobody else waiting") {
    held.reset();
    CHECK(gate.in_flight() == 1);  // handed over, not free
    doomed.reset();
    CHECK(gate.in_flight() == 0);
    CHECK(gate.try_acquire());
  }
  SECTION("after a slot was handed to it but before it resumed: the slot passes on") {
    asio::io_context survivor;
    queue_waiters(survivor, gate, {"s0", "s1"}, order);
    REQUIRE(gate.queued() == 3);
    held.reset();
    CHECK(gate.in_flight() == 1);
    CHECK(gate.queued() == 2);
    doomed.reset();
    CHECK(gate.in_flight() == 1);  // now s0's
    CHECK(gate.queued() == 1);
    survivor.run();
    CHECK(order == Order{"s0", "s1"});
    CHECK(gate.in_flight() == 0);
    CHECK(gate.queued() == 0);
  }
  CHECK(order.size() <= 2);
  CHECK(std::find(order.begin(), order.end(), "d0") == order.end());
}

TEST_CASE("concurrency gate: capacity 0 or less is unlimited and never waits", "[gate]") {
  const int capacity = GENERATE(0, -1);
  ConcurrencyGate gate(capacity);
  CHECK(gate.capacity() == capacity);
  std::vector<Slot> slots;
  for (int i = 0; i < 100; ++i) {
    slots.push_back(gate.try_acquire());
    REQUIRE(slots.back());
  }
  asio::io_context io;
  slots.push_back(run(io, gate.acquire("a", 0ms)));
  slots.push_back(run(io, gate.acquire("a", 10s)));
  CHECK(slots[100]);
  CHECK(slots[101]);
  CHECK(gate.in_flight() == 102);
  CHECK(gate.queued() == 0);
  slots.clear();
  CHECK(gate.in_flight() == 0);
}

TEST_CASE("concurrency gate: slots move, never copy, and release exactly once", "[gate]") {
  static_assert(!std::is_copy_constructible_v<Slot>);
  static_assert(!std::is_copy_assignable_v<Slot>);
  static_assert(std::is_nothrow_move_constructible_v<Slot>);
  static_assert(std::is_nothrow_move_assignable_v<Slot>);

  ConcurrencyGate gate(2);
  CHECK_FALSE(Slot());
  Slot a = gate.try_acquire();
  Slot b = gate.try_acquire();
  CHECK(a);
  CHECK(b);
  CHECK_FALSE(gate.try_acquire());
  CHECK(gate.in_flight() == 2);

  Slot c = std::move(a);
  CHECK_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  CHECK(c);
  CHECK(gate.in_flight() == 2);
  a.reset();  // a moved-from slot releases nothing
  CHECK(gate.in_flight() == 2);

  c = std::move(b);  // c's own slot is released, b's moves in
  CHECK_FALSE(b);
  CHECK(c);
  CHECK(gate.in_flight() == 1);

  Slot& same = c;
  c = std::move(same);  // self-move keeps the slot
  CHECK(c);
  CHECK(gate.in_flight() == 1);

  c.reset();
  CHECK_FALSE(c);
  CHECK(gate.in_flight() == 0);
  c.reset();
  CHECK(gate.in_flight() == 0);
}
