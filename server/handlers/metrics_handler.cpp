// Prometheus scrape endpoint.
#include "server/handlers/metrics_handler.hpp"

#include <openssl/crypto.h>

namespace tollgate::server {

MetricsHandler::MetricsHandler(const core::Metrics& metrics, std::string bearer_token, std::function<void()> refresh)
    : metrics_(metrics), bearer_token_(std::move(bearer_token)), refresh_(std::move(refresh)) {}

boost::asio::awaitable<HttpReply> MetricsHandler::handle(const Request& request, Exchange&) {
  if (!bearer_token_.empty()) {
    const std::string expected = "Bearer " + bearer_token_;
    auto it = request.find(http::field::authorization);
    const bool ok = it != request.end() && it->value().size() == expected.size() &&
                    CRYPTO_memcmp(it->value().data(), expected.data(), expected.size()) == 0;
    if (!ok)
      co_return HttpReply::error(core::make_error(core::ErrorKind::kInvalidApiKey, "A valid metrics bearer token is required."));
  }
  if (refresh_) refresh_();
  HttpReply reply = HttpReply::json(200, metrics_.serialize());
  reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
  co_return reply;
}

}  // namespace tollgate::server
