// The response cache's admin view: statistics and purges.
#include "server/handlers/admin_cache_handler.hpp"

#include <nlohmann/json.hpp>

#include "server/admin/admin_support.hpp"

namespace tollgate::server {

boost::asio::awaitable<HttpReply> AdminCacheHandler::handle(const Request& request, Exchange&) {
  if (cache_ == nullptr)
    co_return HttpReply::error(core::make_error(core::ErrorKind::kResourceNotFound,
                                                "The response cache is off (cache.mode: off).", "cache.mode"));
  if (request.method() == boost::beast::http::verb::delete_) {
    const auto model = query_param(request.target(), "model");
    const std::size_t deleted = model ? cache_->erase_model(*model) : cache_->clear();
    nlohmann::json body = {{"object", "cache.purge"}, {"deleted", deleted}};
    if (model) body["model"] = *model;
    co_return HttpReply::json(200, body.dump());
  }
  const core::CacheStats stats = cache_->stats();
  nlohmann::json models = nlohmann::json::object();
  for (const auto& [name, figures] : stats.models) models[name] = {{"entries", figures.entries}, {"bytes", figures.bytes}};
  const nlohmann::json body = {{"object", "cache.stats"},
                               {"entries", stats.entries},
                               {"bytes", stats.bytes},
                               {"max_bytes", stats.max_bytes},
                               {"hits", stats.hits},
                               {"misses", stats.misses},
                               {"insertions", stats.insertions},
                               {"replacements", stats.replacements},
                               {"rejected", stats.rejected},
                               {"evictions", stats.evictions},
                               {"expirations", stats.expirations},
                               {"compressed_entries", stats.compressed_entries},
                               {"models", std::move(models)}};
  co_return HttpReply::json(200, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace tollgate::server
