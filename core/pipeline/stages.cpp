// The chat pipeline's stage order.
#include "core/pipeline/stages.hpp"

#include "core/pipeline/accounting.hpp"
#include "core/pipeline/budget.hpp"
#include "core/pipeline/cache_stage.hpp"
#include "core/pipeline/dedup_stage.hpp"
#include "core/pipeline/failover_executor.hpp"
#include "core/pipeline/model_access.hpp"
#include "core/pipeline/rate_limit.hpp"

namespace tollgate::core {

Pipeline build_chat_pipeline(const StageDeps& deps) {
  std::vector<std::unique_ptr<Middleware>> stages;
  stages.push_back(std::make_unique<Accounting>(deps.pricing, deps.budgets, deps.metrics, deps.clock));
  stages.push_back(std::make_unique<ModelAccess>());
  stages.push_back(std::make_unique<RateLimit>(deps.counters, deps.clock, deps.metrics));
  stages.push_back(std::make_unique<BudgetGate>(deps.config, deps.pricing, deps.budgets, deps.clock));
  if (deps.cache != nullptr)
    stages.push_back(std::make_unique<CacheStage>(deps.config, *deps.cache, deps.pricing, deps.metrics, deps.clock,
                                                  deps.random,
                                                  deps.config->cache.mode == "semantic" ? deps.embedder : nullptr));
  if (deps.flights != nullptr)
    stages.push_back(std::make_unique<DedupStage>(deps.config, *deps.flights, deps.pricing, deps.metrics,
                                                  deps.config->dedup.semantic.enabled ? deps.embedder : nullptr));
  stages.push_back(std::make_unique<Router>(
      RouterDeps{deps.config, deps.providers, deps.fleet, deps.pricing, deps.clock, deps.random, deps.metrics}));
  stages.push_back(std::make_unique<FailoverExecutor>(ExecutorDeps{
      deps.config->routing, deps.config->server.request_timeout, deps.clock, deps.metrics, deps.fleet, deps.random}));
  return Pipeline(std::move(stages));
}

}  // namespace tollgate::core
