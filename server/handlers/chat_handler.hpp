// POST /v1/chat/completions and POST /v1/embeddings: validates the body, runs the pipeline, shapes the reply.
#pragma once

#include <memory>

#include "core/clock.hpp"
#include "core/money/pricing.hpp"
#include "core/openai/client_request.hpp"
#include "core/pipeline/middleware.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

/// One per operation: chat completions (streamed or not) or embeddings. Both run the same
/// pipeline (auth, limits, budgets, cache, dedup, routing, failover, accounting); the operation
/// decides how the body is validated and what the adapters send upstream.
class ChatHandler final : public Handler {
 public:
  ChatHandler(std::shared_ptr<const config::Config> config, const core::Pipeline& pipeline, const core::Pricing& pricing,
              const core::Clock& clock, core::Operation operation = core::Operation::kChat);
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  /// The body validated for this handler's operation.
  core::Result<core::ChatRequest> parse(std::string_view body) const;

  std::shared_ptr<const config::Config> config_;
  const core::Pipeline& pipeline_;
  const core::Pricing& pricing_;
  const core::Clock& clock_;
  core::Operation operation_;
};

}  // namespace tollgate::server
