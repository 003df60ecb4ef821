// ServerContext: what every session shares, built once by the app and passed down by reference.
#pragma once

#include <atomic>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/identity/authenticator.hpp"
#include "core/store/store.hpp"
#include "core/metrics/metrics.hpp"
#include "server/connections.hpp"
#include "server/endpoint_table.hpp"
#include "server/request_ids.hpp"

namespace tollgate::server {

struct ServerContext {
  const config::ServerConfig& limits;
  const EndpointTable& endpoints;
  core::Metrics& metrics;
  const core::Clock& clock;
  Connections& connections;
  RequestIds& request_ids;
  std::atomic<bool>& draining;  // set once on SIGTERM/SIGINT
  const core::Authenticator& auth;
  core::Store& store;           // request audit entries
  bool json_logs = false;
};

}  // namespace tollgate::server
