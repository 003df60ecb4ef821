// Endpoint matching: exact paths, prefixes, query strings, 404 vs 405.
#include <catch2/catch.hpp>

#include "server/endpoint_table.hpp"
#include "server/request_ids.hpp"

using namespace tollgate::server;

namespace {
class Dummy final : public Handler {
 public:
  boost::asio::awaitable<HttpReply> handle(const Request&, Exchange&) override { co_return HttpReply::json(200, "{}"); }
};
}  // namespace

TEST_CASE("routes match exactly, by prefix, and without their query string") {
  Dummy list, one, chat;
  EndpointTable table;
  table.add(http::verb::get, "/v1/models", Access::kCaller, list);
  table.add(http::verb::get, "/v1/models/", Access::kCaller, one);
  table.add(http::verb::post, "/v1/chat/completions", Access::kCaller, chat);

  auto m = table.match(http::verb::get, "/v1/models?limit=2");
  REQUIRE(m.endpoint != nullptr);
  CHECK(m.endpoint->handler == &list);
  CHECK(m.endpoint->route == "/v1/models");

  m = table.match(http::verb::get, "/v1/models/gpt-4o");
  REQUIRE(m.endpoint != nullptr);
  CHECK(m.endpoint->handler == &one);
  CHECK(m.endpoint->route == "/v1/models/");

  m = table.match(http::verb::post, "/v1/chat/completions");
  REQUIRE(m.endpoint != nullptr);
  CHECK(m.endpoint->handler == &chat);
}

TEST_CASE("an unknown path is a 404 and a known path with another method a 405, in OpenAI's wording") {
  Dummy chat;
  EndpointTable table;
  table.add(http::verb::post, "/v1/chat/completions", Access::kCaller, chat);

  auto m = table.match(http::verb::get, "/v1/chat/completions");
  CHECK(m.endpoint == nullptr);
  REQUIRE(m.error.has_value());
  CHECK(m.error->info().status == 405);
  CHECK(m.error->message == "Invalid method for URL (GET /v1/chat/completions)");

  m = table.match(http::verb::post, "/v1/chat/completion");
  REQUIRE(m.error.has_value());
  CHECK(m.error->info().status == 404);
  CHECK(m.error->message == "Invalid URL (POST /v1/chat/completion)");

  // A prefix route needs something after the slash.
  Dummy one;
  table.add(http::verb::get, "/v1/models/", Access::kCaller, one);
  CHECK(table.match(http::verb::get, "/v1/models/").endpoint == nullptr);
}

TEST_CASE("request ids are unique and a client's own id is accepted only when printable and short") {
  RequestIds ids(42);
  const auto a = ids.next();
  const auto b = ids.next();
  CHECK(a != b);
  CHECK(a.rfind("req_", 0) == 0);
  CHECK(RequestIds::acceptable("abc-123_XYZ"));
  CHECK_FALSE(RequestIds::acceptable(""));
  CHECK_FALSE(RequestIds::acceptable("has space"));
  CHECK_FALSE(RequestIds::acceptable("line\nbreak"));
  CHECK_FALSE(RequestIds::acceptable(std::string(129, 'a')));
}
