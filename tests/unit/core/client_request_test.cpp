// Request validation: what tollgate rejects itself, with OpenAI's params and wording.
#include <catch2/catch.hpp>

#include "core/openai/client_request.hpp"

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

namespace {
GatewayError embeddings_error(std::string_view body) {
  auto parsed = parse_embeddings_request(body);
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().kind == ErrorKind::kInvalidRequest);
  return parsed.error();
}
}  // namespace

TEST_CASE("an embeddings request keeps its body and counts its inputs", "[embeddings]") {
  auto one = parse_embeddings_request(R"({"model":"e","input":"hello","dimensions":256,"encoding_format":"base64","x":1})");
  REQUIRE(one.has_value());
  CHECK(one->model == "e");
  CHECK(one->inputs == 1);
  CHECK(one->body["x"] == 1);
  CHECK(parse_embeddings_request(R"({"model":"e","input":["a","b","c"]})")->inputs == 3);
  CHECK(parse_embeddings_request(R"({"model":"e","input":[1,2,3]})")->inputs == 1);  // one text as token ids
  CHECK(parse_embeddings_request(R"({"model":"e","input":[[1,2],[3]]})")->inputs == 2);
  CHECK(parse_embeddings_request(R"({"model":"e","input":"x","encoding_format":null,"dimensions":null})").has_value());
}

TEST_CASE("embeddings: model and input are required, input takes OpenAI's shapes only", "[embeddings]") {
  CHECK(embeddings_error("{").message.find("could not parse the JSON body") != std::string::npos);
  CHECK(embeddings_error(R"({"input":"x"})").param == "model");
  auto missing = embeddings_error(R"({"model":"e"})");
  CHECK(missing.param == "input");
  CHECK(missing.message == "Missing required parameter: 'input'.");
  CHECK(embeddings_error(R"({"model":"e","input":""})").message == "Invalid 'input': must not be an empty string.");
  CHECK(embeddings_error(R"({"model":"e","input":[]})").message ==
        "Invalid 'input': expected an array with minimum length 1, but got an empty array instead.");
  CHECK(embeddings_error(R"({"model":"e","input":{"text":"x"}})").message ==
        "Invalid 'input': expected a string or an array, but got an object instead.");
  CHECK(embeddings_error(R"({"model":"e","input":["a",""]})").message ==
        "Invalid 'input': item 1 must be a non-empty string or a non-empty array of token ids (integers >= 0), and all "
        "items of one kind.");
  CHECK(embeddings_error(R"({"model":"e","input":["a",[1]]})").message ==
        "Invalid 'input': item 1 is not of the same kind as item 0 (all strings, or all token-id arrays).");
  CHECK(embeddings_error(R"({"model":"e","input":[-1]})").param == "input");
  std::string many = R"({"model":"e","input":[)";
  for (std::size_t i = 0; i <= kMaxEmbeddingInputs; ++i) many += i ? ",\"t\"" : "\"t\"";
  many += "]}";
  CHECK(embeddings_error(many).message ==
        "Invalid 'input': expected an array with maximum length 2048, but got an array with length 2049 instead.");
}

TEST_CASE("embeddings: encoding_format and dimensions are checked", "[embeddings]") {
  auto format = embeddings_error(R"({"model":"e","input":"x","encoding_format":"int8"})");
  CHECK(format.param == "encoding_format");
  CHECK(format.message == "Invalid value for 'encoding_format': expected one of 'float' or 'base64', but got \"int8\" instead.");
  CHECK(embeddings_error(R"({"model":"e","input":"x","dimensions":0})").param == "dimensions");
  CHECK(embeddings_error(R"({"model":"e","input":"x","dimensions":1.5})").message ==
        "Invalid 'dimensions': expected an integer >= 1, but got 1.5 instead.");
}
