// GET /v1/models and GET /v1/models/{id}: the configured model names, in OpenAI's list shape.
#pragma once

#include <memory>

#include "server/endpoint_table.hpp"

namespace tollgate::server {

class ModelsHandler final : public Handler {
 public:
  /// `created` is the Unix time reported for every model (the configuration's load time).
  ModelsHandler(std::shared_ptr<const config::Config> config, std::int64_t created);
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  std::shared_ptr<const config::Config> config_;
  std::string list_body_;  // the list never changes for a config snapshot
  std::int64_t created_;
};

}  // namespace tollgate::server
