// /api/v1/virtual-keys: caller keys (issue, list, show, change, revoke, rotate).
#pragma once

#include "server/admin/admin_support.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

/// Serves POST/GET /api/v1/virtual-keys, GET/PATCH/DELETE /api/v1/virtual-keys/{id} and
/// POST /api/v1/virtual-keys/{id}/rotate. The secret is in the answer to create and rotate only;
/// the store keeps its SHA-256. DELETE revokes (the record stays, for audit and attribution).
/// Writes answer once committed; the key works (or stops working) before the answer.
class AdminVirtualKeysHandler final : public Handler {
 public:
  explicit AdminVirtualKeysHandler(AdminServices services) : services_(std::move(services)) {}
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  boost::asio::awaitable<HttpReply> create(const Request& request, Exchange& exchange);
  boost::asio::awaitable<HttpReply> update(const Request& request, Exchange& exchange, std::string id);
  boost::asio::awaitable<HttpReply> revoke(Exchange& exchange, std::string id);
  boost::asio::awaitable<HttpReply> rotate(const Request& request, Exchange& exchange, std::string id);
  boost::asio::awaitable<bool> save(core::VirtualKeyRecord record);

  AdminServices services_;
};

}  // namespace tollgate::server
