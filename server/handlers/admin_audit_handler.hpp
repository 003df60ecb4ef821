// GET /api/v1/audit: admin actions and client requests, oldest first.
#pragma once

#include "server/admin/admin_support.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

/// `?since=` (RFC 3339 or Unix seconds): entries at or after it, oldest first, up to `limit`;
/// without it, the latest `limit` entries (still oldest first). `limit` is 1–1000, default 100.
/// Sees every entry recorded before the call. Answers {"object":"list","data":[…],"has_more"}.
class AdminAuditHandler final : public Handler {
 public:
  explicit AdminAuditHandler(AdminServices services) : services_(std::move(services)) {}
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  AdminServices services_;
};

}  // namespace tollgate::server
