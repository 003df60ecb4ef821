// Virtual key administration.
#include "server/handlers/admin_virtual_keys_handler.hpp"

#include "core/money/budget_specs.hpp"

#include "core/security/tokens.hpp"
#include "core/store/awaiting.hpp"
#include "server/admin/body_fields.hpp"

namespace tollgate::server {
namespace {

constexpr std::string_view kPrefix = "/api/v1/virtual-keys/";
constexpr double kMaxBudgetUsd = 1e12;

/// "tg-…Ab3x": enough to tell keys apart in a list, far too little to guess one.
std::string hint_of(const std::string& secret) { return "tg-…" + secret.substr(secret.size() - 4); }

std::optional<core::GatewayError> read_models(const BodyFields& body, const config::Config& config,
                                              core::VirtualKeyRecord& record) {
  auto models = body.strings("models");
  if (!models) return models.error();
  if (!models->present) return std::nullopt;
  if (!models->value) {
    record.models.clear();
    return std::nullopt;
  }
  if (models->value->empty())
    return BodyFields::invalid("models", "'models' must list at least one model name, or be null for every model.");
  for (const auto& name : *models->value)
    if (!config.find_model(name))
      return BodyFields::invalid("models", "'models' lists '" + name + "', which is not a configured model name.");
  record.models = *models->value;
  return std::nullopt;
}

std::optional<core::GatewayError> read_budget(const BodyFields& body, core::VirtualKeyRecord& record) {
  auto budget = body.object("budget", 1024);
  if (!budget) return budget.error();
  if (!budget->present) return std::nullopt;
  if (!budget->value) {
    record.budget.clear();
    return std::nullopt;
  }
  const auto& b = *budget->value;
  for (const auto& [name, value] : b.items())
    if (name != "limit_usd" && name != "period" && name != "enforcement")
      return BodyFields::invalid("budget." + name.substr(0, 64),
                                 "Unrecognized argument 'budget." + name.substr(0, 64) +
                                     "': a budget has limit_usd, period and enforcement.");
  if (!b.contains("limit_usd")) return BodyFields::missing("budget.limit_usd");
  const auto& limit = b["limit_usd"];
  if (!limit.is_number() || !(limit.get<double>() > 0) || limit.get<double>() > kMaxBudgetUsd)
    return BodyFields::invalid("budget.limit_usd", "'budget.limit_usd' must be a number of US dollars above 0.");
  const std::string period = b.value("period", std::string("monthly"));
  if (b.contains("period") && !b["period"].is_string())
    return BodyFields::invalid("budget.period", "'budget.period' must be one of daily, weekly, monthly, total.");
  if (period != "daily" && period != "weekly" && period != "monthly" && period != "total")
    return BodyFields::invalid("budget.period", "'budget.period' must be one of daily, weekly, monthly, total.");
  if (b.contains("enforcement") && !b["enforcement"].is_string())
    return BodyFields::invalid("budget.enforcement", "'budget.enforcement' must be one of hard, soft, alert.");
  const std::string enforcement = b.value("enforcement", std::string("hard"));
  if (enforcement != "hard" && enforcement != "soft" && enforcement != "alert")
    return BodyFields::invalid("budget.enforcement", "'budget.enforcement' must be one of hard, soft, alert.");
  record.budget = nlohmann::json{{"limit_usd", limit}, {"period", period}, {"enforcement", enforcement}}.dump();
  return std::nullopt;
}

std::optional<core::GatewayError> read_metadata(const BodyFields& body, core::VirtualKeyRecord& record) {
  auto metadata = body.object("metadata", 2048);
  if (!metadata) return metadata.error();
  if (!metadata->present) return std::nullopt;
  record.team.clear();
  record.project.clear();
  record.customer.clear();
  if (!metadata->value) return std::nullopt;
  for (const auto& [name, value] : metadata->value->items()) {
    std::string* slot = name == "team" ? &record.team : name == "project" ? &record.project
                        : name == "customer"                            ? &record.customer
                                                                        : nullptr;
    const std::string param = "metadata." + name.substr(0, 64);
    if (!slot)
      return BodyFields::invalid(param, "Unrecognized argument '" + param + "': metadata has team, project and customer.");
    if (value.is_null()) continue;
    if (!value.is_string() || value.get_ref<const std::string&>().empty() || value.get_ref<const std::string&>().size() > 128)
      return BodyFields::invalid(param, "'" + param + "' must be a non-empty string of at most 128 characters.");
    for (unsigned char c : value.get_ref<const std::string&>())
      if (c < 0x20 || c == 0x7f) return BodyFields::invalid(param, "'" + param + "' must not contain control characters.");
    *slot = value.get<std::string>();
  }
  return std::nullopt;
}

/// Every field but `name` and the secret, shared by create and PATCH.
std::optional<core::GatewayError> read_settings(const BodyFields& body, const config::Config& config,
                                                core::VirtualKeyRecord& record, core::UnixMillis now) {
  if (auto error = read_models(body, config, record)) return error;
  if (auto error = body.rate_limits(record.rpm, record.tpm)) return error;
  if (auto error = read_budget(body, record)) return error;
  if (auto error = read_metadata(body, record)) return error;
  auto expires = body.time("expires_at");
  if (!expires) return expires.error();
  if (expires->present) {
    if (expires->value && *expires->value <= now)
      return BodyFields::invalid("expires_at", "'expires_at' must be in the future.");
    record.expires_at = expires->value;
  }
  return std::nullopt;
}

nlohmann::json with_secret(nlohmann::json view, const std::string& secret) {
  view["key"] = secret;
  return view;
}

}  // namespace

boost::asio::awaitable<bool> AdminVirtualKeysHandler::save(core::VirtualKeyRecord record) {
  auto budget = core::key_budget(record);
  const std::string budget_id = core::key_budget_id(record);
  core::VirtualKeys& keys = services_.virtual_keys;
  // Named, not a temporary inside co_await: g++ 12 destroys such temporaries at the wrong address.
  std::function<void(core::Store::Done)> submit = [&keys, r = std::move(record)](core::Store::Done done) mutable {
    keys.put(std::move(r), std::move(done));
  };
  const bool ok = co_await core::committed(std::move(submit));
  // The key's own budget follows the key: set, changed, removed, or gone with a revocation.
  if (ok && budget) services_.budgets.put(std::move(*budget), core::unix_now(services_.clock));
  else if (ok) services_.budgets.remove(budget_id);
  co_return ok;
}

boost::asio::awaitable<HttpReply> AdminVirtualKeysHandler::handle(const Request& request, Exchange& exchange) {
  const std::string_view target = request.target();
  if (target.substr(0, target.find('?')) == "/api/v1/virtual-keys") {
    if (request.method() == http::verb::post) co_return co_await create(request, exchange);
    const auto now = core::unix_now(services_.clock);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& key : services_.virtual_keys.list()) items.push_back(virtual_key_json(*key, now));
    co_return list_reply(std::move(items));
  }
  auto path = resource_path(target, kPrefix);
  if (!path) co_return not_found("virtual key", "");
  if (path->action == "rotate" && request.method() == http::verb::post)
    co_return co_await rotate(request, exchange, path->id);
  const std::string what = std::string(http::to_string(request.method())) + " " +
                           std::string(target.substr(0, target.find('?')));
  if (path->action == "rotate")
    co_return HttpReply::error(core::make_error(core::ErrorKind::kMethodNotAllowed, "Invalid method for URL (" + what + ")"));
  if (!path->action.empty())
    co_return HttpReply::error(core::make_error(core::ErrorKind::kRouteNotFound, "Invalid URL (" + what + ")"));
  if (request.method() == http::verb::post)
    co_return HttpReply::error(core::make_error(core::ErrorKind::kMethodNotAllowed, "Invalid method for URL (" + what + ")"));
  if (request.method() == http::verb::patch) co_return co_await update(request, exchange, path->id);
  if (request.method() == http::verb::delete_) co_return co_await revoke(exchange, path->id);
  auto key = services_.virtual_keys.find(path->id);
  if (!key) co_return not_found("virtual key", path->id);
  co_return HttpReply::json(200, virtual_key_json(*key, core::unix_now(services_.clock)).dump());
}

boost::asio::awaitable<HttpReply> AdminVirtualKeysHandler::create(const Request& request, Exchange& exchange) {
  auto fail = [&](const core::GatewayError& error) {
    return refused(services_, exchange, "virtual_keys.create", "", error);
  };
  auto body = BodyFields::parse(request.body(), {"name", "models", "rpm", "tpm", "budget", "metadata", "expires_at"});
  if (!body) co_return fail(body.error());
  auto name = body->text("name", 128);
  if (!name) co_return fail(name.error());
  if (!name->value) co_return fail(BodyFields::missing("name"));

  const auto now = core::unix_now(services_.clock);
  core::VirtualKeyRecord record;
  record.id = "vk_" + core::random_base62(20);
  record.name = *name->value;
  if (auto error = read_settings(*body, *services_.config, record, now)) co_return fail(*error);
  const std::string secret = core::new_virtual_key_secret();
  record.key_hash = core::sha256_hex(secret);
  record.hint = hint_of(secret);
  record.created_at = record.updated_at = now;

  const std::string id = record.id;
  if (!co_await save(std::move(record))) co_return not_stored();
  auto key = services_.virtual_keys.find(id);
  audit_admin(services_, exchange, "virtual_keys.create", id, 201, {{"name", key->name}});
  co_return HttpReply::json(201, with_secret(virtual_key_json(*key, now), secret).dump());
}

boost::asio::awaitable<HttpReply> AdminVirtualKeysHandler::update(const Request& request, Exchange& exchange,
                                                                  std::string id) {
  auto fail = [&](const core::GatewayError& error) { return refused(services_, exchange, "virtual_keys.update", id, error); };
  auto current = services_.virtual_keys.find(id);
  if (!current) co_return not_found("virtual key", id);
  const auto now = core::unix_now(services_.clock);
  if (current->revoked_at)
    co_return fail(core::make_error(core::ErrorKind::kConflict, "The virtual key '" + id + "' is revoked."));
  auto body = BodyFields::parse(request.body(), {"name", "models", "rpm", "tpm", "budget", "metadata", "expires_at"});
  if (!body) co_return fail(body.error());
  core::VirtualKeyRecord record = *current;
  auto name = body->text("name", 128);
  if (!name) co_return fail(name.error());
  if (name->present) {
    if (!name->value) co_return fail(BodyFields::invalid("name", "'name' cannot be null."));
    record.name = *name->value;
  }
  if (auto error = read_settings(*body, *services_.config, record, now)) co_return fail(*error);
  record.updated_at = now;
  if (!co_await save(std::move(record))) co_return not_stored();
  nlohmann::json fields = nlohmann::json::array();
  for (const auto& [field, value] : body->json().items()) fields.push_back(field);
  audit_admin(services_, exchange, "virtual_keys.update", id, 200, {{"fields", std::move(fields)}});
  co_return HttpReply::json(200, virtual_key_json(*services_.virtual_keys.find(id), now).dump());
}

boost::asio::awaitable<HttpReply> AdminVirtualKeysHandler::revoke(Exchange& exchange, std::string id) {
  auto current = services_.virtual_keys.find(id);
  if (!current) co_return not_found("virtual key", id);
  const auto now = core::unix_now(services_.clock);
  if (!current->revoked_at) {
    core::VirtualKeyRecord record = *current;
    record.revoked_at = record.updated_at = now;
    if (!co_await save(std::move(record))) co_return not_stored();
    audit_admin(services_, exchange, "virtual_keys.revoke", id, 200, {{"name", current->name}});
  }
  co_return HttpReply::json(200, virtual_key_json(*services_.virtual_keys.find(id), now).dump());
}

boost::asio::awaitable<HttpReply> AdminVirtualKeysHandler::rotate(const Request& request, Exchange& exchange,
                                                                  std::string id) {
  auto current = services_.virtual_keys.find(id);
  if (!current) co_return not_found("virtual key", id);
  const auto now = core::unix_now(services_.clock);
  if (!request.body().empty()) {
    auto body = BodyFields::parse(request.body(), {});
    if (!body) co_return HttpReply::error(body.error());
  }
  if (current->revoked_at)
    co_return HttpReply::error(
        core::make_error(core::ErrorKind::kConflict, "The virtual key '" + id + "' is revoked: issue a new one."));
  core::VirtualKeyRecord record = *current;
  const std::string secret = core::new_virtual_key_secret();
  record.key_hash = core::sha256_hex(secret);
  record.hint = hint_of(secret);
  record.updated_at = now;
  if (!co_await save(std::move(record))) co_return not_stored();
  audit_admin(services_, exchange, "virtual_keys.rotate", id, 200, {{"name", current->name}});
  co_return HttpReply::json(200, with_secret(virtual_key_json(*services_.virtual_keys.find(id), now), secret).dump());
}

}  // namespace tollgate::server
