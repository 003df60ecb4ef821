// Upstream key administration.
#include "server/handlers/admin_keys_handler.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/security/tokens.hpp"
#include "core/store/awaiting.hpp"
#include "server/admin/body_fields.hpp"

namespace tollgate::server {
namespace {

constexpr std::string_view kPrefix = "/api/v1/keys/";
constexpr double kMaxWeight = 1'000'000;

core::GatewayError unknown_provider(const config::Config& config, const std::string& id) {
  std::vector<std::string> known;
  for (const auto& p : config.providers) known.push_back(p.id);
  return BodyFields::invalid("provider_id", fmt::format("Unknown provider_id '{}': the configured providers are {}.",
                                                        id.substr(0, 64), fmt::join(known, ", ")));
}

/// Applies rpm, tpm, weight and metadata from a body onto a record (POST and PATCH alike).
std::optional<core::GatewayError> apply_settings(const BodyFields& body, core::UpstreamKeyRecord& record) {
  if (auto error = body.rate_limits(record.rpm, record.tpm)) return error;
  auto weight = body.number("weight", kMaxWeight);
  if (!weight) return weight.error();
  if (weight->present) {
    if (!weight->value) return BodyFields::invalid("weight", "'weight' must be a number above 0, not null.");
    record.weight = *weight->value;
  }
  auto metadata = body.object("metadata");
  if (!metadata) return metadata.error();
  if (metadata->present) record.metadata = metadata->value ? metadata->value->dump() : "{}";
  return std::nullopt;
}

}  // namespace

boost::asio::awaitable<HttpReply> AdminKeysHandler::handle(const Request& request, Exchange& exchange) {
  const std::string_view target = request.target();
  const bool collection = target.substr(0, target.find('?')) == "/api/v1/keys";
  if (collection) {
    if (request.method() == http::verb::post) co_return co_await create(request, exchange);
    co_return list(request);
  }
  auto path = resource_path(target, kPrefix);
  if (!path || !path->action.empty()) co_return not_found("upstream key", path ? path->id : "");
  if (request.method() == http::verb::patch) co_return co_await update(request, exchange, path->id);
  if (request.method() == http::verb::delete_) co_return co_await remove(exchange, path->id);
  auto key = services_.upstream_keys.find(path->id);
  if (!key) co_return not_found("upstream key", path->id);
  co_return HttpReply::json(200, upstream_key_json(*key, key_cooling_until(services_, *key)).dump());
}

HttpReply AdminKeysHandler::list(const Request& request) const {
  const auto provider = query_param(request.target(), "provider_id");
  if (provider && !services_.config->find_provider(*provider))
    return HttpReply::error(unknown_provider(*services_.config, *provider));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& key : services_.upstream_keys.list(provider.value_or(""))) items.push_back(upstream_key_json(*key, key_cooling_until(services_, *key)));
  return list_reply(std::move(items));
}

boost::asio::awaitable<HttpReply> AdminKeysHandler::create(const Request& request, Exchange& exchange) {
  auto body = BodyFields::parse(request.body(), {"key_material", "provider_id", "metadata", "rpm", "tpm", "weight"});
  auto fail = [&](const core::GatewayError& error) { return refused(services_, exchange, "keys.create", "", error); };
  if (!body) co_return fail(body.error());
  auto material = body->token("key_material");
  if (!material) co_return fail(material.error());
  if (!material->value) co_return fail(BodyFields::missing("key_material"));
  auto provider = body->text("provider_id", 64);
  if (!provider) co_return fail(provider.error());
  if (!provider->value) co_return fail(BodyFields::missing("provider_id"));
  if (!services_.config->find_provider(*provider->value)) co_return fail(unknown_provider(*services_.config, *provider->value));

  core::UpstreamKeyRecord record;
  record.id = "key_" + core::random_base62(20);
  record.provider_id = *provider->value;
  if (auto error = apply_settings(*body, record)) co_return fail(*error);
  record.created_at = record.updated_at = core::unix_now(services_.clock);

  core::UpstreamKeys& keys = services_.upstream_keys;
  // Named, not a temporary inside co_await: g++ 12 destroys such temporaries at the wrong address.
  std::function<void(core::Store::Done)> submit = [&keys, record, m = *material->value](core::Store::Done done) mutable {
    keys.put(std::move(record), std::move(m), std::move(done));
  };
  const bool ok = co_await core::committed(std::move(submit));
  if (!ok) co_return not_stored();
  auto key = keys.find(record.id);
  audit_admin(services_, exchange, "keys.create", record.id, 201,
              {{"provider_id", record.provider_id}, {"fingerprint", key->record.fingerprint}});
  co_return HttpReply::json(201, upstream_key_json(*key).dump());
}

boost::asio::awaitable<HttpReply> AdminKeysHandler::update(const Request& request, Exchange& exchange, std::string id) {
  auto fail = [&](const core::GatewayError& error) { return refused(services_, exchange, "keys.update", id, error); };
  auto current = services_.upstream_keys.find(id);
  if (!current) co_return not_found("upstream key", id);
  if (current->from_config)
    co_return fail(core::make_error(core::ErrorKind::kConflict,
                                    "The key '" + id + "' comes from the config file; change it there."));
  auto body = BodyFields::parse(request.body(),
                                {"key_material", "provider_id", "metadata", "rpm", "tpm", "weight", "state", "state_reason"});
  if (!body) co_return fail(body.error());
  if (body->has("provider_id"))
    co_return fail(BodyFields::invalid("provider_id", "'provider_id' cannot change: delete the key and add it again."));

  core::UpstreamKeyRecord record = current->record;
  std::string material = current->material;
  auto new_material = body->token("key_material");
  if (!new_material) co_return fail(new_material.error());
  if (new_material->value) {
    material = *new_material->value;
    // A replaced credential deserves a fresh try, even if the upstream rejected the old one.
    record.state = "active";
    record.state_reason.clear();
  }
  if (auto error = apply_settings(*body, record)) co_return fail(*error);
  auto state = body->text("state", 16);
  if (!state) co_return fail(state.error());
  if (state->present) {
    if (!state->value || (*state->value != "active" && *state->value != "disabled"))
      co_return fail(BodyFields::invalid("state", "'state' must be \"active\" or \"disabled\"."));
    record.state = *state->value;
    record.state_reason = record.state == "disabled" ? "disabled by an operator" : "";
  }
  auto reason = body->text("state_reason", 256);
  if (!reason) co_return fail(reason.error());
  if (reason->value) {
    if (record.state != "disabled")
      co_return fail(BodyFields::invalid("state_reason", "'state_reason' applies only to a disabled key."));
    record.state_reason = *reason->value;
  }
  record.updated_at = core::unix_now(services_.clock);

  core::UpstreamKeys& keys = services_.upstream_keys;
  std::function<void(core::Store::Done)> submit = [&keys, record, m = std::move(material)](core::Store::Done done) mutable {
    keys.put(std::move(record), std::move(m), std::move(done));
  };
  const bool ok = co_await core::committed(std::move(submit));
  if (!ok) co_return not_stored();
  nlohmann::json fields = nlohmann::json::array();
  for (const auto& [name, value] : body->json().items()) fields.push_back(name);
  audit_admin(services_, exchange, "keys.update", id, 200, {{"fields", std::move(fields)}});
  co_return HttpReply::json(200, upstream_key_json(*keys.find(id)).dump());
}

boost::asio::awaitable<HttpReply> AdminKeysHandler::remove(Exchange& exchange, std::string id) {
  auto current = services_.upstream_keys.find(id);
  if (!current) co_return not_found("upstream key", id);
  if (current->from_config) {
    co_return refused(services_, exchange, "keys.delete", id,
                      core::make_error(core::ErrorKind::kConflict,
                                       "The key '" + id + "' comes from the config file; remove it there."));
  }
  core::UpstreamKeys& keys = services_.upstream_keys;
  bool removed = false;
  std::function<void(core::Store::Done)> submit = [&keys, &removed, id](core::Store::Done done) {
    removed = keys.remove(id, done);
    if (!removed) done(true);
  };
  const bool ok = co_await core::committed(std::move(submit));
  if (!removed) co_return not_found("upstream key", id);
  if (!ok) co_return not_stored();
  audit_admin(services_, exchange, "keys.delete", id, 200, {{"provider_id", current->record.provider_id}});
  co_return HttpReply::json(200, nlohmann::json{{"id", id}, {"object", "upstream_key"}, {"deleted", true}}.dump());
}

}  // namespace tollgate::server
