// Charge: usage source, estimate fallback, cost and downgrade savings.
#include "core/money/charge.hpp"

#include <algorithm>

#include "core/openai/token_estimate.hpp"

namespace tollgate::core {

std::string_view to_string(UsageSource source) noexcept {
  switch (source) {
    case UsageSource::kProvider: return "provider";
    case UsageSource::kEstimated: return "estimated";
    case UsageSource::kCache: return "cache";
    case UsageSource::kNone: break;
  }
  return "none";
}

Charge charge(const RequestContext& ctx, const Pricing& pricing) {
  Charge out;
  if (ctx.cached_cost) {
    // Served from the cache: no upstream call, nothing to pay; the stored answer's cost is saved.
    if (ctx.usage) out.usage = *ctx.usage;
    out.source = UsageSource::kCache;
    out.saved = *ctx.cached_cost;
    return out;
  }
  if (ctx.deployment == nullptr) return out;
  if (ctx.usage) {
    out.usage = *ctx.usage;
    out.source = UsageSource::kProvider;
  } else {
    // The prompt estimate exists whenever a deployment answered: the budget or rate-limit stage
    // computed it, or it is computed here from the body (a const read: no caching).
    out.usage.prompt_tokens = ctx.prompt_tokens_estimate();
    out.usage.completion_tokens = tokens_for_bytes(ctx.output_text_bytes);
    out.usage.total_tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
    out.usage.estimated = true;
    out.source = UsageSource::kEstimated;
  }
  const DeploymentPrice& price = pricing.of(*ctx.deployment);
  out.priced = price.priced;
  out.cost = cost_nanos(out.usage, price.price);
  if (!ctx.requested_model.empty()) {
    if (const auto* requested = ctx.config->find_model(ctx.requested_model)) {
      const Nanos would_have = cost_nanos(out.usage, pricing.primary(*requested).price);
      out.saved = std::max<Nanos>(0, would_have - out.cost);
    }
  }
  return out;
}

}  // namespace tollgate::core
