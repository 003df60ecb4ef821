// Routing strategies: priority, round-robin, weighted, least-latency, least-busy, cost, usage, blends.
#include "core/routing/strategy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <utility>

#include "core/money/money.hpp"

namespace tollgate::core {
namespace {

constexpr std::array<std::pair<std::string_view, Strategy>, 7> kStrategyNames{{
    {"priority", Strategy::kPriority},
    {"round-robin", Strategy::kRoundRobin},
    {"weighted", Strategy::kWeighted},
    {"least-latency", Strategy::kLeastLatency},
    {"least-busy", Strategy::kLeastBusy},
    {"cost-optimized", Strategy::kCostOptimized},
    {"usage-balanced", Strategy::kUsageBalanced},
}};

constexpr std::array<std::pair<std::string_view, Objective>, 6> kObjectiveNames{{
    {"none", Objective::kNone},
    {"cost", Objective::kCost},
    {"latency", Objective::kLatency},
    {"quality", Objective::kQuality},
    {"reliability", Objective::kReliability},
    {"fairness", Objective::kFairness},
}};

constexpr std::array<std::pair<std::string_view, Priority>, 3> kPriorityNames{{
    {"normal", Priority::kNormal},
    {"high", Priority::kHigh},
    {"low", Priority::kLow},
}};

bool iequals(std::string_view a, std::string_view b) noexcept {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

// Header values arrive with optional whitespace around them.
std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

template <typename Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<std::string_view, Enum>, N>& names, Enum value) noexcept {
  for (const auto& [name, v] : names)
    if (v == value) return name;
  return "unknown";
}

// NaN, infinities and negatives would break the arithmetic of draws and scores; they count as 0.
double sane(double value) noexcept { return std::isfinite(value) && value > 0 ? value : 0.0; }
double unit(double value) noexcept { return std::min(sane(value), 1.0); }

std::string number(double value) { return fmt::format("{:g}", value); }

using Indices = std::vector<std::size_t>;

struct StrategyOutcome {
  Indices order;
  std::string reason;
};

StrategyOutcome by_priority(std::span<const CandidateView>, Indices available) {
  const std::size_t total = available.size();
  return {std::move(available), fmt::format("priority: config order, {} available", total)};
}

StrategyOutcome by_round_robin(std::span<const CandidateView>, Indices available, std::atomic<std::uint64_t>& rr_counter) {
  const std::uint64_t turn = rr_counter.fetch_add(1, std::memory_order_relaxed);
  const std::size_t start = static_cast<std::size_t>(turn % available.size());
  std::string reason = fmt::format("round-robin: slot {}/{}", start + 1, available.size());
  std::rotate(available.begin(), available.begin() + static_cast<std::ptrdiff_t>(start), available.end());
  return {std::move(available), std::move(reason)};
}

StrategyOutcome by_weight(std::span<const CandidateView> candidates, const Indices& available, Random& random) {
  // Zero-weight candidates are standbys: they follow every weighted one, in config order.
  Indices pool;
  Indices standby;
  double total = 0;
  for (const std::size_t i : available) {
    if (sane(candidates[i].weight) > 0) {
      pool.push_back(i);
      total += candidates[i].weight;
    } else {
      standby.push_back(i);
    }
  }
  if (pool.empty()) return {standby, "weighted: all weights 0, config order"};

  Indices order;
  order.reserve(available.size());
  double remaining = total;
  while (!pool.empty()) {
    const double draw = std::clamp(random.uniform(), 0.0, 1.0) * remaining;
    // Rounding can leave `draw` at or past the running sum: the last one then takes it.
    std::size_t pick = pool.size() - 1;
    double cumulative = 0;
    for (std::size_t k = 0; k < pool.size(); ++k) {
      cumulative += candidates[pool[k]].weight;
      if (draw < cumulative) {
        pick = k;
        break;
      }
    }
    order.push_back(pool[pick]);
    remaining -= candidates[pool[pick]].weight;
    pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(pick));
  }
  std::string reason = fmt::format("weighted: {}/{}", number(candidates[order.front()].weight), number(total));
  order.insert(order.end(), standby.begin(), standby.end());
  return {std::move(order), std::move(reason)};
}

StrategyOutcome by_latency(std::span<const CandidateView> candidates, Indices available) {
  // Unknown latency (0) sorts first: a deployment never measured must get a chance to be.
  std::stable_sort(available.begin(), available.end(), [&](std::size_t a, std::size_t b) {
    return sane(candidates[a].latency_ms) < sane(candidates[b].latency_ms);
  });
  const double lead = sane(candidates[available.front()].latency_ms);
  std::string reason = lead == 0 ? std::string{"least-latency: latency unknown, exploring"}
                                 : fmt::format("least-latency: {} ms", number(std::round(lead * 10) / 10));
  return {std::move(available), std::move(reason)};
}

StrategyOutcome by_in_flight(std::span<const CandidateView> candidates, Indices available) {
  std::stable_sort(available.begin(), available.end(), [&](std::size_t a, std::size_t b) {
    if (candidates[a].in_flight != candidates[b].in_flight) return candidates[a].in_flight < candidates[b].in_flight;
    return sane(candidates[a].weight) > sane(candidates[b].weight);
  });
  std::string reason = fmt::format("least-busy: {} in flight", candidates[available.front()].in_flight);
  return {std::move(available), std::move(reason)};
}

StrategyOutcome by_cost(std::span<const CandidateView> candidates, Indices available) {
  // Equal prices: the faster first (an unknown latency, 0, counts as fastest, as in least-latency).
  std::stable_sort(available.begin(), available.end(), [&](std::size_t a, std::size_t b) {
    if (candidates[a].cost_nanos != candidates[b].cost_nanos) return candidates[a].cost_nanos < candidates[b].cost_nanos;
    return sane(candidates[a].latency_ms) < sane(candidates[b].latency_ms);
  });
  std::string reason = fmt::format("cost-optimized: cheapest {} USD", format_usd(candidates[available.front()].cost_nanos));
  return {std::move(available), std::move(reason)};
}

StrategyOutcome by_usage(std::span<const CandidateView> candidates, Indices available) {
  std::stable_sort(available.begin(), available.end(), [&](std::size_t a, std::size_t b) {
    const double ua = unit(candidates[a].usage_ratio);
    const double ub = unit(candidates[b].usage_ratio);
    if (ua != ub) return ua < ub;
    return sane(candidates[a].weight) > sane(candidates[b].weight);
  });
  const double lead = unit(candidates[available.front()].usage_ratio);
  std::string reason = fmt::format("usage-balanced: {}% of quota used", number(std::round(lead * 1000) / 10));
  return {std::move(available), std::move(reason)};
}

struct Scores {
  double cost = 0;
  double latency = 0;
  double quality = 0;
  double reliability = 0;
  double fairness = 0;
  double total = 0;
};

// Each metric is divided by its largest value among the candidates rather than min-max scaled, so
// a 1% price difference stays a 1% difference instead of spanning the whole 0..1 range.
std::vector<Scores> score(std::span<const CandidateView> candidates, const Indices& available, const ObjectiveWeights& w) {
  double max_cost = 0;
  double max_latency = 0;
  int max_tier = 0;
  for (const std::size_t i : available) {
    max_cost = std::max(max_cost, static_cast<double>(std::max<std::int64_t>(candidates[i].cost_nanos, 0)));
    max_latency = std::max(max_latency, sane(candidates[i].latency_ms));
    max_tier = std::max(max_tier, candidates[i].tier);
  }
  std::vector<Scores> scores(candidates.size());
  double known_latency_sum = 0;
  std::size_t known_latency_count = 0;
  for (const std::size_t i : available) {
    const CandidateView& c = candidates[i];
    Scores& s = scores[i];
    s.cost = max_cost > 0 ? 1.0 - static_cast<double>(std::max<std::int64_t>(c.cost_nanos, 0)) / max_cost : 1.0;
    s.quality = max_tier > 0 ? static_cast<double>(std::max(c.tier, 0)) / max_tier : 1.0;
    s.reliability = 1.0 - unit(c.error_rate);
    s.fairness = 1.0 - unit(c.usage_ratio);
    if (sane(c.latency_ms) > 0) {
      s.latency = 1.0 - c.latency_ms / max_latency;
      known_latency_sum += s.latency;
      ++known_latency_count;
    }
  }
  // An unmeasured deployment is neither rewarded nor punished: it gets the average measured score.
  const double unknown_latency = known_latency_count > 0 ? known_latency_sum / static_cast<double>(known_latency_count) : 1.0;
  for (const std::size_t i : available) {
    Scores& s = scores[i];
    if (sane(candidates[i].latency_ms) == 0) s.latency = unknown_latency;
    s.total = w.cost * s.cost + w.latency * s.latency + w.quality * s.quality + w.reliability * s.reliability +
              w.fairness * s.fairness;
  }
  return scores;
}

std::string blend_label(Objective objective, Priority priority) {
  if (priority == Priority::kNormal) return fmt::format("objective {}", to_string(objective));
  if (objective == Objective::kNone) return fmt::format("priority {}", to_string(priority));
  return fmt::format("objective {}, priority {}", to_string(objective), to_string(priority));
}

StrategyOutcome by_blend(std::span<const CandidateView> candidates, Indices available, const ObjectiveWeights& weights,
                         std::string label) {
  const std::vector<Scores> scores = score(candidates, available, weights);
  std::stable_sort(available.begin(), available.end(),
                   [&](std::size_t a, std::size_t b) { return scores[a].total > scores[b].total; });
  const Scores& s = scores[available.front()];
  std::string reason =
      fmt::format("{}: score {:.3f} (cost {:.2f}, latency {:.2f}, quality {:.2f}, reliability {:.2f}, fairness {:.2f})",
                  label, s.total, s.cost, s.latency, s.quality, s.reliability, s.fairness);
  return {std::move(available), std::move(reason)};
}

bool any_weight(const ObjectiveWeights& w) noexcept {
  return w.cost > 0 || w.latency > 0 || w.quality > 0 || w.reliability > 0 || w.fairness > 0;
}

ObjectiveWeights plus(const ObjectiveWeights& a, const ObjectiveWeights& b) noexcept {
  return {sane(a.cost) + sane(b.cost), sane(a.latency) + sane(b.latency), sane(a.quality) + sane(b.quality),
          sane(a.reliability) + sane(b.reliability), sane(a.fairness) + sane(b.fairness)};
}

}  // namespace

std::optional<Strategy> parse_strategy(std::string_view text) noexcept {
  text = trim(text);
  for (const auto& [name, value] : kStrategyNames)
    if (iequals(name, text)) return value;
  return std::nullopt;
}

std::string_view to_string(Strategy strategy) noexcept { return name_of(kStrategyNames, strategy); }

std::optional<Objective> parse_objective(std::string_view text) noexcept {
  text = trim(text);
  if (text.empty()) return Objective::kNone;
  for (const auto& [name, value] : kObjectiveNames)
    if (iequals(name, text)) return value;
  return std::nullopt;
}

std::string_view to_string(Objective objective) noexcept { return name_of(kObjectiveNames, objective); }

std::optional<Priority> parse_priority(std::string_view text) noexcept {
  text = trim(text);
  if (text.empty()) return Priority::kNormal;
  for (const auto& [name, value] : kPriorityNames)
    if (iequals(name, text)) return value;
  return std::nullopt;
}

std::string_view to_string(Priority priority) noexcept { return name_of(kPriorityNames, priority); }

ObjectiveWeights BlendWeights::combined(Objective objective, Priority priority) const noexcept {
  ObjectiveWeights sum;
  switch (objective) {
    case Objective::kNone: break;
    case Objective::kCost: sum = plus(sum, cost); break;
    case Objective::kLatency: sum = plus(sum, latency); break;
    case Objective::kQuality: sum = plus(sum, quality); break;
    case Objective::kReliability: sum = plus(sum, reliability); break;
    case Objective::kFairness: sum = plus(sum, fairness); break;
  }
  switch (priority) {
    case Priority::kNormal: break;
    case Priority::kHigh: sum = plus(sum, high_priority); break;
    case Priority::kLow: sum = plus(sum, low_priority); break;
  }
  return sum;
}

Ordering order_candidates(Strategy strategy, Objective objective, std::span<const CandidateView> candidates,
                          Random& random, std::atomic<std::uint64_t>& rr_counter, Priority priority,
                          const BlendWeights& blend) {
  const ObjectiveWeights weights = blend.combined(objective, priority);
  const bool blended = any_weight(weights);
  const std::string label = blended ? blend_label(objective, priority) : std::string{to_string(strategy)};

  Indices available;
  Indices unavailable;
  for (std::size_t i = 0; i < candidates.size(); ++i) (candidates[i].available ? available : unavailable).push_back(i);

  if (available.empty()) {
    Ordering ordering{std::move(unavailable), {}};
    ordering.reason = candidates.empty() ? fmt::format("{}: no candidates", label)
                                         : fmt::format("{}: none available, config order", label);
    return ordering;
  }

  StrategyOutcome outcome;
  if (blended) {
    outcome = by_blend(candidates, std::move(available), weights, label);
  } else {
    switch (strategy) {
      case Strategy::kPriority: outcome = by_priority(candidates, std::move(available)); break;
      case Strategy::kRoundRobin: outcome = by_round_robin(candidates, std::move(available), rr_counter); break;
      case Strategy::kWeighted: outcome = by_weight(candidates, available, random); break;
      case Strategy::kLeastLatency: outcome = by_latency(candidates, std::move(available)); break;
      case Strategy::kLeastBusy: outcome = by_in_flight(candidates, std::move(available)); break;
      case Strategy::kCostOptimized: outcome = by_cost(candidates, std::move(available)); break;
      case Strategy::kUsageBalanced: outcome = by_usage(candidates, std::move(available)); break;
    }
  }
  outcome.order.insert(outcome.order.end(), unavailable.begin(), unavailable.end());
  return {std::move(outcome.order), std::move(outcome.reason)};
}

}  // namespace tollgate::core
