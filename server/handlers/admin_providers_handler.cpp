// The providers view: circuit, latency, load, limits and keys of every deployment.
#include "server/handlers/admin_providers_handler.hpp"

#include "core/time_format.hpp"

namespace tollgate::server {
namespace {

using Steady = core::Clock::Steady;

/// A steady-clock instant as wall time (RFC 3339), for clients.
nlohmann::json wall_time(const core::Clock& clock, Steady::time_point at, Steady::time_point now) {
  if (at == Steady::time_point::max()) return nullptr;
  const auto offset = std::chrono::ceil<std::chrono::milliseconds>(at - now).count();
  return core::format_rfc3339(core::unix_now(clock) + offset);
}

nlohmann::json average(double value) { return value > 0 ? nlohmann::json(value) : nlohmann::json(); }

}  // namespace

std::string_view deployment_health(const core::DeploymentState& state, const core::UpstreamKeys& keys,
                                   Steady::time_point now) {
  if (state.provider() == nullptr) return "unhealthy";
  const auto circuit = state.breaker().snapshot(now);
  if (circuit.state == core::CircuitState::kOpen || state.provider()->unavailable_until(now)) return "unhealthy";
  if (circuit.state == core::CircuitState::kHalfOpen || circuit.failure_rate >= 0.1 || state.limited_until(1, now))
    return "degraded";
  for (const auto& key : keys.list(state.provider_id()))
    if (key->record.state != "active" || keys.cooling_until(key->record.id, now)) return "degraded";
  return "healthy";
}

nlohmann::json providers_json(const AdminServices& services, const core::Fleet& fleet) {
  const auto now = services.clock.now();
  nlohmann::json data = nlohmann::json::array();
  for (const auto& state : fleet.all()) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& model : services.config->models)
      for (const auto& deployment : model.deployments)
        if (&fleet.of(deployment) == state.get()) {
          models.push_back(model.name);
          break;
        }
    const auto circuit = state->breaker().snapshot(now);
    const auto reopens = circuit.state == core::CircuitState::kOpen ? state->breaker().reopens_at() : std::nullopt;
    const auto limited = state->limited_until(1, now);
    const auto& config = state->config();
    nlohmann::json last_check;
    if (auto check = state->last_check())
      last_check = {{"ok", check->ok},
                    {"at", core::format_rfc3339(check->at_unix_ms)},
                    {"latency_ms", check->latency_ms},
                    {"error", check->error.empty() ? nlohmann::json() : nlohmann::json(check->error)}};
    data.push_back({
        {"object", "deployment"},
        {"deployment", state->label()},
        {"provider", state->provider_id()},
        {"model", state->upstream_model()},
        {"models", std::move(models)},
        {"health", deployment_health(*state, services.upstream_keys, now)},
        {"circuit",
         {{"state", core::to_string(circuit.state)},
          {"requests", circuit.requests},
          {"failures", circuit.failures},
          {"failure_rate", circuit.failure_rate},
          {"reopens_at", reopens ? wall_time(services.clock, *reopens, now) : nlohmann::json()}}},
        {"latency_ms", average(state->latency_ms())},
        {"ttft_ms", average(state->ttft_ms())},
        {"error_rate", circuit.failure_rate},
        {"in_flight", state->in_flight()},
        {"queued", state->gate().queued()},
        {"max_concurrency", config.max_concurrency > 0 ? nlohmann::json(config.max_concurrency) : nlohmann::json()},
        {"rpm", config.rpm > 0 ? nlohmann::json(config.rpm) : nlohmann::json()},
        {"tpm", config.tpm > 0 ? nlohmann::json(config.tpm) : nlohmann::json()},
        {"limited_until", limited ? wall_time(services.clock, *limited, now) : nlohmann::json()},
        {"requests_total", state->requests_total()},
        {"failures_total", state->failures_total()},
        {"last_check", std::move(last_check)},
    });
  }
  nlohmann::json providers = nlohmann::json::array();
  for (const auto& provider : services.config->providers) {
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& key : services.upstream_keys.list(provider.id))
      keys.push_back(upstream_key_json(*key, key_cooling_until(services, *key)));
    providers.push_back({{"id", provider.id}, {"type", provider.type}, {"keys", std::move(keys)}});
  }
  return {{"object", "list"}, {"data", std::move(data)}, {"providers", std::move(providers)}};
}

boost::asio::awaitable<HttpReply> AdminProvidersHandler::handle(const Request&, Exchange&) {
  co_return HttpReply::json(200, providers_json(services_, fleet_).dump());
}

}  // namespace tollgate::server
