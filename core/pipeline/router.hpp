// Router stage: resolves the requested model name to the ordered deployments the executor may try.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/pipeline/middleware.hpp"

namespace tollgate::core {

/// Finds the Provider serving a configured provider id (nullptr when none).
using ProviderLookup = std::function<Provider*(std::string_view provider_id)>;

/// Sets ctx.model to the configured model and fills ctx.plan: the model's deployments in priority (config) order, then each fallback model's
/// deployments in turn, each (provider, upstream model) once; providers that are not available()
/// are left out (a model with none left answers 503 no_healthy_deployment from the executor). An unknown model name answers 404
/// model_not_found without calling next. Plans are computed once at construction; per request the
/// stage is one hash lookup and a copy of a short vector.
/// Routing strategies other than `priority` (issue: routing) will reorder the plan here.
class Router final : public Middleware {
 public:
  Router(std::shared_ptr<const config::Config> config, const ProviderLookup& lookup);
  std::string_view name() const noexcept override { return "router"; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override;

  /// The plan for a model name, or nullptr when the name is not configured.
  const std::vector<Candidate>* plan_for(std::string_view model) const;

 private:
  /// Looks plans up by string_view, without building a std::string per request.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept { return std::hash<std::string_view>{}(name); }
  };

  struct Route {
    const config::ModelConfig* model;
    std::vector<Candidate> plan;
  };

  std::shared_ptr<const config::Config> config_;
  std::unordered_map<std::string, Route, NameHash, std::equal_to<>> routes_;
};

}  // namespace tollgate::core
