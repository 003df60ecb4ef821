// GET /metrics: the Prometheus text exposition, optionally behind its own bearer token.
#pragma once

#include <string>

#include "core/metrics/metrics.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

class MetricsHandler final : public Handler {
 public:
  /// An empty `bearer_token` leaves /metrics open.
  MetricsHandler(const core::Metrics& metrics, std::string bearer_token);
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  const core::Metrics& metrics_;
  std::string bearer_token_;
};

}  // namespace tollgate::server
