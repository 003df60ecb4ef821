// Token estimate: a generous prompt size and the requested output budget from a chat (or embeddings) request body.
#include "core/openai/token_estimate.hpp"

#include <algorithm>
#include <limits>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tollgate::core {
namespace {

using nlohmann::json;

constexpr std::int64_t kBytesPerToken = 4;
constexpr std::int64_t kPerMessage = 4;
constexpr std::int64_t kPerReply = 3;
constexpr std::int64_t kPerImage = 765;  // OpenAI: 85 + 170 per 512 px tile, a 1024x1024 image in high detail

std::int64_t text_tokens(std::size_t bytes) {
  return static_cast<std::int64_t>((bytes + kBytesPerToken - 1) / kBytesPerToken);
}

std::int64_t string_tokens(const json& value) {
  return value.is_string() ? text_tokens(value.get_ref<const json::string_t&>().size()) : 0;
}

// Schemas and tool calls count as the JSON the model will read. `replace` because a value built in
// code (not parsed) may hold invalid UTF-8, and an estimate must not throw.
std::int64_t json_tokens(const json& value) {
  if (value.is_null()) return 0;
  return text_tokens(value.dump(-1, ' ', false, json::error_handler_t::replace).size());
}

const json* member(const json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

std::string_view type_of(const json& part) {
  const json* type = member(part, "type");
  return type != nullptr && type->is_string() ? std::string_view(type->get_ref<const json::string_t&>()) : "";
}

std::int64_t content_tokens(const json& content) {
  if (content.is_string()) return string_tokens(content);
  if (!content.is_array()) return 0;
  std::int64_t tokens = 0;
  for (const auto& part : content) {
    if (part.is_string()) {
      tokens += string_tokens(part);
      continue;
    }
    const auto type = type_of(part);
    if (type == "image_url" || type == "input_image" || type == "image") {
      tokens += kPerImage;
      continue;
    }
    for (const char* field : {"text", "refusal"}) {
      if (const json* text = member(part, field)) tokens += string_tokens(*text);
    }
  }
  return tokens;
}

std::int64_t message_tokens(const json& message) {
  std::int64_t tokens = kPerMessage;
  if (const json* content = member(message, "content")) tokens += content_tokens(*content);
  if (const json* name = member(message, "name")) tokens += string_tokens(*name);
  for (const char* field : {"tool_calls", "function_call"}) {
    if (const json* calls = member(message, field)) tokens += json_tokens(*calls);
  }
  return tokens;
}

std::int64_t positive_integer(const json& body, std::string_view name) {
  const json* value = member(body, name);
  if (value == nullptr) return 0;
  if (value->is_number_unsigned()) {
    const auto count = value->get<std::uint64_t>();
    return static_cast<std::int64_t>(std::min<std::uint64_t>(count, std::numeric_limits<std::int64_t>::max()));
  }
  if (value->is_number_integer()) return std::max<std::int64_t>(value->get<std::int64_t>(), 0);
  return 0;
}

}  // namespace

std::int64_t estimate_prompt_tokens(const json& body) {
  std::int64_t tokens = kPerReply;
  if (const json* messages = member(body, "messages"); messages != nullptr && messages->is_array()) {
    for (const auto& message : *messages) tokens += message_tokens(message);
  }
  for (const char* field : {"tools", "functions", "response_format"}) {
    if (const json* value = member(body, field)) tokens += json_tokens(*value);
  }
  return tokens;
}

std::int64_t estimate_embedding_tokens(const json& body) {
  const json* input = member(body, "input");
  if (input == nullptr) return 0;
  if (input->is_string()) return string_tokens(*input);
  if (!input->is_array()) return 0;
  std::int64_t tokens = 0;
  for (const auto& item : *input) {
    if (item.is_string()) tokens += string_tokens(item);
    else if (item.is_array()) tokens += static_cast<std::int64_t>(item.size());
    else if (item.is_number()) tokens += 1;  // the whole input is one text's token ids
  }
  return tokens;
}

std::int64_t requested_output_tokens(const json& body) {
  // An unusable max_completion_tokens (rejected elsewhere) does not hide a usable max_tokens.
  if (const auto tokens = positive_integer(body, "max_completion_tokens"); tokens > 0) return tokens;
  return positive_integer(body, "max_tokens");
}

}  // namespace tollgate::core

namespace tollgate::core {

std::int64_t answer_text_bytes(std::string_view json) {
  static constexpr std::string_view kFields[] = {R"("content":")", R"("reasoning_content":")", R"("arguments":")"};
  std::int64_t bytes = 0;
  for (const std::string_view field : kFields) {
    for (std::size_t at = json.find(field); at != std::string_view::npos; at = json.find(field, at)) {
      at += field.size();
      while (at < json.size() && json[at] != '"') {
        // An escape is one character of text: skip what follows the backslash (\uXXXX's hex digits
        // count as text too, which over-counts non-ASCII slightly: the estimate errs high).
        at += json[at] == '\\' ? 2 : 1;
        ++bytes;
      }
    }
  }
  return bytes;
}

}  // namespace tollgate::core
