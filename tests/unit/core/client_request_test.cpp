// Request validation: what tollgate rejects itself, with OpenAI's params and wording.
#include <catch2/catch.hpp>

#include "core/openai/chat_request.hpp"

using namespace tollgate::core;

namespace {
GatewayError error_of(std::string_view body) {
  auto parsed = parse_chat_request(body);
  REQUIRE_FALSE(parsed.has_value());
  return parsed.error();
}
}  // namespace

TEST_CASE("a valid request keeps its whole body and reads model, stream and include_usage") {
  auto parsed = parse_chat_request(
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"x_custom":1})");
  REQUIRE(parsed.has_value());
  CHECK(parsed->model == "m");
  CHECK(parsed->stream);
  CHECK(parsed->include_usage);
  CHECK(parsed->body["x_custom"] == 1);
}

TEST_CASE("stream defaults to false and include_usage to false") {
  auto parsed = parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  REQUIRE(parsed.has_value());
  CHECK_FALSE(parsed->stream);
  CHECK_FALSE(parsed->include_usage);
}

TEST_CASE("malformed JSON and non-object bodies are 400s") {
  CHECK(error_of("{\"model\": ").kind == ErrorKind::kInvalidRequest);
  CHECK(error_of("").message.find("could not parse the JSON body") != std::string::npos);
  CHECK(error_of("[1,2]").message == "The request body must be a JSON object.");
}

TEST_CASE("model must be present and a string") {
  CHECK(error_of(R"({"messages":[{"role":"user","content":"hi"}]})").param == "model");
  auto e = error_of(R"({"model":3,"messages":[{"role":"user","content":"hi"}]})");
  CHECK(e.param == "model");
  CHECK(e.message == "Invalid type for 'model': expected a string, but got a number instead.");
}

TEST_CASE("messages must be a non-empty array") {
  CHECK(error_of(R"({"model":"m"})").message == "Missing required parameter: 'messages'.");
  CHECK(error_of(R"({"model":"m","messages":"hi"})").param == "messages");
  CHECK(error_of(R"({"model":"m","messages":[]})").param == "messages");
}

TEST_CASE("stream must be a boolean and stream_options needs stream") {
  CHECK(error_of(R"({"model":"m","messages":[{}],"stream":"yes"})").param == "stream");
  CHECK(error_of(R"({"model":"m","messages":[{}],"stream_options":{"include_usage":true}})").param == "stream_options");
  CHECK(error_of(R"({"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":1}})").param ==
        "stream_options.include_usage");
}
