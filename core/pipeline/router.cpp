// Router stage: model name → ordered candidate deployments (priority order plus fallbacks).
#include "core/pipeline/router.hpp"

#include <algorithm>

namespace tollgate::core {
namespace {

void append_model(const config::Config& config, const config::ModelConfig& model, const ProviderLookup& lookup,
                  std::vector<const config::ModelConfig*>& visited, std::vector<Candidate>& plan) {
  if (std::find(visited.begin(), visited.end(), &model) != visited.end()) return;
  visited.push_back(&model);
  for (const auto& deployment : model.deployments) {
    Provider* provider = lookup(deployment.provider);
    if (provider == nullptr || !provider->available()) continue;
    bool seen = std::any_of(plan.begin(), plan.end(), [&](const Candidate& c) {
      return c.provider == provider && c.deployment->model == deployment.model;
    });
    if (!seen) plan.push_back(Candidate{provider, &deployment, &model});
  }
  for (const auto& fallback : model.fallbacks)
    if (const auto* next = config.find_model(fallback)) append_model(config, *next, lookup, visited, plan);
}

}  // namespace

Router::Router(std::shared_ptr<const config::Config> config, const ProviderLookup& lookup) : config_(std::move(config)) {
  for (const auto& model : config_->models) {
    std::vector<const config::ModelConfig*> visited;
    std::vector<Candidate> plan;
    append_model(*config_, model, lookup, visited, plan);
    routes_.emplace(model.name, Route{&model, std::move(plan)});
  }
}

const std::vector<Candidate>* Router::plan_for(std::string_view model) const {
  auto it = routes_.find(model);
  return it == routes_.end() ? nullptr : &it->second.plan;
}

boost::asio::awaitable<Reply> Router::handle(RequestContext& ctx, Next next) const {
  auto route = routes_.find(ctx.model_name);
  if (route == routes_.end())
    co_return Reply::error(make_error(ErrorKind::kModelNotFound,
                                      "The model `" + ctx.model_name + "` does not exist or you do not have access to it.",
                                      "model"));
  ctx.model = route->second.model;
  ctx.plan = route->second.plan;
  co_return co_await next(ctx);
}

}  // namespace tollgate::core
