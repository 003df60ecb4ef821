// Audit log queries.
#include "server/handlers/admin_audit_handler.hpp"

#include <charconv>

#include "core/store/awaiting.hpp"
#include "core/time_format.hpp"

namespace tollgate::server {
namespace {

constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 1000;

core::GatewayError bad_param(std::string name, std::string message) {
  return core::make_error(core::ErrorKind::kInvalidRequest, std::move(message), std::move(name));
}

nlohmann::json entry_json(const core::AuditRecord& r) {
  auto detail = nlohmann::json::parse(r.detail, nullptr, false);
  return {{"id", r.id},
          {"at", core::format_rfc3339(r.at)},
          {"kind", r.kind},
          {"actor", r.actor},
          {"action", r.action},
          {"target", r.target.empty() ? nlohmann::json() : nlohmann::json(r.target)},
          {"status", r.status},
          {"detail", detail.is_discarded() ? nlohmann::json::object() : std::move(detail)}};
}

}  // namespace

boost::asio::awaitable<HttpReply> AdminAuditHandler::handle(const Request& request, Exchange&) {
  core::AuditQuery query;
  query.limit = kDefaultLimit;
  if (auto since = query_param(request.target(), "since")) {
    auto parsed = core::parse_time(*since);
    if (!parsed)
      co_return HttpReply::error(bad_param("since", "'since' must be an RFC 3339 time (2026-11-22T00:00:00Z) or Unix seconds."));
    query.since = *parsed;
  }
  if (auto limit = query_param(request.target(), "limit")) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (ec != std::errc{} || end != limit->data() + limit->size() || n < 1 || n > kMaxLimit)
      co_return HttpReply::error(bad_param("limit", "'limit' must be an integer from 1 to " + std::to_string(kMaxLimit) + "."));
    query.limit = n;
  }
  const std::size_t wanted = query.limit;
  query.limit = wanted + 1;  // one more tells whether there is more
  auto records = co_await core::query_audit(services_.store, query);
  bool has_more = records.size() > wanted;
  if (has_more) {
    // With `since` the extra entry is the newest; without it, the oldest.
    if (query.since) records.pop_back();
    else records.erase(records.begin());
  }
  nlohmann::json items = nlohmann::json::array();
  for (const auto& record : records) items.push_back(entry_json(record));
  co_return HttpReply::json(200, nlohmann::json{{"object", "list"}, {"data", std::move(items)}, {"has_more", has_more}}.dump(
                                     -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace tollgate::server
