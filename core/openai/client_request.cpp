// Chat completion request validation, with OpenAI's own error wording where it has one.
#include "core/openai/chat_request.hpp"

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

}  // namespace

Result<ChatRequest> parse_chat_request(std::string_view text) {
  ChatRequest request;
  request.body = nlohmann::json::parse(text, nullptr, false);
  if (request.body.is_discarded())
    return invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
        "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)");
  if (!request.body.is_object()) return invalid("The request body must be a JSON object.");

  const auto& body = request.body;
  auto model = body.find("model");
  if (model == body.end() || model->is_null()) return invalid("You must provide a model parameter.", "model");
  if (!model->is_string())
    return invalid(std::string("Invalid type for 'model': expected a string, but got ") + json_type(*model) + " instead.",
                   "model");
  request.model = model->get<std::string>();

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

}  // namespace tollgate::core
