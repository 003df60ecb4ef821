// Budget specs from their three sources: the config file, the admin API's records, virtual keys.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/money/budget_book.hpp"
#include "core/store/store.hpp"

namespace tollgate::core {

/// The config's `budgets:` (already validated by the config loader), ids "config_<index>".
std::vector<BudgetSpec> config_budgets(const config::Config& config);

/// A stored budget; nullopt (with an error log) when the record no longer reads (e.g. its time zone
/// left the system's tz database).
std::optional<BudgetSpec> budget_from_record(const BudgetRecord& record);

/// A virtual key's own budget (`budget: {limit_usd, period, enforcement}`), id "vkb_<key id>",
/// scope virtual_key; nullopt when the key has none or is revoked.
std::optional<BudgetSpec> key_budget(const VirtualKeyRecord& key);
std::string key_budget_id(const VirtualKeyRecord& key);

}  // namespace tollgate::core
