// GET /api/v1/cache/stats and DELETE /api/v1/cache[?model=]: the response cache's figures and purges.
#pragma once

#include "core/cache/response_cache.hpp"
#include "server/endpoint_table.hpp"

namespace tollgate::server {

/// Admin only. GET /api/v1/cache/stats answers {"object":"cache.stats", entries, bytes, max_bytes,
/// hits, misses, insertions, replacements, rejected, evictions, expirations, compressed_entries,
/// models: {name: {entries, bytes}}}. DELETE /api/v1/cache removes every entry, or with
/// `?model=NAME` those of one served model name: {"object":"cache.purge","deleted":N}. With
/// cache.mode off (no cache) both answer 404 naming the setting.
class AdminCacheHandler final : public Handler {
 public:
  explicit AdminCacheHandler(core::ResponseCache* cache) : cache_(cache) {}
  boost::asio::awaitable<HttpReply> handle(const Request& request, Exchange& exchange) override;

 private:
  core::ResponseCache* cache_;
};

}  // namespace tollgate::server
