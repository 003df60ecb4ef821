// Request audit entries.
#include "server/request_audit.hpp"

#include <fmt/format.h>

namespace tollgate::server {
namespace {

/// Appends `"name":"value"` with JSON string escaping. Written by hand because this runs once per
/// request: building an nlohmann DOM for eight fields cost more than the rest of the entry.
void append_string(std::string& out, std::string_view name, std::string_view value) {
  out.append(",\"").append(name).append("\":\"");
  for (unsigned char c : value) {
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20) fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        else out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

}  // namespace

void audit_request(core::Store& store, const AccessRecord& record, core::UnixMillis now) {
  const Exchange& exchange = record.exchange;
  std::string detail;
  detail.reserve(256);
  fmt::format_to(std::back_inserter(detail), R"({{"latency_ms":{:.3f},"streamed":{})",
                 std::chrono::duration<double, std::milli>(record.total).count(), record.streamed);
  append_string(detail, "method", http::to_string(record.request.method()));
  if (!exchange.model.empty()) append_string(detail, "model", exchange.model);
  if (const auto& ctx = exchange.request) {
    if (!ctx->provider_id.empty()) append_string(detail, "provider", ctx->provider_id);
    if (!ctx->upstream_model.empty()) append_string(detail, "deployment", ctx->provider_id + "/" + ctx->upstream_model);
    if (!ctx->attempts.empty()) fmt::format_to(std::back_inserter(detail), R"(,"attempts":{})", ctx->attempts.size());
    if (ctx->usage)
      fmt::format_to(std::back_inserter(detail), R"(,"prompt_tokens":{},"completion_tokens":{})",
                     ctx->usage->prompt_tokens, ctx->usage->completion_tokens);
  }
  if (!record.delivered) detail.append(R"(,"client_disconnected":true)");
  if (!exchange.stream_error.empty()) append_string(detail, "stream_error", exchange.stream_error);
  detail.push_back('}');

  core::AuditRecord entry;
  entry.at = now;
  entry.kind = "request";
  entry.actor = std::string(exchange.caller.id());
  entry.action = std::string(exchange.route);
  entry.target = exchange.request_id;
  entry.status = static_cast<int>(record.status);
  entry.detail = std::move(detail);
  store.append_audit(std::move(entry));
}

}  // namespace tollgate::server
