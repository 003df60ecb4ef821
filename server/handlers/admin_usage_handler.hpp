// GET /api/v1/usage and /api/v1/usage/top: requests, tokens, cost and savings from the ledger.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "core/store/store.hpp"
#include "server/admin/admin_support.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

/// The values `group_by` may take on /api/v1/usage, and `by` on /api/v1/usage/top.
inline constexpr std::string_view kUsageGroups[] = {"model", "provider", "deployment", "virtual_key", "team",
                                                    "project", "customer", "feature", "day", "hour"};
inline constexpr std::string_view kUsageTopGroups[] = {"model", "virtual_key", "customer"};

/// Reads the query string of GET /api/v1/usage (`top` false: from, to, group_by, limit) or of
/// GET /api/v1/usage/top (`top` true: from, to, by — default model — and limit, default 10).
/// from/to are RFC 3339 or Unix seconds; from defaults to the start of the UTC month of `now`, to
/// to just after `now` (the range is half-open, and a request received in this very millisecond
/// counts). A 400 naming the parameter for a bad value, for from after to, or for an unknown group.
core::Result<core::UsageQuery> usage_query(std::string_view target, core::UnixMillis now, bool top);

/// The answer: {"from","to","group_by" (null for none),"rows":[{"group",…}],"total":{…}}; money as
/// exact decimal strings, a row without a value (e.g. requests by the master key per virtual_key)
/// has "group": null.
nlohmann::json usage_json(const core::UsageQuery& query, const core::UsageReport& report);

/// Serves GET /api/v1/usage and GET /api/v1/usage/top (admin only). Reads the ledger after every
/// write queued before the call; a failed read is a 500.
class AdminUsageHandler final : public Handler {
 public:
  explicit AdminUsageHandler(AdminServices services) : services_(std::move(services)) {}
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  AdminServices services_;
};

}  // namespace tollgate::server
