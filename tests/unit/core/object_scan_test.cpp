// Reading usage, choices and errors from upstream JSON without a nlohmann DOM.
#include <catch2/catch.hpp>

#include "core/openai/object_scan.hpp"

using namespace tollgate::core;

TEST_CASE("a chat.completion yields its usage, details included") {
  const auto scan = scan_object(
      R"({"id":"x","choices":[{"index":0,"message":{"content":"the usage is {1}"}}],)"
      R"("usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,)"
      R"("prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}})");
  REQUIRE(scan.is_object);
  REQUIRE(scan.usage.has_value());
  CHECK(scan.usage->prompt_tokens == 12);
  CHECK(scan.usage->completion_tokens == 5);
  CHECK(scan.usage->total_tokens == 17);
  CHECK(scan.usage->cached_tokens == 4);
  CHECK(scan.usage->reasoning_tokens == 2);
  CHECK_FALSE(scan.choices_empty);
  CHECK_FALSE(scan.error.has_value());
}

TEST_CASE("a missing total is derived, null usage is no usage, empty choices are seen") {
  auto scan = scan_object(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}})");
  REQUIRE(scan.usage.has_value());
  CHECK(scan.usage->total_tokens == 7);
  CHECK(scan.choices_empty);

  scan = scan_object(R"({"choices":[{"delta":{}}],"usage":null})");
  CHECK(scan.is_object);
  CHECK_FALSE(scan.usage.has_value());
}

TEST_CASE("an error object's message is read; non-objects and malformed text are not objects") {
  auto scan = scan_object(R"({"error":{"message":"overloaded","type":"server_error"}})");
  REQUIRE(scan.error.has_value());
  CHECK(*scan.error == "overloaded");
  CHECK_FALSE(scan_object("[1,2]").is_object);
  CHECK_FALSE(scan_object("<html>502</html>").is_object);
  CHECK_FALSE(scan_object(R"({"usage":{"prompt_tokens":1})").is_object);
}

TEST_CASE("a body larger than the stack arena still parses") {
  std::string big = R"({"choices":[{"message":{"content":")" + std::string(64 * 1024, 'a') +
                    R"("}}],"usage":{"prompt_tokens":1,"completion_tokens":2}})";
  const auto scan = scan_object(big);
  REQUIRE(scan.usage.has_value());
  CHECK(scan.usage->completion_tokens == 2);
}

TEST_CASE("has_object_field finds a key whose value is an object, never text inside a string") {
  CHECK(has_object_field(R"({"usage":{"a":1}})", "usage"));
  CHECK(has_object_field(R"({"usage" :  {"a":1}})", "usage"));
  CHECK_FALSE(has_object_field(R"({"usage":null})", "usage"));
  CHECK_FALSE(has_object_field(R"({"content":"the \"usage\":{ x"})", "usage"));
  CHECK_FALSE(has_object_field(R"({"my_usage":{}})", "usage"));
  CHECK(has_object_field(R"({"content":"usage","usage":{}})", "usage"));
}
