// Request audit: one audit entry per client API request.
#pragma once

#include "core/store/store.hpp"
#include "server/access_log.hpp"

namespace tollgate::server {

/// Queues the audit entry of a finished client request (never blocks on disk): request id, caller
/// key id, route, model, provider and upstream model, status, attempts, tokens and latency.
/// Never a credential or a prompt.
void audit_request(core::Store& store, const AccessRecord& record, core::UnixMillis now);

}  // namespace tollgate::server
