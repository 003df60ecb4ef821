// Router stage: model name → candidates ordered by strategy or objective, then fallbacks.
#include "core/pipeline/router.hpp"

#include <algorithm>

#include "core/money/money.hpp"
#include "core/openai/token_estimate.hpp"

namespace tollgate::core {
namespace {

int tier_rank(std::string_view tier) noexcept {
  if (tier == "premium") return 2;
  if (tier == "standard") return 1;
  return 0;
}

void apply(ObjectiveWeights& weights, const config::ObjectiveWeightsConfig& config) {
  if (config.cost) weights.cost = *config.cost;
  if (config.latency) weights.latency = *config.latency;
  if (config.quality) weights.quality = *config.quality;
  if (config.reliability) weights.reliability = *config.reliability;
  if (config.fairness) weights.fairness = *config.fairness;
}

bool wants_cost(Strategy strategy, const ObjectiveWeights& weights, bool blended) noexcept {
  return blended ? weights.cost > 0 : strategy == Strategy::kCostOptimized;
}

}  // namespace

BlendWeights blend_weights(const config::RoutingConfig& routing) {
  BlendWeights blend;
  for (const auto& [name, weights] : routing.objectives) {
    if (name == "cost") apply(blend.cost, weights);
    else if (name == "latency") apply(blend.latency, weights);
    else if (name == "quality") apply(blend.quality, weights);
    else if (name == "reliability") apply(blend.reliability, weights);
    else if (name == "fairness") apply(blend.fairness, weights);
    else if (name == "high") apply(blend.high_priority, weights);
    else if (name == "low") apply(blend.low_priority, weights);
  }
  return blend;
}

Router::Router(RouterDeps deps) : deps_(std::move(deps)), blend_(blend_weights(deps_.config->routing)) {
  for (const auto& model : deps_.config->models) {
    rr_counters_.push_back(std::make_unique<std::atomic<std::uint64_t>>(0));
    rr_by_model_.emplace(&model, rr_counters_.back().get());
  }
  for (const auto& model : deps_.config->models) {
    Route route{&model, build_plan({&model}), {}};
    std::vector<const config::ModelConfig*> larger;
    for (const auto& name : model.context_window_fallbacks)
      if (const auto* next = deps_.config->find_model(name)) larger.push_back(next);
    route.context_plan = build_plan(larger);
    routes_.emplace(model.name, std::move(route));
  }
}

Strategy Router::strategy_of(const config::ModelConfig& model) const {
  const std::string& name = model.strategy.empty() ? deps_.config->routing.strategy : model.strategy;
  return parse_strategy(name).value_or(Strategy::kPriority);
}

Router::Plan Router::build_plan(const std::vector<const config::ModelConfig*>& roots) const {
  Plan plan;
  std::vector<const config::ModelConfig*> visited;
  // Depth first, as the chain reads: a model's deployments, then its fallbacks' in order.
  std::function<void(const config::ModelConfig&)> append = [&](const config::ModelConfig& model) {
    if (std::find(visited.begin(), visited.end(), &model) != visited.end()) return;
    visited.push_back(&model);
    Group group{&model, strategy_of(model), plan.candidates.size(), 0, rr_by_model_.at(&model)};
    for (const auto& deployment : model.deployments) {
      Provider* provider = deps_.providers(deployment.provider);
      if (provider == nullptr || !provider->available()) continue;
      const bool seen = std::any_of(plan.candidates.begin(), plan.candidates.end(), [&](const Candidate& c) {
        return c.provider == provider && c.deployment->model == deployment.model;
      });
      if (!seen) plan.candidates.push_back(Candidate{provider, &deployment, &model});
    }
    group.end = plan.candidates.size();
    if (group.end > group.begin) {
      if (group.end - group.begin > 1 && group.strategy != Strategy::kPriority) plan.fixed = false;
      plan.groups.push_back(group);
    }
    for (const auto& fallback : model.fallbacks)
      if (const auto* next = deps_.config->find_model(fallback)) append(*next);
  };
  for (const auto* root : roots) append(*root);
  return plan;
}

const std::vector<Candidate>* Router::plan_for(std::string_view model) const {
  auto it = routes_.find(model);
  return it == routes_.end() ? nullptr : &it->second.plan.candidates;
}

std::string Router::order(const Plan& plan, RequestContext& ctx, std::vector<Candidate>& out) const {
  out.clear();
  const bool blended = ctx.objective != Objective::kNone || ctx.priority != Priority::kNormal;
  if (plan.candidates.empty()) return "no deployment";
  if (plan.fixed && !blended) {
    out = plan.candidates;
    return plan.candidates.size() == 1 ? "only deployment" : "priority: config order";
  }
  const ObjectiveWeights weights = blend_.combined(ctx.objective, ctx.priority);
  const auto now = deps_.clock.now();
  std::string reason;
  std::vector<CandidateView> views;
  out.reserve(plan.candidates.size());
  for (const Group& group : plan.groups) {
    const std::size_t size = group.end - group.begin;
    if (size == 1) {
      out.push_back(plan.candidates[group.begin]);
      if (reason.empty()) reason = "only deployment";
      continue;
    }
    const bool need_cost = wants_cost(group.strategy, weights, blended);
    Usage expected;
    if (need_cost) {
      expected.prompt_tokens = ctx.estimated_prompt_tokens();
      const std::int64_t asked = requested_output_tokens(ctx.body);
      expected.completion_tokens = asked > 0 ? asked : kRoutingOutputTokens;
    }
    views.assign(size, CandidateView{});
    double total_rpm = 0;
    for (std::size_t i = 0; i < size; ++i) {
      const Candidate& candidate = plan.candidates[group.begin + i];
      const DeploymentState& state = deps_.fleet.of(*candidate.deployment);
      CandidateView& view = views[i];
      view.weight = candidate.deployment->weight;
      view.tier = tier_rank(candidate.deployment->tier);
      view.latency_ms = ctx.stream && state.ttft_ms() > 0 ? state.ttft_ms() : state.latency_ms();
      view.in_flight = state.in_flight() + state.gate().queued();
      const auto health = state.breaker().snapshot(now);
      view.error_rate = health.failure_rate;
      if (need_cost) view.cost_nanos = cost_nanos(expected, deps_.pricing.of(*candidate.deployment).price);
      const double rpm = state.recent_rpm(now);
      total_rpm += rpm;
      view.usage_ratio = candidate.deployment->rpm > 0 ? rpm / static_cast<double>(candidate.deployment->rpm) : rpm;
      view.available = health.state != CircuitState::kOpen && !candidate.provider->unavailable_until(now) &&
                       !state.limited_until(1, now);
    }
    // Without a configured quota, a deployment's share of the group's recent traffic stands in.
    for (std::size_t i = 0; i < size; ++i)
      if (plan.candidates[group.begin + i].deployment->rpm <= 0)
        views[i].usage_ratio = total_rpm > 0 ? views[i].usage_ratio / total_rpm : 0;
    Ordering ordering = order_candidates(group.strategy, ctx.objective, views, deps_.random, *group.rr,
                                         ctx.priority, blend_);
    for (std::size_t index : ordering.order) out.push_back(plan.candidates[group.begin + index]);
    if (reason.empty()) reason = std::move(ordering.reason);
  }
  return reason;
}

boost::asio::awaitable<Reply> Router::handle(RequestContext& ctx, Next next) const {
  auto route = routes_.find(ctx.model_name);
  if (route == routes_.end())
    co_return Reply::error(make_error(ErrorKind::kModelNotFound,
                                      "The model `" + ctx.model_name + "` does not exist or you do not have access to it.",
                                      "model"));
  ctx.model = route->second.model;
  ctx.routing_reason = order(route->second.plan, ctx, ctx.plan);
  if (!route->second.context_plan.candidates.empty()) order(route->second.context_plan, ctx, ctx.context_plan);
  if (!ctx.plan.empty()) {
    const bool blended = ctx.objective != Objective::kNone || ctx.priority != Priority::kNormal;
    const std::string_view strategy =
        blended ? std::string_view("objective") : to_string(strategy_of(*ctx.plan.front().model));
    deps_.metrics.routing_decision(strategy, deps_.fleet.of(*ctx.plan.front().deployment).label());
  }
  co_return co_await next(ctx);
}

}  // namespace tollgate::core
