// Usage reports: ledger totals per group over a time range.
#include "server/handlers/admin_usage_handler.hpp"

#include <algorithm>
#include <charconv>
#include <span>

#include "core/money/money.hpp"
#include "core/money/periods.hpp"
#include "core/store/awaiting.hpp"
#include "core/time_format.hpp"

namespace tollgate::server {
namespace {

constexpr std::size_t kMaxLimit = 1000;
constexpr std::size_t kDefaultTopLimit = 10;

core::GatewayError bad_param(std::string name, std::string message) {
  return core::make_error(core::ErrorKind::kInvalidRequest, std::move(message), std::move(name));
}

std::string listed(std::span<const std::string_view> values) {
  std::string out;
  for (auto v : values) out += (out.empty() ? "" : ", ") + std::string(v);
  return out;
}

core::Result<core::UnixMillis> time_param(const std::string& name, const std::string& value) {
  auto parsed = core::parse_time(value);
  if (!parsed)
    return bad_param(name, "'" + name + "' must be an RFC 3339 time (2026-11-01T00:00:00Z) or Unix seconds.");
  return *parsed;
}

nlohmann::json totals_json(const core::UsageRow& row) {
  return {{"requests", row.requests},
          {"prompt_tokens", row.prompt_tokens},
          {"completion_tokens", row.completion_tokens},
          {"cost_usd", core::format_usd(row.cost_nanos)},
          {"saved_usd", core::format_usd(row.saved_nanos)}};
}

}  // namespace

core::Result<core::UsageQuery> usage_query(std::string_view target, core::UnixMillis now, bool top) {
  core::UsageQuery query;
  query.from = core::Calendar().window(core::Period::kMonthly, now).start;
  query.to = now + 1;
  if (auto from = query_param(target, "from")) {
    auto parsed = time_param("from", *from);
    if (!parsed) return parsed.error();
    query.from = *parsed;
  }
  if (auto to = query_param(target, "to")) {
    auto parsed = time_param("to", *to);
    if (!parsed) return parsed.error();
    query.to = *parsed;
  }
  if (query.from > query.to) return bad_param("from", "'from' must not be after 'to'.");

  const std::string group_name = top ? "by" : "group_by";
  const std::span<const std::string_view> groups = top ? std::span<const std::string_view>(kUsageTopGroups)
                                                       : std::span<const std::string_view>(kUsageGroups);
  auto group = query_param(target, group_name);
  if (top && (!group || group->empty())) group = "model";
  if (group && !group->empty()) {
    if (std::find(groups.begin(), groups.end(), *group) == groups.end())
      return bad_param(group_name, "'" + group_name + "' must be one of " + listed(groups) + ".");
    query.group_by = *group;
  }

  if (top) query.limit = kDefaultTopLimit;
  if (auto limit = query_param(target, "limit")) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (ec != std::errc{} || end != limit->data() + limit->size() || n < 1 || n > kMaxLimit)
      return bad_param("limit", "'limit' must be an integer from 1 to " + std::to_string(kMaxLimit) + ".");
    query.limit = n;
  }
  return query;
}

nlohmann::json usage_json(const core::UsageQuery& query, const core::UsageReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : report.rows) {
    nlohmann::json item = totals_json(row);
    item["group"] = row.group.empty() ? nlohmann::json() : nlohmann::json(row.group);
    rows.push_back(std::move(item));
  }
  return {{"from", core::format_rfc3339(query.from)},
          {"to", core::format_rfc3339(query.to)},
          {"group_by", query.group_by.empty() ? nlohmann::json() : nlohmann::json(query.group_by)},
          {"rows", std::move(rows)},
          {"total", totals_json(report.total)}};
}

boost::asio::awaitable<HttpReply> AdminUsageHandler::handle(const Request& request, Exchange&) {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const bool top = path == "/api/v1/usage/top";
  if (!top && path != "/api/v1/usage")
    co_return HttpReply::error(
        core::make_error(core::ErrorKind::kRouteNotFound, "Invalid URL (GET " + std::string(path) + ")"));
  auto query = usage_query(target, core::unix_now(services_.clock), top);
  if (!query) co_return HttpReply::error(query.error());
  auto report = co_await core::query_usage(services_.store, *query);
  if (!report)
    co_return HttpReply::error(core::make_error(core::ErrorKind::kInternal,
                                                "The usage could not be read from the ledger; see the server log."));
  co_return HttpReply::json(200, usage_json(*query, *report).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace tollgate::server
