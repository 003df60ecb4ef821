// Access log lines.
#include "server/access_log.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/money/money.hpp"

namespace tollgate::server {

void log_access(const AccessRecord& record, bool json) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  const auto& exchange = record.exchange;
  const core::RequestContext* ctx = exchange.request.get();
  std::string_view path = record.request.target();
  path = path.substr(0, path.find('?'));
  const double latency_ms = std::chrono::duration<double, std::milli>(record.total).count();
  const double overhead_ms = std::chrono::duration<double, std::milli>(record.overhead).count();
  const auto usage = ctx != nullptr && ctx->billed ? ctx->billed->usage : core::Usage{};
  const std::string cost = ctx != nullptr && ctx->billed ? core::format_usd(ctx->billed->cost) : std::string("0");
  const std::string_view usage_source = ctx != nullptr && ctx->billed ? ctx->billed->source : std::string_view("none");
  const std::size_t attempts = ctx != nullptr ? ctx->attempts.size() : 0;
  const std::string_view provider = ctx != nullptr ? std::string_view(ctx->provider_id) : std::string_view();
  const std::string_view deployment = ctx != nullptr ? std::string_view(ctx->upstream_model) : std::string_view();

  if (json) {
    nlohmann::json line = {{"msg", "request"},
                           {"id", exchange.request_id},
                           {"method", std::string(record.request.method_string())},
                           {"path", path},
                           {"status", record.status},
                           {"caller", exchange.caller.id()},
                           {"model", exchange.model},
                           {"provider", provider},
                           {"deployment", deployment},
                           {"attempts", attempts},
                           {"stream", record.streamed},
                           {"prompt_tokens", usage.prompt_tokens},
                           {"completion_tokens", usage.completion_tokens},
                           {"usage_source", usage_source},
                           {"cost_usd", cost},
                           {"latency_ms", latency_ms},
                           {"overhead_ms", overhead_ms},
                           {"delivered", record.delivered}};
    if (!exchange.stream_error.empty()) line["stream_error"] = exchange.stream_error;
    spdlog::info("{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  // Quoted and escaped: the message comes from the upstream.
  const std::string stream_error =
      exchange.stream_error.empty()
          ? std::string()
          : " stream_error=" + nlohmann::json(exchange.stream_error)
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  spdlog::info(
      "request id={} method={} path={} status={} caller={} model={} provider={} deployment={} attempts={} stream={} "
      "prompt_tokens={} completion_tokens={} usage={} cost_usd={} latency_ms={:.3f} overhead_ms={:.3f}{}{}",
      exchange.request_id, record.request.method_string(), path, record.status, exchange.caller.id(),
      exchange.model.empty() ? "-" : exchange.model, provider.empty() ? "-" : provider,
      deployment.empty() ? "-" : deployment, attempts, record.streamed, usage.prompt_tokens, usage.completion_tokens,
      usage_source, cost, latency_ms, overhead_ms, record.delivered ? "" : " client_gone=true", stream_error);
}

}  // namespace tollgate::server
