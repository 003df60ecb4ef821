// Exchange: what the session knows about one request/response, for headers, metrics and the access log.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/identity/caller.hpp"
#include "core/pipeline/request_context.hpp"

namespace tollgate::server {

/// Created by the session when a request head has been read; handlers fill the second half.
/// Lives on the session's strand until the reply (stream included) has been written.
struct Exchange {
  std::string request_id;  // the client's x-request-id, or a generated one
  core::Clock::Steady::time_point received_at{};
  std::string_view route = "unknown";  // endpoint path, the metrics label
  bool client_route = false;           // a client API route (audited per request)
  core::Caller caller;                 // who asks, once authenticated

  // Filled by handlers that know more.
  std::string model;  // a configured model name (bounded: the metrics label), empty otherwise
  std::shared_ptr<core::RequestContext> request;  // chat: provider, attempts, usage; settled by the session

  // Filled by the session.
  std::string stream_error;  // why a stream ended in an SSE error event after it had started
};

}  // namespace tollgate::server
