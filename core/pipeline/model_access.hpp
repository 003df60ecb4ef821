// ModelAccess stage: the caller's virtual key may use the requested model.
#pragma once

#include "core/pipeline/middleware.hpp"

namespace tollgate::core {

/// Answers 403 model_not_allowed, without calling next, when the caller's virtual key lists models
/// and the requested name is not one of them. Who the caller is was settled before the pipeline
/// (the server authenticates every non-public route); master and anonymous callers may use every
/// model. A model reached through a fallback chain is the operator's choice and is allowed.
class ModelAccess final : public Middleware {
 public:
  std::string_view name() const noexcept override { return "auth"; }
  boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const override;
};

}  // namespace tollgate::core
