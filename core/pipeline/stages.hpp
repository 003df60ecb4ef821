// Building the request pipeline from config: the one place that decides the stage order.
#pragma once

#include <memory>

#include "core/clock.hpp"
#include "core/cache/embedder.hpp"
#include "core/cache/flights.hpp"
#include "core/cache/response_cache.hpp"
#include "core/metrics/metrics.hpp"
#include "core/money/budget_book.hpp"
#include "core/money/pricing.hpp"
#include "core/pipeline/middleware.hpp"
#include "core/pipeline/router.hpp"
#include "core/random.hpp"
#include "core/ratelimit/shared_counters.hpp"
#include "core/routing/fleet.hpp"

namespace tollgate::core {

/// Everything the stages are built from; references outlive the pipeline (the app owns them).
struct StageDeps {
  std::shared_ptr<const config::Config> config;
  ProviderLookup providers;
  const Clock& clock;
  Metrics& metrics;
  SharedCounters& counters;
  const Pricing& pricing;
  BudgetBook& budgets;
  Fleet& fleet;
  Random& random;
  ResponseCache* cache = nullptr;  // null: cache.mode off
  FlightTable* flights = nullptr;  // null: dedup off
  Embedder* embedder = nullptr;    // null: no semantic matching (cache.mode semantic, dedup.semantic)
};

/// The chat pipeline in DESIGN.md order: accounting (first, so refused requests are accounted
/// too) ▶ auth (model access) ▶ rate limit ▶ budget ▶ cache ▶ dedup ▶ router ▶ failover executor.
/// Stages not built yet are absent; the router and the executor are always on.
Pipeline build_chat_pipeline(const StageDeps& deps);

}  // namespace tollgate::core
