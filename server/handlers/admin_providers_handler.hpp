// GET /api/v1/providers: every deployment's live health, and every provider's keys.
#pragma once

#include <nlohmann/json.hpp>

#include "core/routing/fleet.hpp"
#include "server/admin/admin_support.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

/// "healthy", "degraded" (half-open circuit, a recent error rate of 10% or more, some keys resting
/// or disabled, or its rpm/tpm used up) or "unhealthy" (circuit open, no usable key, or a provider
/// type this build cannot call) — the same test the router and /health/ready use.
std::string_view deployment_health(const core::DeploymentState& state, const core::UpstreamKeys& keys,
                                   core::Clock::Steady::time_point now);

/// {"object":"list","data":[deployment…],"providers":[{id, type, keys:[…]}]}. Each deployment:
/// deployment ("provider/model"), provider, model, models (the configured names that route to it),
/// health, circuit {state, requests, failures, failure_rate, reopens_at}, latency_ms and ttft_ms
/// (EWMA, null before the first sample), error_rate, in_flight, queued, max_concurrency, rpm, tpm,
/// limited_until, requests_total, failures_total, last_check. Keys as /api/v1/keys shows them
/// (cooling_until, state_reason for a disabled key), never their material.
nlohmann::json providers_json(const AdminServices& services, const core::Fleet& fleet);

/// Serves GET /api/v1/providers (admin only).
class AdminProvidersHandler final : public Handler {
 public:
  AdminProvidersHandler(AdminServices services, const core::Fleet& fleet)
      : services_(std::move(services)), fleet_(fleet) {}
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  AdminServices services_;
  const core::Fleet& fleet_;
};

}  // namespace tollgate::server
