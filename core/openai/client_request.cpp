// Client request validation (chat completions, embeddings), with OpenAI's own error wording where it has one.
#include "core/openai/client_request.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace tollgate::core {
namespace {

GatewayError invalid(std::string message, std::string param = {}) {
  return make_error(ErrorKind::kInvalidRequest, std::move(message), std::move(param));
}

const char* json_type(const nlohmann::json& value) {
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

/// The body as a JSON object with a string `model`, or the 400 OpenAI answers.
Result<std::pair<nlohmann::json, std::string>> parse_body_and_model(std::string_view text) {
  nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded())
    return invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
        "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)");
  if (!body.is_object()) return invalid("The request body must be a JSON object.");
  auto model = body.find("model");
  if (model == body.end() || model->is_null()) return invalid("You must provide a model parameter.", "model");
  if (!model->is_string())
    return invalid(std::string("Invalid type for 'model': expected a string, but got ") + json_type(*model) + " instead.",
                   "model");
  std::string name = model->get<std::string>();
  return std::pair(std::move(body), std::move(name));
}

bool is_token_id(const nlohmann::json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
}

/// Why `input` is not one of the shapes OpenAI takes, or empty when it is one; counts the inputs.
std::string check_input(const nlohmann::json& input, std::size_t& count) {
  if (input.is_string()) {
    count = 1;
    return input.get_ref<const std::string&>().empty() ? "must not be an empty string" : "";
  }
  if (!input.is_array())
    return std::string("expected a string or an array, but got ") + json_type(input) + " instead";
  if (input.empty()) return "expected an array with minimum length 1, but got an empty array instead";
  if (std::all_of(input.begin(), input.end(), is_token_id)) {
    count = 1;  // one text given as token ids
    return "";
  }
  if (input.size() > kMaxEmbeddingInputs)
    return "expected an array with maximum length " + std::to_string(kMaxEmbeddingInputs) + ", but got an array with length " +
           std::to_string(input.size()) + " instead";
  for (std::size_t i = 0; i < input.size(); ++i) {
    const auto& item = input[i];
    const bool text = item.is_string() && !item.get_ref<const std::string&>().empty();
    const bool tokens = item.is_array() && !item.empty() && std::all_of(item.begin(), item.end(), is_token_id);
    if (!text && !tokens)
      return "item " + std::to_string(i) +
             " must be a non-empty string or a non-empty array of token ids (integers >= 0), and all items of one kind";
    if (i > 0 && item.is_string() != input[0].is_string())
      return "item " + std::to_string(i) + " is not of the same kind as item 0 (all strings, or all token-id arrays)";
  }
  count = input.size();
  return "";
}

}  // namespace

Result<ChatRequest> parse_chat_request(std::string_view text) {
  auto parsed = parse_body_and_model(text);
  if (!parsed) return parsed.error();
  ChatRequest request;
  request.body = std::move(parsed->first);
  request.model = std::move(parsed->second);
  const auto& body = request.body;

  auto messages = body.find("messages");
  if (messages == body.end()) return invalid("Missing required parameter: 'messages'.", "messages");
  if (!messages->is_array())
    return invalid(
        std::string("Invalid type for 'messages': expected an array, but got ") + json_type(*messages) + " instead.",
        "messages");
  if (messages->empty())
    return invalid("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                   "messages");

  if (auto stream = body.find("stream"); stream != body.end() && !stream->is_null()) {
    if (!stream->is_boolean())
      return invalid(std::string("Invalid type for 'stream': expected a boolean, but got ") + json_type(*stream) +
                         " instead.",
                     "stream");
    request.stream = stream->get<bool>();
  }

  if (auto options = body.find("stream_options"); options != body.end() && !options->is_null()) {
    if (!request.stream)
      return invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
    if (!options->is_object())
      return invalid(std::string("Invalid type for 'stream_options': expected an object, but got ") +
                         json_type(*options) + " instead.",
                     "stream_options");
    if (auto usage = options->find("include_usage"); usage != options->end() && !usage->is_null()) {
      if (!usage->is_boolean())
        return invalid("Invalid type for 'stream_options.include_usage': expected a boolean.",
                       "stream_options.include_usage");
      request.include_usage = usage->get<bool>();
    }
  }
  return request;
}

Result<EmbeddingsRequest> parse_embeddings_request(std::string_view text) {
  auto parsed = parse_body_and_model(text);
  if (!parsed) return parsed.error();
  EmbeddingsRequest request;
  request.body = std::move(parsed->first);
  request.model = std::move(parsed->second);
  const auto& body = request.body;

  auto input = body.find("input");
  if (input == body.end() || input->is_null()) return invalid("Missing required parameter: 'input'.", "input");
  if (std::string why = check_input(*input, request.inputs); !why.empty())
    return invalid("Invalid 'input': " + why + ".", "input");

  if (auto format = body.find("encoding_format"); format != body.end() && !format->is_null()) {
    if (!format->is_string() || (*format != "float" && *format != "base64"))
      return invalid("Invalid value for 'encoding_format': expected one of 'float' or 'base64', but got " +
                         format->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + " instead.",
                     "encoding_format");
  }
  if (auto dimensions = body.find("dimensions"); dimensions != body.end() && !dimensions->is_null()) {
    if (!dimensions->is_number_integer() || dimensions->get<std::int64_t>() < 1)
      return invalid("Invalid 'dimensions': expected an integer >= 1, but got " +
                         dimensions->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + " instead.",
                     "dimensions");
  }
  return request;
}

}  // namespace tollgate::core
