// GET /metrics: the Prometheus text exposition, optionally behind its own bearer token.
#pragma once

#include <functional>
#include <string>

#include "core/metrics/metrics.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

class MetricsHandler final : public Handler {
 public:
  /// An empty `bearer_token` leaves /metrics open. `refresh`, when set, runs before each scrape to
  /// bring gauges that are read rather than recorded (key states) up to date.
  MetricsHandler(const core::Metrics& metrics, std::string bearer_token, std::function<void()> refresh = {});
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  const core::Metrics& metrics_;
  std::string bearer_token_;
  std::function<void()> refresh_;
};

}  // namespace tollgate::server
