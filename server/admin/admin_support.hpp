// Shared pieces of the admin handlers: services, JSON views of records, audit entries, paths.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/identity/upstream_keys.hpp"
#include "core/identity/virtual_keys.hpp"
#include "core/money/budget_book.hpp"
#include "core/store/store.hpp"
#include "core/time_format.hpp"
#include "server/exchange.hpp"
#include "server/http.hpp"

namespace tollgate::server {

/// What the admin handlers work on; owned by the app, outliving every request.
struct AdminServices {
  std::shared_ptr<const config::Config> config;
  core::UpstreamKeys& upstream_keys;
  core::VirtualKeys& virtual_keys;
  core::Store& store;
  const core::Clock& clock;
  core::BudgetBook& budgets;
};

/// The public view of an upstream key: never the material, only its fingerprint.
/// `cooling_until` (Unix ms): the key rests after a 429 until then; its state shows `cooling_down`.
nlohmann::json upstream_key_json(const core::UpstreamKey& key, std::optional<core::UnixMillis> cooling_until = std::nullopt);
/// When the key rests until, as wall time, if it is cooling down now.
std::optional<core::UnixMillis> key_cooling_until(const AdminServices& services, const core::UpstreamKey& key);
/// The public view of a virtual key: never the secret (nor its hash), only its hint.
nlohmann::json virtual_key_json(const core::VirtualKey& key, core::UnixMillis now);

/// Queues an admin audit entry: who (the exchange's caller), what, on which id, with what outcome.
/// `detail` must hold no secret.
void audit_admin(const AdminServices& services, const Exchange& exchange, std::string action, std::string target,
                 unsigned status, nlohmann::json detail = nlohmann::json::object());

/// A refused admin change: audited with its status and message, then answered as the error.
HttpReply refused(const AdminServices& services, const Exchange& exchange, std::string action, std::string target,
                  const core::GatewayError& error);

/// The `{id}` (and optional `/{action}`) after `prefix` in a request target, without the query.
/// nullopt when the id is missing or not of the shape tollgate issues ([A-Za-z0-9_-], ≤ 64).
struct ResourcePath {
  std::string id;
  std::string action;  // e.g. "rotate"; empty when none
};
std::optional<ResourcePath> resource_path(std::string_view target, std::string_view prefix);

/// A query parameter's raw value (no percent-decoding beyond '+' and %XX), nullopt when absent.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

/// 200 with `{"data": [...]}`.
HttpReply list_reply(nlohmann::json items);
HttpReply not_found(std::string_view what, std::string_view id);
/// 500 for a write the store could not commit (the log has the cause).
HttpReply not_stored();

}  // namespace tollgate::server
