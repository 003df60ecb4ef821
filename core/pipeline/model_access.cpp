// ModelAccess stage: per-key model allowlists.
#include "core/pipeline/model_access.hpp"

namespace tollgate::core {

boost::asio::awaitable<Reply> ModelAccess::handle(RequestContext& ctx, Next next) const {
  const auto& key = ctx.caller.key;
  if (key && !allows_model(*key, ctx.model_name))
    co_return Reply::error(make_error(ErrorKind::kModelNotAllowed,
                                      "The virtual key '" + key->name + "' (" + key->id + ") may not use the model '" +
                                          ctx.model_name + "'.",
                                      "model"));
  co_return co_await next(ctx);
}

}  // namespace tollgate::core
