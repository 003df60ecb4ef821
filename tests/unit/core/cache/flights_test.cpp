// FlightTable: leader and joiners, landing, the recent window on a manual clock, purge; FlightHead.
#include <catch2/catch.hpp>

#include <chrono>

#include "core/cache/flights.hpp"
#include "core/clock.hpp"

using namespace tollgate::core;
using namespace std::chrono_literals;

TEST_CASE("the first request for a key leads, the next ones join the same flight", "[flights]") {
  ManualClock clock;
  FlightTable table(clock, 0s);
  auto leader = table.join("k");
  REQUIRE(leader.leader);
  auto joiner = table.join("k");
  CHECK_FALSE(joiner.leader);
  CHECK(joiner.flight == leader.flight);
  CHECK(table.join("k").flight == leader.flight);
  CHECK(leader.flight->joined() == 2);
  auto other = table.join("other key");
  CHECK(other.leader);
  CHECK(other.flight != leader.flight);
  CHECK(table.size() == 2);
}

TEST_CASE("a landed flight is forgotten at once without a recent window", "[flights]") {
  ManualClock clock;
  FlightTable table(clock, 0s);
  auto first = table.join("k");
  CHECK_FALSE(table.land("k", first.flight, true));
  CHECK(table.size() == 0);
  auto next = table.join("k");
  CHECK(next.leader);
  CHECK(next.flight != first.flight);
}

TEST_CASE("with a recent window a successful flight stays joinable until the window passes", "[flights]") {
  ManualClock clock;
  FlightTable table(clock, 2s);
  auto first = table.join("k");
  CHECK(table.land("k", first.flight, true));
  clock.advance(1999ms);
  auto late = table.join("k");
  CHECK_FALSE(late.leader);
  CHECK(late.flight == first.flight);
  clock.advance(1ms);  // exactly at the end of the window: gone
  auto after = table.join("k");
  CHECK(after.leader);
  CHECK(after.flight != first.flight);
}

TEST_CASE("a failed flight is never kept for the recent window", "[flights]") {
  ManualClock clock;
  FlightTable table(clock, 10s);
  auto first = table.join("k");
  CHECK_FALSE(table.land("k", first.flight, false));
  CHECK(table.size() == 0);
  CHECK(table.join("k").leader);
}

TEST_CASE("land ignores a flight that does not own the key, and a second landing", "[flights]") {
  ManualClock clock;
  FlightTable table(clock, 5s);
  auto first = table.join("k");
  auto stranger = std::make_shared<Flight>();
  CHECK_FALSE(table.land("k", stranger, false));
  CHECK(table.size() == 1);
  CHECK(table.land("k", first.flight, true));
  clock.advance(1s);
  CHECK(table.land("k", first.flight, false));  // already landed: the window stands
  CHECK_FALSE(table.join("k").leader);
}

TEST_CASE("purge_expired drops only the landed flights whose window has passed", "[flights]") {
  ManualClock clock;
  FlightTable table(clock, 1s);
  auto a = table.join("a");
  auto b = table.join("b");
  table.join("in flight");
  table.land("a", a.flight, true);
  clock.advance(500ms);
  table.land("b", b.flight, true);
  CHECK(table.purge_expired() == 0);
  clock.advance(500ms);
  CHECK(table.purge_expired() == 1);  // a
  CHECK(table.size() == 2);
  clock.advance(10s);
  CHECK(table.purge_expired() == 1);  // b; the flight in progress stays
  CHECK(table.size() == 1);
  CHECK_FALSE(table.join("in flight").leader);
}

TEST_CASE("the pump count goes up and down", "[flights]") {
  ManualClock clock;
  FlightTable table(clock, 0s);
  table.pump_started();
  table.pump_started();
  table.pump_ended();
  CHECK(table.pumping() == 1);
}

TEST_CASE("a flight's head is empty until the leader sets it; cost is 0 until known", "[flights]") {
  Flight flight;
  CHECK_FALSE(flight.head().has_value());
  CHECK(flight.cost() == 0);
  FlightHead head;
  head.status = 200;
  head.body = R"({"id":"x"})";
  head.provider = "openai";
  flight.set_head(head);
  flight.set_cost(1234);
  REQUIRE(flight.head().has_value());
  CHECK(flight.head()->body == R"({"id":"x"})");
  CHECK(flight.head()->provider == "openai");
  CHECK(flight.cost() == 1234);
}

TEST_CASE("FlightHead::retryable: tollgate's retryable errors and 408, 429, 5xx answers", "[flights]") {
  FlightHead head;
  for (int status : {408, 429, 500, 502, 503, 504}) {
    head.status = status;
    CHECK(head.retryable());
  }
  for (int status : {200, 400, 401, 403, 404, 422}) {
    head.status = status;
    CHECK_FALSE(head.retryable());
  }
  head.status = 502;
  head.failure = make_error(ErrorKind::kUpstreamError, "all attempts failed");
  CHECK(head.retryable());
  head.failure = make_error(ErrorKind::kInvalidRequest, "bad");
  CHECK_FALSE(head.retryable());
}

TEST_CASE("join_existing joins a flight in progress or within the window, never starts one", "[flights]") {
  ManualClock clock;
  FlightTable table(clock, 1s);
  CHECK_FALSE(table.join_existing("k").has_value());
  CHECK(table.size() == 0);
  auto leader = table.join("k");
  auto joined = table.join_existing("k");
  REQUIRE(joined.has_value());
  CHECK_FALSE(joined->leader);
  CHECK(joined->flight == leader.flight);
  table.land("k", leader.flight, true);
  CHECK(table.join_existing("k").has_value());
  clock.advance(1s);
  CHECK_FALSE(table.join_existing("k").has_value());
  CHECK(leader.flight->joined() == 2);
}
