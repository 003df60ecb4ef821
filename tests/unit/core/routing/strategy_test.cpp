// Routing strategies: names, every strategy's order and reason, objective blends, unavailable last, Ewma.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <vector>

#include "core/random.hpp"
#include "core/routing/ewma.hpp"
#include "core/routing/strategy.hpp"

using namespace tollgate::core;

namespace {

constexpr std::array kAllStrategies{Strategy::kPriority,     Strategy::kRoundRobin,    Strategy::kWeighted,
                                    Strategy::kLeastLatency, Strategy::kLeastBusy,     Strategy::kCostOptimized,
                                    Strategy::kUsageBalanced};

Ordering order(Strategy strategy, const std::vector<CandidateView>& candidates, Objective objective = Objective::kNone,
               Priority priority = Priority::kNormal) {
  SequenceRandom random{0.0};
  std::atomic<std::uint64_t> counter{0};
  return order_candidates(strategy, objective, candidates, random, counter, priority);
}

std::size_t first(Strategy strategy, const std::vector<CandidateView>& candidates, Objective objective = Objective::kNone,
                  Priority priority = Priority::kNormal) {
  return order(strategy, candidates, objective, priority).order.at(0);
}

// Shares of the first pick over `picks` calls with the system random source.
std::vector<double> first_pick_shares(const std::vector<CandidateView>& candidates, int picks) {
  SystemRandom random;
  std::atomic<std::uint64_t> counter{0};
  std::vector<double> shares(candidates.size(), 0.0);
  for (int i = 0; i < picks; ++i) {
    const Ordering ordering = order_candidates(Strategy::kWeighted, Objective::kNone, candidates, random, counter);
    REQUIRE(ordering.order.size() == candidates.size());
    shares[ordering.order[0]] += 1.0 / picks;
  }
  return shares;
}

// Index 0 is middling at everything; each of 1..5 excels at exactly one metric.
std::vector<CandidateView> specialists() {
  const CandidateView middling{.weight = 1, .tier = 0, .latency_ms = 500, .in_flight = 0, .error_rate = 0.5,
                               .cost_nanos = 100'000, .usage_ratio = 0.9, .available = true};
  std::vector<CandidateView> c(6, middling);
  c[1].cost_nanos = 10'000;  // cheap
  c[2].latency_ms = 50;      // fast
  c[3].tier = 2;             // premium
  c[4].error_rate = 0;       // reliable
  c[5].usage_ratio = 0;      // idle quota
  return c;
}

}  // namespace

TEST_CASE("strategy, objective and priority names round-trip; unknown names are refused", "[strategy]") {
  for (const Strategy s : kAllStrategies) CHECK(parse_strategy(to_string(s)) == s);
  CHECK(parse_strategy("cost-optimized") == Strategy::kCostOptimized);
  CHECK(parse_strategy("Least-Latency") == Strategy::kLeastLatency);
  CHECK_FALSE(parse_strategy("cheapest").has_value());
  CHECK_FALSE(parse_strategy("").has_value());

  CHECK(parse_objective("cost") == Objective::kCost);
  CHECK(parse_objective(" Latency ") == Objective::kLatency);
  CHECK(parse_objective("quality") == Objective::kQuality);
  CHECK(parse_objective("reliability") == Objective::kReliability);
  CHECK(parse_objective("fairness") == Objective::kFairness);
  CHECK(parse_objective("") == Objective::kNone);
  CHECK_FALSE(parse_objective("speed").has_value());
  CHECK(to_string(Objective::kFairness) == "fairness");

  CHECK(parse_priority("high") == Priority::kHigh);
  CHECK(parse_priority("LOW") == Priority::kLow);
  CHECK(parse_priority("normal") == Priority::kNormal);
  CHECK(parse_priority("") == Priority::kNormal);
  CHECK_FALSE(parse_priority("urgent").has_value());
  CHECK(to_string(Priority::kHigh) == "high");
}

TEST_CASE("priority keeps config order", "[strategy]") {
  const std::vector<CandidateView> c(3);
  const Ordering o = order(Strategy::kPriority, c);
  CHECK(o.order == std::vector<std::size_t>{0, 1, 2});
  CHECK(o.reason == "priority: config order, 3 available");
}

TEST_CASE("weighted first picks follow the weights within 3% over 10k picks", "[strategy]") {
  SECTION("3:1") {
    const std::vector<CandidateView> c{{.weight = 3}, {.weight = 1}};
    const auto shares = first_pick_shares(c, 10'000);
    CHECK(shares[0] == Approx(0.75).margin(0.03));
    CHECK(shares[1] == Approx(0.25).margin(0.03));
  }
  SECTION("1:1:2") {
    const std::vector<CandidateView> c{{.weight = 1}, {.weight = 1}, {.weight = 2}};
    const auto shares = first_pick_shares(c, 10'000);
    CHECK(shares[0] == Approx(0.25).margin(0.03));
    CHECK(shares[1] == Approx(0.25).margin(0.03));
    CHECK(shares[2] == Approx(0.50).margin(0.03));
  }
}

TEST_CASE("weighted draws the rest without replacement; zero weights are standbys", "[strategy]") {
  const std::vector<CandidateView> c{{.weight = 0}, {.weight = 1}, {.weight = 1}, {.weight = 2}};
  std::atomic<std::uint64_t> counter{0};
  // Draw 1: 0.3 × 4 = 1.2 falls in [1, 2): index 2. Draw 2: 0.9 × 3 = 2.7 in [1, 3): index 3.
  SequenceRandom random{0.3, 0.9, 0.0};
  const Ordering o = order_candidates(Strategy::kWeighted, Objective::kNone, c, random, counter);
  CHECK(o.order == std::vector<std::size_t>{2, 3, 1, 0});
  CHECK(o.reason == "weighted: 1/4");

  // A draw at the very top of the range still lands on a candidate.
  SequenceRandom top{0.9999999999999999};
  CHECK(order_candidates(Strategy::kWeighted, Objective::kNone, c, top, counter).order == std::vector<std::size_t>{3, 2, 1, 0});

  const std::vector<CandidateView> zeros{{.weight = 0}, {.weight = 0}};
  const Ordering z = order(Strategy::kWeighted, zeros);
  CHECK(z.order == std::vector<std::size_t>{0, 1});
  CHECK(z.reason == "weighted: all weights 0, config order");
}

TEST_CASE("round-robin rotates through the available candidates with the shared counter", "[strategy]") {
  std::vector<CandidateView> c(3);
  SequenceRandom random{0.0};
  std::atomic<std::uint64_t> counter{0};
  std::vector<std::size_t> firsts;
  for (int i = 0; i < 4; ++i) firsts.push_back(order_candidates(Strategy::kRoundRobin, Objective::kNone, c, random, counter).order[0]);
  CHECK(firsts == std::vector<std::size_t>{0, 1, 2, 0});
  CHECK(counter.load() == 4);

  const Ordering o = order_candidates(Strategy::kRoundRobin, Objective::kNone, c, random, counter);
  CHECK(o.order == std::vector<std::size_t>{1, 2, 0});
  CHECK(o.reason == "round-robin: slot 2/3");

  c[1].available = false;
  counter = 1;
  CHECK(order_candidates(Strategy::kRoundRobin, Objective::kNone, c, random, counter).order == std::vector<std::size_t>{2, 0, 1});
}

TEST_CASE("least-latency tries unknown latencies first, then the fastest, and follows a change", "[strategy]") {
  std::vector<CandidateView> c{{.latency_ms = 300}, {.latency_ms = 0}, {.latency_ms = 120}, {.latency_ms = 0}};
  Ordering o = order(Strategy::kLeastLatency, c);
  CHECK(o.order == std::vector<std::size_t>{1, 3, 2, 0});
  CHECK(o.reason == "least-latency: latency unknown, exploring");

  c[1].latency_ms = 400;
  c[3].latency_ms = 500;
  o = order(Strategy::kLeastLatency, c);
  CHECK(o.order == std::vector<std::size_t>{2, 0, 1, 3});
  CHECK(o.reason == "least-latency: 120 ms");

  // The EWMA of the fastest one climbs past another's: the pick follows.
  Ewma ewma{0.5};
  ewma.add(120);
  ewma.add(600);
  c[2].latency_ms = ewma.value();  // 360
  CHECK(first(Strategy::kLeastLatency, c) == 0);

  // Ties keep config order.
  const std::vector<CandidateView> tied{{.latency_ms = 80}, {.latency_ms = 80}};
  CHECK(order(Strategy::kLeastLatency, tied).order == std::vector<std::size_t>{0, 1});
}

TEST_CASE("least-busy picks the fewest in flight, ties by weight", "[strategy]") {
  const std::vector<CandidateView> c{{.weight = 1, .in_flight = 4}, {.weight = 1, .in_flight = 2},
                                     {.weight = 5, .in_flight = 2}, {.weight = 1, .in_flight = 7}};
  const Ordering o = order(Strategy::kLeastBusy, c);
  CHECK(o.order == std::vector<std::size_t>{2, 1, 0, 3});
  CHECK(o.reason == "least-busy: 2 in flight");
}

TEST_CASE("cost-optimized picks the cheapest available, ties by latency", "[strategy]") {
  const std::vector<CandidateView> c{{.latency_ms = 100, .cost_nanos = 90'000},
                                     {.latency_ms = 100, .cost_nanos = 10'000, .available = false},
                                     {.latency_ms = 300, .cost_nanos = 42'000},
                                     {.latency_ms = 200, .cost_nanos = 42'000}};
  const Ordering o = order(Strategy::kCostOptimized, c);
  CHECK(o.order == std::vector<std::size_t>{3, 2, 0, 1});
  CHECK(o.reason == "cost-optimized: cheapest 0.000042 USD");
}

TEST_CASE("usage-balanced picks the lowest share of quota used, ties by weight", "[strategy]") {
  const std::vector<CandidateView> c{{.weight = 1, .usage_ratio = 0.8}, {.weight = 1, .usage_ratio = 0.25},
                                     {.weight = 2, .usage_ratio = 0.25}, {.weight = 1, .usage_ratio = 0.5}};
  const Ordering o = order(Strategy::kUsageBalanced, c);
  CHECK(o.order == std::vector<std::size_t>{2, 1, 3, 0});
  CHECK(o.reason == "usage-balanced: 25% of quota used");
}

TEST_CASE("each objective replaces the strategy and picks its specialist", "[strategy]") {
  const auto c = specialists();
  REQUIRE(first(Strategy::kPriority, c) == 0);
  CHECK(first(Strategy::kPriority, c, Objective::kCost) == 1);
  CHECK(first(Strategy::kPriority, c, Objective::kLatency) == 2);
  CHECK(first(Strategy::kPriority, c, Objective::kQuality) == 3);
  CHECK(first(Strategy::kPriority, c, Objective::kReliability) == 4);
  CHECK(first(Strategy::kPriority, c, Objective::kFairness) == 5);

  const Ordering o = order(Strategy::kWeighted, c, Objective::kCost);
  CHECK(o.reason.rfind("objective cost: score ", 0) == 0);
  CHECK(o.reason.find("cost 0.90") != std::string::npos);
}

TEST_CASE("x-tollgate-priority nudges the blend: high buys speed and quality, low the cheapest", "[strategy]") {
  const auto c = specialists();
  CHECK(first(Strategy::kPriority, c, Objective::kNone, Priority::kHigh) == 2);
  CHECK(first(Strategy::kPriority, c, Objective::kNone, Priority::kLow) == 1);
  CHECK(order(Strategy::kPriority, c, Objective::kNone, Priority::kLow).reason.rfind("priority low: score ", 0) == 0);
  // Normal priority without an objective leaves the strategy in charge.
  CHECK(order(Strategy::kPriority, c, Objective::kNone, Priority::kNormal).reason.rfind("priority: config order", 0) == 0);

  // Cheap but slow and basic vs. dear, fast and premium: the priority decides under objective cost.
  const std::vector<CandidateView> pair{{.tier = 0, .latency_ms = 900, .cost_nanos = 20'000},
                                        {.tier = 2, .latency_ms = 100, .cost_nanos = 50'000}};
  CHECK(first(Strategy::kPriority, pair, Objective::kCost) == 0);
  CHECK(first(Strategy::kPriority, pair, Objective::kCost, Priority::kHigh) == 1);
  CHECK(order(Strategy::kPriority, pair, Objective::kCost, Priority::kHigh).reason.rfind("objective cost, priority high: ", 0) == 0);
}

TEST_CASE("blend weights come from config", "[strategy]") {
  const auto c = specialists();
  BlendWeights weights;
  weights.cost = ObjectiveWeights{.quality = 1};  // an operator who means "cost" as "best value"
  SequenceRandom random{0.0};
  std::atomic<std::uint64_t> counter{0};
  CHECK(order_candidates(Strategy::kPriority, Objective::kCost, c, random, counter, Priority::kNormal, weights).order[0] == 3);

  const ObjectiveWeights sum = BlendWeights{}.combined(Objective::kLatency, Priority::kLow);
  CHECK(sum.cost == Approx(1.1));
  CHECK(sum.latency == Approx(1.0));
}

TEST_CASE("an unmeasured latency scores as the average of the measured ones in a blend", "[strategy]") {
  // Scores: 100 ms → 0.5, 200 ms → 0, unknown → 0.25: between the two.
  const std::vector<CandidateView> c{{.latency_ms = 200}, {.latency_ms = 0}, {.latency_ms = 100}};
  CHECK(order(Strategy::kPriority, c, Objective::kLatency).order == std::vector<std::size_t>{2, 1, 0});
}

TEST_CASE("unavailable candidates always go last in config order; reasons name the strategy", "[strategy]") {
  // The best candidate by every measure is unavailable.
  std::vector<CandidateView> c = specialists();
  c.insert(c.begin() + 2, CandidateView{.weight = 100, .tier = 2, .latency_ms = 1, .in_flight = 0, .error_rate = 0,
                                        .cost_nanos = 1, .usage_ratio = 0, .available = false});
  c.push_back(CandidateView{.weight = 100, .tier = 2, .latency_ms = 0, .cost_nanos = 0, .available = false});
  const Strategy strategy = GENERATE(from_range(kAllStrategies));
  const Objective objective = GENERATE(Objective::kNone, Objective::kCost, Objective::kLatency, Objective::kQuality,
                                       Objective::kReliability, Objective::kFairness);
  SystemRandom random;
  std::atomic<std::uint64_t> counter{5};
  const Ordering o = order_candidates(strategy, objective, c, random, counter);
  REQUIRE(o.order.size() == c.size());
  CHECK(o.order[o.order.size() - 2] == 2);
  CHECK(o.order.back() == c.size() - 1);
  std::vector<std::size_t> sorted = o.order;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) CHECK(sorted[i] == i);

  const std::string expected = objective == Objective::kNone ? std::string{to_string(strategy)} + ": "
                                                             : "objective " + std::string{to_string(objective)} + ": ";
  CHECK(o.reason.rfind(expected, 0) == 0);
  CHECK(o.reason.size() > expected.size());
}

TEST_CASE("with nothing available the order is config order; with no candidates it is empty", "[strategy]") {
  const std::vector<CandidateView> c{{.cost_nanos = 9, .available = false}, {.cost_nanos = 1, .available = false}};
  const Ordering o = order(Strategy::kCostOptimized, c);
  CHECK(o.order == std::vector<std::size_t>{0, 1});
  CHECK(o.reason == "cost-optimized: none available, config order");

  const Ordering empty = order(Strategy::kWeighted, {});
  CHECK(empty.order.empty());
  CHECK(empty.reason == "weighted: no candidates");
}

TEST_CASE("Ewma takes the first sample as is and then moves by alpha", "[strategy]") {
  Ewma ewma{0.2};
  CHECK(ewma.value() == 0);
  CHECK_FALSE(ewma.has_value());
  ewma.add(100);
  CHECK(ewma.value() == 100);
  CHECK(ewma.has_value());
  ewma.add(200);
  CHECK(ewma.value() == Approx(120));
  ewma.add(-5);
  ewma.add(std::numeric_limits<double>::infinity());
  CHECK(ewma.value() == Approx(120));
  ewma.add(0);
  CHECK(ewma.value() == Approx(96));

  Ewma clamped{7};
  clamped.add(10);
  clamped.add(30);
  CHECK(clamped.value() == 30);
}
