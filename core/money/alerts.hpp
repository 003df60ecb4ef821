// Budget alerts: what is sent when a budget's spend crosses one of its thresholds.
#pragma once

#include <cstdint>
#include <string>

#include "core/money/money.hpp"

namespace tollgate::core {

/// One threshold crossed, once per threshold per budget per period.
struct BudgetAlert {
  std::string budget_id;    // the budget's id ("bud_…", or "config_<n>" for config budgets)
  std::string budget_name;  // a readable label, e.g. "team=ml monthly"
  std::string scope;        // global|provider|model|virtual_key|team|project|customer|feature
  std::string scope_id;     // the value it applies to; empty for global
  std::string period;       // daily|weekly|monthly|total
  std::int64_t period_start = 0;  // Unix ms
  std::int64_t period_end = 0;    // Unix ms; INT64_MAX for total
  Nanos spend = 0;
  Nanos limit = 0;
  double threshold = 0;     // the fraction crossed, e.g. 0.75
  std::string enforcement;  // hard|soft|alert
  std::int64_t at = 0;      // Unix ms when it was crossed
};

/// Where alerts go (a webhook, tests). notify() must never block or throw: it is called on the
/// request path, after the reply.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void notify(BudgetAlert alert) = 0;
};

}  // namespace tollgate::core
