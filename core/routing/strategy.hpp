// Routing strategies: pure functions that order a model's candidate deployments for one request.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/random.hpp"

namespace tollgate::core {

/// How a model's deployments are ordered when no objective is asked for (config `routing.strategy`).
enum class Strategy { kPriority, kRoundRobin, kWeighted, kLeastLatency, kLeastBusy, kCostOptimized, kUsageBalanced };

/// The config spelling ("priority", "round-robin", "weighted", "least-latency", "least-busy",
/// "cost-optimized", "usage-balanced"); nullopt for anything else.
std::optional<Strategy> parse_strategy(std::string_view text) noexcept;
std::string_view to_string(Strategy strategy) noexcept;

/// What a request asks routing to favour (`x-tollgate-objective`); kNone: the configured strategy.
enum class Objective { kNone, kCost, kLatency, kQuality, kReliability, kFairness };

/// "cost", "latency", "quality", "reliability", "fairness" (case-insensitive); "" and "none" are
/// kNone; nullopt for anything else (the caller decides whether that is a 400 or ignored).
std::optional<Objective> parse_objective(std::string_view text) noexcept;
std::string_view to_string(Objective objective) noexcept;

/// A request's urgency (`x-tollgate-priority`); kNormal leaves routing to strategy or objective.
enum class Priority { kNormal, kHigh, kLow };

/// "high", "normal", "low" (case-insensitive); "" is kNormal; nullopt for anything else.
std::optional<Priority> parse_priority(std::string_view text) noexcept;
std::string_view to_string(Priority priority) noexcept;

/// What the router knows about one candidate deployment when it orders them.
struct CandidateView {
  double weight = 1;             ///< config weight; <= 0: drawn only after every positive weight
  int tier = 0;                  ///< quality rank: higher is better (premium=2, standard=1, ""=0)
  double latency_ms = 0;         ///< EWMA (streams: of time to first token); 0 = unknown
  int in_flight = 0;
  double error_rate = 0;         ///< recent, 0..1
  std::int64_t cost_nanos = 0;   ///< this request's estimated cost on it (nano-dollars)
  double usage_ratio = 0;        ///< used / quota of its key(s) this minute, 0..1 (usage-balanced)
  bool available = true;         ///< false: circuit open / keys cooling: always ordered last
};

/// The order to try candidates in (indices into the span given) and why the first one leads, for
/// the log and the audit record (`routing_reason`), e.g. "weighted: 3/4",
/// "cost-optimized: cheapest 0.000042 USD".
struct Ordering {
  std::vector<std::size_t> order;
  std::string reason;
};

/// How much each score counts in a blended choice. Scores are 0..1, 1 best: cost, latency
/// (EWMA), quality (tier), reliability (1 − error rate), fairness (1 − usage ratio).
struct ObjectiveWeights {
  double cost = 0;
  double latency = 0;
  double quality = 0;
  double reliability = 0;
  double fairness = 0;
};

/// The weights per objective and the nudges per priority (config; defaults below). The weights
/// used are those of the objective plus those of the priority; all zero (no objective, normal
/// priority) means "use the strategy".
struct BlendWeights {
  ObjectiveWeights cost{1.0, 0.2, 0.1, 0.3, 0.0};
  ObjectiveWeights latency{0.1, 1.0, 0.1, 0.3, 0.0};
  ObjectiveWeights quality{0.1, 0.1, 1.0, 0.3, 0.0};
  ObjectiveWeights reliability{0.1, 0.2, 0.1, 1.0, 0.0};
  ObjectiveWeights fairness{0.1, 0.1, 0.0, 0.3, 1.0};
  /// High priority pays for speed, quality and reliability; low priority goes for the cheapest.
  ObjectiveWeights high_priority{0.0, 0.6, 0.4, 0.6, 0.0};
  ObjectiveWeights low_priority{1.0, 0.0, 0.0, 0.2, 0.2};

  /// The weights for this request: the objective's plus the priority's (negative ones read as 0).
  ObjectiveWeights combined(Objective objective, Priority priority) const noexcept;
};

/// Orders candidates 0..n-1 (config order = priority order) for one request; the router tries them
/// in this order. Unavailable candidates always go last, in config order. An objective other than
/// kNone, or a priority other than kNormal, replaces the strategy by a blended score (`blend`):
/// each metric is scaled to 0..1 over the available candidates and the weighted sum ranks them,
/// ties in config order. Pure apart from `random` (weighted draws) and `rr_counter` (round-robin,
/// shared by every request of the model; incremented once per call that uses it).
/// Thread-safe as long as `random` is; never throws except std::bad_alloc.
Ordering order_candidates(Strategy strategy, Objective objective, std::span<const CandidateView> candidates,
                          Random& random, std::atomic<std::uint64_t>& rr_counter,
                          Priority priority = Priority::kNormal, const BlendWeights& blend = BlendWeights{});

}  // namespace tollgate::core
