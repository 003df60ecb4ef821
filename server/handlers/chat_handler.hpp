// POST /v1/chat/completions: validates the body, runs the chat pipeline, shapes the reply.
#pragma once

#include <memory>

#include "core/clock.hpp"
#include "core/money/pricing.hpp"
#include "core/pipeline/middleware.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

class ChatHandler final : public Handler {
 public:
  ChatHandler(std::shared_ptr<const config::Config> config, const core::Pipeline& pipeline, const core::Pricing& pricing,
              const core::Clock& clock);
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  std::shared_ptr<const config::Config> config_;
  const core::Pipeline& pipeline_;
  const core::Pricing& pricing_;
  const core::Clock& clock_;
};

}  // namespace tollgate::server
