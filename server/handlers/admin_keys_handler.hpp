// /api/v1/keys: upstream provider keys (register, list, show, change, delete).
#pragma once

#include "server/admin/admin_support.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

/// Serves POST/GET /api/v1/keys and GET/PATCH/DELETE /api/v1/keys/{id}. Key material is accepted,
/// sealed and used, but never returned or logged. Writes answer once the store has committed them;
/// the key is in the provider's pool before the answer. Keys from the config file are listed
/// (source "config") but are read-only here.
class AdminKeysHandler final : public Handler {
 public:
  explicit AdminKeysHandler(AdminServices services) : services_(std::move(services)) {}
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  boost::asio::awaitable<HttpReply> create(const Request& request, Exchange& exchange);
  boost::asio::awaitable<HttpReply> update(const Request& request, Exchange& exchange, std::string id);
  boost::asio::awaitable<HttpReply> remove(Exchange& exchange, std::string id);
  HttpReply list(const Request& request) const;

  AdminServices services_;
};

}  // namespace tollgate::server
