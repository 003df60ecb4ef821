// Router stage: orders the requested model's deployments (and its fallbacks') for the executor.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/metrics/metrics.hpp"
#include "core/money/pricing.hpp"
#include "core/pipeline/middleware.hpp"
#include "core/random.hpp"
#include "core/routing/fleet.hpp"
#include "core/routing/strategy.hpp"

namespace tollgate::core {

/// Finds the Provider serving a configured provider id (nullptr when none).
using ProviderLookup = std::function<Provider*(std::string_view provider_id)>;

/// What the router orders with; references outlive it (the app owns them).
struct RouterDeps {
  std::shared_ptr<const config::Config> config;
  ProviderLookup providers;
  Fleet& fleet;
  const Pricing& pricing;
  const Clock& clock;
  Random& random;
  Metrics& metrics;
};

/// The output tokens assumed when comparing deployments' costs for a request without max_tokens:
/// the order, not the amount, is what matters, and it is the same for every candidate.
inline constexpr std::int64_t kRoutingOutputTokens = 256;

/// Sets ctx.model and ctx.plan: the model's deployments ordered by its strategy (model `strategy`,
/// else routing.strategy), then each fallback model's deployments (ordered by that model's
/// strategy) in chain order, each (provider, upstream model) once; providers this build cannot
/// call are left out. A request's `x-tollgate-objective` / `x-tollgate-priority` (ctx.objective,
/// ctx.priority) replace the strategy by the blend of routing.objectives. Deployments whose circuit
/// is open, whose keys all rest or whose rpm/tpm is used up go last (the executor passes over them
/// and says when they come back). ctx.context_plan holds the model's context_window_fallbacks the
/// same way. Sets ctx.routing_reason (why the first candidate leads) and counts
/// tollgate_routing_decisions_total{strategy, deployment}. An unknown model answers 404
/// model_not_found without calling next. A model with one deployment, or plain priority order,
/// costs one hash lookup and a vector copy.
class Router final : public Middleware {
 public:
  explicit Router(RouterDeps deps);
  std::string_view name() const noexcept override { return "router"; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override;

  /// The plan in config order for a model name, or nullptr when the name is not configured.
  const std::vector<Candidate>* plan_for(std::string_view model) const;

 private:
  /// Looks routes up by string_view, without building a std::string per request.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept { return std::hash<std::string_view>{}(name); }
  };
  /// One model's run of candidates inside a plan.
  struct Group {
    const config::ModelConfig* model;
    Strategy strategy;
    std::size_t begin;
    std::size_t end;
    std::atomic<std::uint64_t>* rr;  // the model's round-robin counter
  };
  struct Plan {
    std::vector<Candidate> candidates;  // config order
    std::vector<Group> groups;
    bool fixed = true;  // every group has one candidate or plain priority order: no reordering to do
  };
  struct Route {
    const config::ModelConfig* model;
    Plan plan;
    Plan context_plan;  // context_window_fallbacks
  };

  Plan build_plan(const std::vector<const config::ModelConfig*>& roots) const;
  /// Orders `plan` for this request into `out`; returns why the first candidate leads.
  std::string order(const Plan& plan, RequestContext& ctx, std::vector<Candidate>& out) const;
  Strategy strategy_of(const config::ModelConfig& model) const;

  RouterDeps deps_;
  BlendWeights blend_;
  std::vector<std::unique_ptr<std::atomic<std::uint64_t>>> rr_counters_;
  std::unordered_map<const config::ModelConfig*, std::atomic<std::uint64_t>*> rr_by_model_;
  std::unordered_map<std::string, Route, NameHash, std::equal_to<>> routes_;
};

/// routing.objectives over the built-in weights, field by field.
BlendWeights blend_weights(const config::RoutingConfig& routing);

}  // namespace tollgate::core
