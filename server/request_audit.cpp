// Request audit entries.
#include "server/request_audit.hpp"

#include <nlohmann/json.hpp>

namespace tollgate::server {

void audit_request(core::Store& store, const AccessRecord& record, core::UnixMillis now) {
  const Exchange& exchange = record.exchange;
  nlohmann::json detail = {
      {"route", exchange.route},
      {"method", std::string(http::to_string(record.request.method()))},
      {"latency_ms", std::chrono::duration<double, std::milli>(record.total).count()},
      {"streamed", record.streamed},
  };
  if (!exchange.model.empty()) detail["model"] = exchange.model;
  if (const auto& ctx = exchange.request) {
    if (!ctx->provider_id.empty()) detail["provider"] = ctx->provider_id;
    if (!ctx->upstream_model.empty()) detail["deployment"] = ctx->provider_id + "/" + ctx->upstream_model;
    if (!ctx->attempts.empty()) detail["attempts"] = ctx->attempts.size();
    if (ctx->usage) {
      detail["prompt_tokens"] = ctx->usage->prompt_tokens;
      detail["completion_tokens"] = ctx->usage->completion_tokens;
    }
  }
  if (!record.delivered) detail["client_disconnected"] = true;
  if (!exchange.stream_error.empty()) detail["stream_error"] = exchange.stream_error;

  core::AuditRecord entry;
  entry.at = now;
  entry.kind = "request";
  entry.actor = std::string(exchange.caller.id());
  entry.action = std::string(exchange.route);
  entry.target = exchange.request_id;
  entry.status = static_cast<int>(record.status);
  entry.detail = detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  store.append_audit(std::move(entry));
}

}  // namespace tollgate::server
