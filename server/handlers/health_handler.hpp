// GET /health (liveness) and GET /health/ready (readiness).
#pragma once

#include <atomic>
#include <memory>

#include "core/clock.hpp"
#include "core/routing/fleet.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

class HealthHandler final : public Handler {
 public:
  /// Ready while some deployment of `fleet` can take a request now (circuit not open, a usable key
  /// or none needed, a provider type this build calls); `draining` turns readiness off during
  /// shutdown so load balancers stop sending traffic.
  HealthHandler(std::shared_ptr<const config::Config> config, const core::Clock& clock, const core::Fleet& fleet,
                const std::atomic<bool>& draining);
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  std::shared_ptr<const config::Config> config_;
  const core::Clock& clock_;
  core::Clock::Steady::time_point started_;
  const core::Fleet& fleet_;
  const std::atomic<bool>& draining_;
};

}  // namespace tollgate::server
