// Admin handler support: views, audit entries, path and query parsing.
#include "server/admin/admin_support.hpp"

#include "core/time_format.hpp"

namespace tollgate::server {
namespace {

nlohmann::json optional_int(const std::optional<std::int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::json optional_time(const std::optional<core::UnixMillis>& v) {
  return v ? nlohmann::json(core::format_rfc3339(*v)) : nlohmann::json();
}

nlohmann::json parsed_or(const std::string& text, nlohmann::json fallback) {
  if (text.empty()) return fallback;
  auto json = nlohmann::json::parse(text, nullptr, false);
  return json.is_discarded() ? fallback : json;
}

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<core::UnixMillis> key_cooling_until(const AdminServices& services, const core::UpstreamKey& key) {
  const auto now = services.clock.now();
  const auto until = services.upstream_keys.cooling_until(key.record.id, now);
  if (!until) return std::nullopt;
  return core::unix_now(services.clock) + std::chrono::ceil<std::chrono::milliseconds>(*until - now).count();
}

nlohmann::json upstream_key_json(const core::UpstreamKey& key, std::optional<core::UnixMillis> cooling_until) {
  const auto& r = key.record;
  const bool cooling = cooling_until && r.state == "active";
  return {{"id", r.id},
          {"object", "upstream_key"},
          {"provider_id", r.provider_id},
          {"fingerprint", r.fingerprint},
          {"state", cooling ? std::string("cooling_down") : r.state},
          {"cooling_until", cooling ? nlohmann::json(core::format_rfc3339(*cooling_until)) : nlohmann::json()},
          {"state_reason", r.state_reason.empty() ? nlohmann::json() : nlohmann::json(r.state_reason)},
          {"metadata", parsed_or(r.metadata, nlohmann::json::object())},
          {"rpm", optional_int(r.rpm)},
          {"tpm", optional_int(r.tpm)},
          {"weight", r.weight},
          {"source", key.from_config ? "config" : "api"},
          {"created_at", key.from_config ? nlohmann::json() : nlohmann::json(core::format_rfc3339(r.created_at))},
          {"updated_at", key.from_config ? nlohmann::json() : nlohmann::json(core::format_rfc3339(r.updated_at))}};
}

nlohmann::json virtual_key_json(const core::VirtualKey& key, core::UnixMillis now) {
  nlohmann::json metadata = nlohmann::json::object();
  if (!key.team.empty()) metadata["team"] = key.team;
  if (!key.project.empty()) metadata["project"] = key.project;
  if (!key.customer.empty()) metadata["customer"] = key.customer;
  return {{"id", key.id},
          {"object", "virtual_key"},
          {"name", key.name},
          {"key_hint", key.hint},
          {"models", key.models.empty() ? nlohmann::json() : nlohmann::json(key.models)},
          {"rpm", optional_int(key.rpm)},
          {"tpm", optional_int(key.tpm)},
          {"budget", parsed_or(key.budget, nlohmann::json())},
          {"metadata", std::move(metadata)},
          {"expires_at", optional_time(key.expires_at)},
          {"state", core::to_string(core::key_state(key, now))},
          {"created_at", core::format_rfc3339(key.created_at)},
          {"updated_at", core::format_rfc3339(key.updated_at)},
          {"revoked_at", optional_time(key.revoked_at)}};
}

void audit_admin(const AdminServices& services, const Exchange& exchange, std::string action, std::string target,
                 unsigned status, nlohmann::json detail) {
  core::AuditRecord record;
  record.at = core::unix_now(services.clock);
  record.kind = "admin";
  record.actor = std::string(exchange.caller.id());
  record.action = std::move(action);
  record.target = std::move(target);
  record.status = static_cast<int>(status);
  detail["request_id"] = exchange.request_id;
  record.detail = detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  services.store.append_audit(std::move(record));
}

HttpReply refused(const AdminServices& services, const Exchange& exchange, std::string action, std::string target,
                  const core::GatewayError& error) {
  audit_admin(services, exchange, std::move(action), std::move(target), error.info().status, {{"error", error.message}});
  return HttpReply::error(error);
}

std::optional<ResourcePath> resource_path(std::string_view target, std::string_view prefix) {
  std::string_view path = target.substr(0, target.find('?'));
  if (!path.starts_with(prefix)) return std::nullopt;
  path.remove_prefix(prefix.size());
  ResourcePath out;
  const auto slash = path.find('/');
  const std::string_view id = path.substr(0, slash);
  if (id.empty() || id.size() > 64) return std::nullopt;
  for (char c : id)
    if (!id_char(c)) return std::nullopt;
  out.id = std::string(id);
  if (slash != std::string_view::npos) {
    const std::string_view action = path.substr(slash + 1);
    if (action.empty() || action.size() > 32) return std::nullopt;
    for (char c : action)
      if (!id_char(c)) return std::nullopt;
    out.action = std::string(action);
  }
  return out;
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::string value;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value.push_back(' ');
      } else if (raw[i] == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 && hex_value(raw[i + 2]) >= 0) {
        value.push_back(static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2])));
        i += 2;
      } else {
        value.push_back(raw[i]);
      }
    }
    return value;
  }
  return std::nullopt;
}

HttpReply list_reply(nlohmann::json items) {
  return HttpReply::json(200, nlohmann::json{{"object", "list"}, {"data", std::move(items)}}.dump(
                                  -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpReply not_found(std::string_view what, std::string_view id) {
  return HttpReply::error(core::make_error(core::ErrorKind::kResourceNotFound,
                                           "No " + std::string(what) + " with id '" + std::string(id) + "'."));
}

HttpReply not_stored() {
  return HttpReply::error(core::make_error(core::ErrorKind::kInternal,
                                           "The change could not be stored; see the server log. Nothing was changed "
                                           "on disk."));
}

}  // namespace tollgate::server
