// ErrorKind table: every enumerator maps to a sane row, and error bodies have OpenAI's shape.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

using namespace tollgate::core;

TEST_CASE("every ErrorKind has a row with a status, a type and the right retryability") {
  for (int i = 0; i < kErrorKindCount; ++i) {
    const auto kind = static_cast<ErrorKind>(i);
    const auto& info = error_info(kind);
    INFO("kind " << i);
    CHECK(info.status >= 400);
    CHECK(info.status <= 599);
    CHECK_FALSE(info.type.empty());
    // Client faults are not worth retrying as they are; server-side conditions may pass.
    if (info.status == 400 || info.status == 401 || info.status == 403 || info.status == 404 || info.status == 413)
      CHECK_FALSE(info.retryable);
    if (info.status >= 500) CHECK(info.retryable);
  }
}

TEST_CASE("the documented statuses and codes of DESIGN.md") {
  CHECK(error_info(ErrorKind::kInvalidRequest).status == 400);
  CHECK(error_info(ErrorKind::kInvalidRequest).type == "invalid_request_error");
  CHECK(error_info(ErrorKind::kInvalidApiKey).code == "invalid_api_key");
  CHECK(error_info(ErrorKind::kModelNotAllowed).status == 403);
  CHECK(error_info(ErrorKind::kModelNotFound).status == 404);
  CHECK(error_info(ErrorKind::kModelNotFound).code == "model_not_found");
  CHECK(error_info(ErrorKind::kRequestTooLarge).status == 413);
  CHECK(error_info(ErrorKind::kRequestTooLarge).code == "request_too_large");
  CHECK(error_info(ErrorKind::kRateLimited).code == "rate_limit_exceeded");
  CHECK(error_info(ErrorKind::kBudgetExceeded).type == "insufficient_quota");
  CHECK(error_info(ErrorKind::kUpstreamError).status == 502);
  CHECK(error_info(ErrorKind::kUpstreamError).type == "upstream_error");
  CHECK(error_info(ErrorKind::kNoHealthyDeployment).status == 503);
  CHECK(error_info(ErrorKind::kUpstreamTimeout).status == 504);
  CHECK(error_info(ErrorKind::kUpstreamTimeout).type == "timeout");
}

TEST_CASE("to_openai_json has message, type, param and code, with null for empty ones") {
  auto body = nlohmann::json::parse(to_openai_json(make_error(ErrorKind::kInvalidRequest, "bad \"thing\"", "messages")));
  CHECK(body["error"]["message"] == "bad \"thing\"");
  CHECK(body["error"]["type"] == "invalid_request_error");
  CHECK(body["error"]["param"] == "messages");
  CHECK(body["error"]["code"].is_null());

  body = nlohmann::json::parse(to_openai_json(make_error(ErrorKind::kModelNotFound, "nope")));
  CHECK(body["error"]["param"].is_null());
  CHECK(body["error"]["code"] == "model_not_found");
}

TEST_CASE("an error message holding bytes that are not UTF-8 is rendered, not thrown") {
  std::string body;
  REQUIRE_NOTHROW(body = to_openai_json(make_error(ErrorKind::kRouteNotFound, "Invalid URL (GET /v1/\xff\xfe)")));
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  CHECK(parsed["error"]["message"].get<std::string>().rfind("Invalid URL (GET /v1/", 0) == 0);
}
