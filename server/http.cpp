// HttpReply helpers.
#include "server/http.hpp"

namespace tollgate::server {

HttpReply HttpReply::error(const core::GatewayError& error) {
  HttpReply r = json(static_cast<unsigned>(error.info().status), core::to_openai_json(error));
  if (error.retry_after) r.headers.emplace_back("retry-after", std::to_string(error.retry_after->count()));
  // OpenAI's SDKs retry 429 and 5xx unless told otherwise; a spent budget or a bad request will
  // not get better by retrying.
  if (!error.info().retryable) r.headers.emplace_back("x-should-retry", "false");
  return r;
}

}  // namespace tollgate::server
