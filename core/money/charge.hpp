// Charge: what one request costs, from the upstream's usage or tollgate's estimate.
#pragma once

#include <string_view>

#include "core/money/money.hpp"
#include "core/money/pricing.hpp"
#include "core/pipeline/request_context.hpp"

namespace tollgate::core {

/// Where a request's token counts come from.
enum class UsageSource {
  kProvider,   // the upstream's usage (the body's `usage`, or a stream's final usage chunk)
  kEstimated,  // tollgate's estimate: the upstream answered but reported none (or the stream was cut first)
  kCache,      // served by tollgate without an upstream call
  kNone,       // nothing answered: no tokens, no cost
};
std::string_view to_string(UsageSource source) noexcept;

struct Charge {
  Usage usage;
  UsageSource source = UsageSource::kNone;
  Nanos cost = 0;
  bool priced = true;      // false: the deployment has no price and the cost is 0
  Nanos saved = 0;         // against the requested model's price after a downgrade; a cache hit's original cost
};

/// The request's charge as far as it is known now: the answering deployment's price applied to
/// the usage, or to an estimate (prompt estimate + answer text seen) when the upstream reported
/// none. After a budget downgrade, `saved` is what the requested model's first deployment would
/// have charged for the same usage, less the cost (never negative). A cache hit, or a request
/// that joined an identical one in flight (dedup), costs 0 and saves what the upstream call cost
/// (source cache; the accounting stage files the saving under cache or dedup).
Charge charge(const RequestContext& ctx, const Pricing& pricing);

}  // namespace tollgate::core
