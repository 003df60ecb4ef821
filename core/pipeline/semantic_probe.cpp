// Semantic probe: semantic_request(), the embedder, and the partition string.
#include "core/pipeline/semantic_probe.hpp"

#include "core/cache/cache_key.hpp"
#include "core/cache/semantic_text.hpp"

namespace tollgate::core {

boost::asio::awaitable<const SemanticProbe*> semantic_probe(RequestContext& ctx, Embedder& embedder) {
  if (ctx.semantic_probed) co_return ctx.semantic ? &*ctx.semantic : nullptr;
  ctx.semantic_probed = true;
  // Embeddings are exact by nature: a paraphrase has another vector.
  if (ctx.operation != Operation::kChat) co_return nullptr;
  auto request = semantic_request(ctx.body);
  if (!request) co_return nullptr;
  auto vector = co_await embedder.embed(std::move(request->text));
  if (!vector) co_return nullptr;
  SemanticProbe probe;
  probe.vector = std::move(*vector);
  const std::string tenant = cache_partition(ctx.caller, ctx.config->cache.scope);
  // Each part is length-prefixed, so no two different tuples give the same string.
  for (std::string_view part : {embedder.name(), std::string_view(ctx.model_name), std::string_view(tenant),
                                std::string_view(request->params), std::string_view(request->guard)}) {
    probe.partition += std::to_string(part.size());
    probe.partition += ':';
    probe.partition += part;
  }
  ctx.semantic = std::move(probe);
  co_return &*ctx.semantic;
}

}  // namespace tollgate::core
