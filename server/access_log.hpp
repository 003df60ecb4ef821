// The access log: one line per request, never a secret or a prompt.
#pragma once

#include <chrono>

#include "server/exchange.hpp"
#include "server/http.hpp"

namespace tollgate::server {

struct AccessRecord {
  const Request& request;
  const Exchange& exchange;
  unsigned status;
  std::chrono::nanoseconds total;
  std::chrono::nanoseconds overhead;
  bool delivered;  // false when the client went away before the reply was fully written
  bool streamed;
};

/// Logs at info: id, method, path, status, model, provider, deployment, attempts, tokens, latency
/// and overhead — as `key=value` text, or one JSON object per line when `json`.
void log_access(const AccessRecord& record, bool json);

}  // namespace tollgate::server
