// The ErrorKind table and OpenAI-shaped error bodies.
#include "core/error.hpp"

#include <array>
#include <nlohmann/json.hpp>

#include "core/result.hpp"

namespace tollgate::core {
namespace {

constexpr std::array<ErrorInfo, kErrorKindCount> kTable{{
    {400, "invalid_request_error", "", false},                          // kInvalidRequest
    {401, "authentication_error", "invalid_api_key", false},            // kInvalidApiKey
    {403, "permission_error", "model_not_allowed", false},              // kModelNotAllowed
    {404, "invalid_request_error", "model_not_found", false},           // kModelNotFound
    {404, "invalid_request_error", "", false},                          // kRouteNotFound
    {405, "invalid_request_error", "", false},                          // kMethodNotAllowed
    {404, "invalid_request_error", "not_found", false},                 // kResourceNotFound
    {409, "invalid_request_error", "conflict", false},                  // kConflict
    {413, "invalid_request_error", "request_too_large", false},         // kRequestTooLarge
    {431, "invalid_request_error", "headers_too_large", false},         // kHeadersTooLarge
    {429, "rate_limit_error", "rate_limit_exceeded", true},             // kRateLimited
    {429, "insufficient_quota", "budget_exceeded", false},              // kBudgetExceeded
    {502, "upstream_error", "upstream_error", true},                    // kUpstreamError
    {503, "service_unavailable", "no_healthy_deployment", true},        // kNoHealthyDeployment
    {503, "service_unavailable", "shutting_down", true},                // kShuttingDown
    {504, "timeout", "timeout", true},                                  // kUpstreamTimeout
    {500, "internal_error", "internal_error", true},                    // kInternal
}};

}  // namespace

const ErrorInfo& error_info(ErrorKind kind) noexcept { return kTable[static_cast<std::size_t>(kind)]; }

GatewayError make_error(ErrorKind kind, std::string message, std::string param) {
  return GatewayError{kind, std::move(message), std::move(param), std::nullopt};
}

std::string to_openai_json(const GatewayError& error) {
  const auto& info = error.info();
  nlohmann::json body = {{"error",
                          {{"message", error.message},
                           {"type", info.type},
                           {"param", error.param.empty() ? nlohmann::json() : nlohmann::json(error.param)},
                           {"code", info.code.empty() ? nlohmann::json() : nlohmann::json(info.code)}}}};
  // Messages can quote client or upstream bytes that are not UTF-8: replaced, never a throw.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void throw_exception_from_error(const GatewayError& e, const boost::source_location&) {
  throw std::runtime_error("unexpected GatewayError: " + e.message);
}

}  // namespace tollgate::core
