// GET /health (liveness) and GET /health/ready (readiness).
#pragma once

#include <atomic>
#include <memory>

#include "core/clock.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

class HealthHandler final : public Handler {
 public:
  /// `usable_deployments` counts the deployments a request can reach (known provider type);
  /// `draining` turns readiness off during shutdown so load balancers stop sending traffic.
  HealthHandler(std::shared_ptr<const config::Config> config, const core::Clock& clock, std::size_t usable_deployments,
                const std::atomic<bool>& draining);
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  std::shared_ptr<const config::Config> config_;
  const core::Clock& clock_;
  core::Clock::Steady::time_point started_;
  std::size_t usable_deployments_;
  const std::atomic<bool>& draining_;
};

}  // namespace tollgate::server
