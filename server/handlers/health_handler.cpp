// Liveness and readiness probes.
#include "server/handlers/health_handler.hpp"

#include <nlohmann/json.hpp>

namespace tollgate::server {

HealthHandler::HealthHandler(std::shared_ptr<const config::Config> config, const core::Clock& clock,
                             const core::Fleet& fleet, const std::atomic<bool>& draining)
    : config_(std::move(config)),
      clock_(clock),
      started_(clock.now()),
      fleet_(fleet),
      draining_(draining) {}

boost::asio::awaitable<HttpReply> HealthHandler::handle(const Request& request, Exchange&) {
  std::string_view path = request.target();
  path = path.substr(0, path.find('?'));
  if (path == "/health/ready") {
    if (draining_.load())
      co_return HttpReply::json(503, R"({"status":"not_ready","reason":"shutting down"})");
    if (!fleet_.any_usable(clock_.now()))
      co_return HttpReply::json(503, R"({"status":"not_ready","reason":"no usable deployment: every circuit is open or every key rests or is disabled"})");
    co_return HttpReply::json(200, R"({"status":"ready"})");
  }

  nlohmann::json providers = nlohmann::json::object();
  for (const auto& provider : config_->providers) {
    std::size_t deployments = 0;
    for (const auto& model : config_->models)
      for (const auto& deployment : model.deployments) deployments += deployment.provider == provider.id;
    providers[provider.id] = {{"type", provider.type}, {"deployments", deployments}, {"keys", provider.keys.size()}};
  }
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(clock_.now() - started_).count();
  nlohmann::json body = {{"status", "ok"}, {"version", TOLLGATE_VERSION}, {"uptime_s", uptime}, {"providers", providers}};
  co_return HttpReply::json(200, body.dump());
}

}  // namespace tollgate::server
