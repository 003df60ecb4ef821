// Admin request parsing: strict bodies, credentials, resource paths and query parameters.
#include <catch2/catch.hpp>

#include "server/admin/admin_support.hpp"
#include "server/admin/body_fields.hpp"
#include "server/credentials.hpp"

using namespace tollgate::server;
using tollgate::core::ErrorKind;

namespace {

BodyFields parsed(std::string_view body, std::initializer_list<std::string_view> allowed) {
  auto fields = BodyFields::parse(body, allowed);
  REQUIRE(fields.has_value());
  return *fields;
}

Request with_headers(std::initializer_list<std::pair<std::string, std::string>> headers) {
  Request request{http::verb::get, "/v1/models", 11};
  for (const auto& [name, value] : headers) request.set(name, value);
  return request;
}

}  // namespace

TEST_CASE("admin bodies must be JSON objects with known fields", "[admin]") {
  CHECK(BodyFields::parse("", {"a"}).error().message.find("empty") != std::string::npos);
  CHECK(BodyFields::parse("{", {"a"}).error().kind == ErrorKind::kInvalidRequest);
  CHECK(BodyFields::parse("[1]", {"a"}).error().message.find("not an array") != std::string::npos);
  CHECK(BodyFields::parse("\"\xff\"", {"a"}).error().kind == ErrorKind::kInvalidRequest);
  auto unknown = BodyFields::parse(R"({"a":1,"bogus":2})", {"a"});
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().param == "bogus");
  CHECK(unknown.error().message == "Unrecognized request argument supplied: 'bogus'.");
  CHECK(BodyFields::parse(std::string(70 * 1024, ' '), {"a"}).error().kind == ErrorKind::kRequestTooLarge);
}

TEST_CASE("field readers check types and ranges and name the field", "[admin]") {
  auto body = parsed(R"({"rpm":"10","tpm":-1,"n":1.5,"w":0,"ok":7,"big":1e300,"f":2.0,"nul":null})",
                     {"rpm", "tpm", "n", "w", "ok", "big", "f", "nul"});
  auto rpm = body.integer("rpm", 1, 100);
  REQUIRE_FALSE(rpm.has_value());
  CHECK(rpm.error().param == "rpm");
  CHECK(rpm.error().message == "'rpm' must be an integer from 1 to 100, not a string.");
  CHECK(body.integer("tpm", 1, 100).error().param == "tpm");
  CHECK_FALSE(body.integer("n", 1, 100).has_value());
  CHECK(body.integer("f", 1, 100)->value == 2);
  CHECK(body.integer("ok", 1, 100)->value == 7);
  CHECK_FALSE(body.integer("big", 1, 100).has_value());
  CHECK_FALSE(body.integer("absent", 1, 100)->present);
  auto null_value = body.integer("nul", 1, 100);
  CHECK(null_value->present);
  CHECK_FALSE(null_value->value.has_value());
  CHECK_FALSE(body.number("w", 10).has_value());
  CHECK(body.number("w", 10, false)->value == 0.0);
}

TEST_CASE("text and token fields refuse what cannot be stored or sent safely", "[admin]") {
  auto body = parsed(R"({"name":"a\nb","empty":"","key":"sk-ok-123","spaced":"sk bad","uni":"sk-é","good":"Team ✓"})",
                     {"name", "empty", "key", "spaced", "uni", "good"});
  CHECK(body.text("name").error().message.find("control characters") != std::string::npos);
  CHECK(body.text("empty").error().message.find("must not be empty") != std::string::npos);
  CHECK(body.text("good")->value == "Team ✓");
  REQUIRE(body.text("good", 6).has_value());  // 6 characters in 8 bytes: counted as characters
  CHECK_FALSE(body.text("good", 5).has_value());
  CHECK(body.token("key")->value == "sk-ok-123");
  CHECK(body.token("spaced").error().param == "spaced");
  CHECK_FALSE(body.token("uni").has_value());
}

TEST_CASE("lists, objects and times", "[admin]") {
  auto body = parsed(R"({"models":["a","b"],"dup":["a","a"],"mixed":["a",1],"meta":{"x":1},"arr":[1],
                        "t1":"2030-01-01T00:00:00Z","t2":1893456000,"t3":"tomorrow","t4":true})",
                     {"models", "dup", "mixed", "meta", "arr", "t1", "t2", "t3", "t4"});
  CHECK(body.strings("models")->value == std::vector<std::string>{"a", "b"});
  CHECK(body.strings("dup").error().message.find("twice") != std::string::npos);
  CHECK_FALSE(body.strings("mixed").has_value());
  CHECK(body.object("meta")->value->at("x") == 1);
  CHECK(body.object("arr").error().message == "'arr' must be an object, not an array.");
  CHECK(body.time("t1")->value == 1'893'456'000'000);
  CHECK(body.time("t2")->value == 1'893'456'000'000);
  CHECK(body.time("t3").error().param == "t3");
  CHECK_FALSE(body.time("t4").has_value());
}

TEST_CASE("the presented credential: Bearer, then api-key", "[admin]") {
  CHECK(presented_credential(with_headers({{"authorization", "Bearer tg-abc"}})) == "tg-abc");
  CHECK(presented_credential(with_headers({{"authorization", "bearer   tg-abc  "}})) == "tg-abc");
  CHECK(presented_credential(with_headers({{"authorization", "Basic dXNlcjpwYXNz"}})).empty());
  CHECK(presented_credential(with_headers({{"authorization", "Bearer"}})).empty());
  CHECK(presented_credential(with_headers({{"api-key", "tg-xyz"}})) == "tg-xyz");
  CHECK(presented_credential(with_headers({{"authorization", "Bearer a"}, {"api-key", "b"}})) == "a");
  CHECK(presented_credential(with_headers({})).empty());
}

TEST_CASE("resource paths and query parameters", "[admin]") {
  auto plain = resource_path("/api/v1/keys/key_abc?x=1", "/api/v1/keys/");
  REQUIRE(plain);
  CHECK(plain->id == "key_abc");
  CHECK(plain->action.empty());
  auto rotate = resource_path("/api/v1/virtual-keys/vk_1/rotate", "/api/v1/virtual-keys/");
  REQUIRE(rotate);
  CHECK(rotate->action == "rotate");
  CHECK_FALSE(resource_path("/api/v1/keys/../secret", "/api/v1/keys/"));
  CHECK_FALSE(resource_path("/api/v1/keys/a%2Fb", "/api/v1/keys/"));
  CHECK_FALSE(resource_path("/api/v1/keys/" + std::string(65, 'a'), "/api/v1/keys/"));
  CHECK_FALSE(resource_path("/api/v1/keys/", "/api/v1/keys/"));
  CHECK_FALSE(resource_path("/api/v1/keys/a/b/c", "/api/v1/keys/"));

  CHECK(query_param("/a?provider_id=openai&x=1", "provider_id") == "openai");
  CHECK(query_param("/a?x=1&since=2026-11-22T00%3A00%3A00Z", "since") == "2026-11-22T00:00:00Z");
  CHECK(query_param("/a?name=a+b", "name") == "a b");
  CHECK(query_param("/a?flag", "flag") == "");
  CHECK_FALSE(query_param("/a?x=1", "y"));
  CHECK_FALSE(query_param("/a", "x"));
  CHECK(query_param("/a?x=%4", "x") == "%4");
}
