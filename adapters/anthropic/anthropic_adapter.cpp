// Anthropic Messages API: encode, decode, classify and the SSE event → OpenAI chunk decoder.
#include "adapters/anthropic/anthropic_adapter.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "adapters/wire_text.hpp"

namespace tollgate::adapters {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::size_t kMaxMessageBytes = 512;

// Request fields dropped because they do not change what the model answers, or only ask for
// what Anthropic does anyway:
//   stream_options  Anthropic streams always report usage (message_start / message_delta)
//   seed            a best-effort determinism hint with no Anthropic equivalent
//   store, metadata OpenAI's stored-completions bookkeeping
//   service_tier    OpenAI's processing tier
//   messages[].name a participant label with no Anthropic field
//   image_url.detail, function.strict
// Neutral values are accepted: n 1, frequency/presence_penalty 0, logprobs false, top_logprobs 0,
// logit_bias {}, response_format {"type":"text"}, any field set to null.
// Every other unknown field is a 400 naming it.

core::GatewayError invalid(std::string message, std::string param) {
  return core::make_error(core::ErrorKind::kInvalidRequest, std::move(message), std::move(param));
}

core::GatewayError unsupported(const std::string& param) {
  return invalid("'" + param + "' is not supported by provider type anthropic", param);
}

using Refusal = std::optional<core::GatewayError>;

bool absent(const json& value) { return value.is_null(); }

/// Text parts of an OpenAI content array (or a string) as Anthropic text blocks.
Refusal text_blocks(const json& content, const std::string& param, ojson& blocks) {
  if (content.is_string()) {
    if (!content.get_ref<const std::string&>().empty()) blocks.push_back({{"type", "text"}, {"text", content}});
    return std::nullopt;
  }
  if (content.is_null()) return std::nullopt;
  if (!content.is_array()) return invalid("'" + param + "' must be a string or an array of parts", param);
  for (std::size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string at = param + "[" + std::to_string(i) + "]";
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
      return invalid("'" + at + "' must be a text part here", at);
    blocks.push_back({{"type", "text"}, {"text", part["text"]}});
  }
  return std::nullopt;
}

/// An OpenAI image_url part → an Anthropic image block (data: URLs as base64, others by URL).
Refusal image_block(const json& part, const std::string& param, ojson& blocks) {
  const json* image = part.contains("image_url") ? &part["image_url"] : nullptr;
  std::string url;
  if (image && image->is_string()) url = image->get<std::string>();
  else if (image && image->is_object() && image->contains("url") && (*image)["url"].is_string())
    url = (*image)["url"].get<std::string>();
  else return invalid("'" + param + ".image_url.url' must be a string", param + ".image_url.url");

  if (url.rfind("data:", 0) == 0) {
    const auto comma = url.find(',');
    const std::string_view meta = std::string_view(url).substr(5, comma == std::string::npos ? 0 : comma - 5);
    constexpr std::string_view kBase64 = ";base64";
    if (comma == std::string::npos || meta.size() <= kBase64.size() ||
        meta.substr(meta.size() - kBase64.size()) != kBase64)
      return invalid("'" + param + ".image_url.url' must be a base64 data URL", param + ".image_url.url");
    blocks.push_back({{"type", "image"},
                      {"source",
                       {{"type", "base64"},
                        {"media_type", std::string(meta.substr(0, meta.size() - kBase64.size()))},
                        {"data", url.substr(comma + 1)}}}});
  } else {
    blocks.push_back({{"type", "image"}, {"source", {{"type", "url"}, {"url", url}}}});
  }
  return std::nullopt;
}

/// A user message's content: a string stays a string; parts become text and image blocks.
Refusal user_content(const json& content, const std::string& param, ojson& out) {
  if (content.is_string()) {
    out = content;
    return std::nullopt;
  }
  if (!content.is_array()) return invalid("'" + param + "' must be a string or an array of parts", param);
  out = ojson::array();
  for (std::size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string at = param + "[" + std::to_string(i) + "]";
    const std::string type = part.is_object() ? part.value("type", "") : "";
    if (type == "text") {
      if (auto refused = text_blocks(json::array({part}), param, out)) return invalid(refused->message, at);
    } else if (type == "image_url") {
      if (auto refused = image_block(part, at, out)) return refused;
    } else {
      return invalid("content part type '" + type + "' is not supported by provider type anthropic", at + ".type");
    }
  }
  return std::nullopt;
}

/// An assistant message: text blocks, then one tool_use block per tool call.
Refusal assistant_content(const json& message, const std::string& param, ojson& out) {
  const json content = message.contains("content") ? message["content"] : json();
  const bool has_calls = message.contains("tool_calls") && !message["tool_calls"].is_null() &&
                         !(message["tool_calls"].is_array() && message["tool_calls"].empty());
  if (!has_calls && content.is_string()) {
    out = content;
    return std::nullopt;
  }
  out = ojson::array();
  if (auto refused = text_blocks(content, param + ".content", out)) return refused;
  if (!has_calls) return std::nullopt;
  const json& calls = message["tool_calls"];
  if (!calls.is_array()) return invalid("'" + param + ".tool_calls' must be an array", param + ".tool_calls");
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const json& call = calls[i];
    const std::string at = param + ".tool_calls[" + std::to_string(i) + "]";
    if (!call.is_object() || call.value("type", "function") != "function" || !call.contains("id") ||
        !call["id"].is_string() || !call.contains("function") || !call["function"].is_object() ||
        !call["function"].contains("name") || !call["function"]["name"].is_string())
      return invalid("'" + at + "' must be a function call with an id and a name", at);
    const json& function = call["function"];
    json input = json::object();
    if (function.contains("arguments") && function["arguments"].is_string()) {
      const std::string& text = function["arguments"].get_ref<const std::string&>();
      if (!trim(text).empty()) input = json::parse(text, nullptr, false);
    }
    if (!input.is_object())
      return invalid("'" + at + ".function.arguments' must be a JSON object", at + ".function.arguments");
    out.push_back({{"type", "tool_use"}, {"id", call["id"]}, {"name", function["name"]}, {"input", input}});
  }
  return std::nullopt;
}

/// A `tool` message → a tool_result block.
Refusal tool_result(const json& message, const std::string& param, ojson& block) {
  if (!message.contains("tool_call_id") || !message["tool_call_id"].is_string())
    return invalid("'" + param + ".tool_call_id' must be a string", param + ".tool_call_id");
  block = {{"type", "tool_result"}, {"tool_use_id", message["tool_call_id"]}};
  const json content = message.contains("content") ? message["content"] : json();
  if (content.is_string()) {
    block["content"] = content;
    return std::nullopt;
  }
  ojson blocks = ojson::array();
  if (auto refused = text_blocks(content, param + ".content", blocks)) return refused;
  block["content"] = std::move(blocks);
  return std::nullopt;
}

/// OpenAI messages → Anthropic `system` (every system/developer message, in order) and `messages`
/// (consecutive tool results merged into one user turn, as Anthropic wants them).
Refusal translate_messages(const json& messages, ojson& system, ojson& out) {
  if (!messages.is_array()) return invalid("'messages' must be an array", "messages");
  ojson system_blocks = ojson::array();
  out = ojson::array();
  bool last_is_tool_turn = false;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& message = messages[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!message.is_object() || !message.contains("role") || !message["role"].is_string())
      return invalid("'" + at + ".role' must be a string", at + ".role");
    const std::string role = message["role"].get<std::string>();
    const json content = message.contains("content") ? message["content"] : json();
    if (role == "system" || role == "developer") {
      if (auto refused = text_blocks(content, at + ".content", system_blocks)) return refused;
      continue;
    }
    if (role == "tool") {
      ojson block;
      if (auto refused = tool_result(message, at, block)) return refused;
      if (last_is_tool_turn) {
        out.back()["content"].push_back(std::move(block));
      } else {
        out.push_back({{"role", "user"}, {"content", ojson::array({std::move(block)})}});
        last_is_tool_turn = true;
      }
      continue;
    }
    last_is_tool_turn = false;
    ojson translated;
    if (role == "user") {
      if (auto refused = user_content(content, at + ".content", translated)) return refused;
    } else if (role == "assistant") {
      if (auto refused = assistant_content(message, at, translated)) return refused;
    } else {
      return invalid("role '" + role + "' is not supported by provider type anthropic", at + ".role");
    }
    out.push_back({{"role", role}, {"content", std::move(translated)}});
  }
  if (system_blocks.size() == 1)
    system = system_blocks[0]["text"];
  else if (!system_blocks.empty())
    system = std::move(system_blocks);
  return std::nullopt;
}

Refusal translate_tools(const json& tools, ojson& out) {
  if (!tools.is_array()) return invalid("'tools' must be an array", "tools");
  out = ojson::array();
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const json& tool = tools[i];
    const std::string at = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object() || tool.value("type", "") != "function" || !tool.contains("function") ||
        !tool["function"].is_object() || !tool["function"].contains("name") || !tool["function"]["name"].is_string())
      return invalid("'" + at + "' must be a function tool with a name", at);
    const json& function = tool["function"];
    ojson translated = {{"name", function["name"]}};
    if (function.contains("description") && function["description"].is_string())
      translated["description"] = function["description"];
    if (function.contains("parameters") && function["parameters"].is_object())
      translated["input_schema"] = function["parameters"];
    else
      translated["input_schema"] = {{"type", "object"}, {"properties", ojson::object()}};
    out.push_back(std::move(translated));
  }
  return std::nullopt;
}

/// The tool a JSON `response_format` becomes: Anthropic has no JSON mode, so the model is made to
/// call this one tool, whose input is the JSON answer (the widely used forced-tool technique).
constexpr std::string_view kJsonTool = "json_response";

/// True when the client asked for a JSON answer (`response_format` json_object or json_schema).
bool wants_json(const json& body) {
  const auto format = body.find("response_format");
  if (format == body.end() || !format->is_object()) return false;
  const std::string type = format->value("type", "");
  return type == "json_object" || type == "json_schema";
}

/// response_format → nothing (text) or the forced JSON tool: json_object takes any object,
/// json_schema its schema, whose root must be an object (Anthropic's input_schema is one).
Refusal translate_response_format(const json& format, std::optional<ojson>& tool) {
  const std::string type = format.is_object() ? format.value("type", "") : "";
  if (type == "text") return std::nullopt;
  if (type == "json_object") {
    tool = ojson{{"name", kJsonTool},
                 {"description", "Respond with the answer as a JSON object."},
                 {"input_schema", {{"type", "object"}}}};
    return std::nullopt;
  }
  if (type != "json_schema")
    return invalid("'response_format.type' must be text, json_object or json_schema", "response_format.type");
  const auto spec = format.find("json_schema");
  if (spec == format.end() || !spec->is_object() || !spec->contains("schema") || !(*spec)["schema"].is_object() ||
      (*spec)["schema"].value("type", "") != "object")
    return invalid("'response_format.json_schema.schema' must be a JSON schema of an object (provider type anthropic)",
                   "response_format.json_schema.schema");
  std::string description = "Respond with the answer as JSON matching this schema.";
  if (const auto it = spec->find("description"); it != spec->end() && it->is_string()) description = *it;
  tool = ojson{{"name", kJsonTool}, {"description", description}, {"input_schema", (*spec)["schema"]}};
  return std::nullopt;
}

Refusal translate_tool_choice(const json& choice, ojson& out) {
  if (choice == "auto") out = {{"type", "auto"}};
  else if (choice == "required") out = {{"type", "any"}};
  else if (choice == "none") out = {{"type", "none"}};
  else if (choice.is_object() && choice.value("type", "") == "function" && choice.contains("function") &&
           choice["function"].is_object() && choice["function"].contains("name") &&
           choice["function"]["name"].is_string())
    out = {{"type", "tool"}, {"name", choice["function"]["name"]}};
  else
    return invalid("'tool_choice' must be auto, required, none or a named function", "tool_choice");
  return std::nullopt;
}

bool zero_number(const json& value) { return value.is_number() && value.get<double>() == 0.0; }

/// A unit interval number (temperature, top_p): Anthropic accepts 0..1 only.
Refusal unit_interval(const json& value, const std::string& param, std::optional<ojson>& out) {
  if (!value.is_number() || value.get<double>() < 0.0 || value.get<double>() > 1.0)
    return invalid("'" + param + "' must be a number between 0 and 1 for provider type anthropic", param);
  out = value;
  return std::nullopt;
}

/// The OpenAI request → the Messages API body, in Anthropic's documented field order.
core::Result<ojson> translate_request(const json& body, std::string_view model, bool stream) {
  if (!body.is_object()) return invalid("the request body must be a JSON object", "");
  ojson system, messages;
  std::optional<ojson> max_tokens, max_completion_tokens, stop, temperature, top_p, tools, tool_choice, user,
      json_tool;
  std::optional<bool> parallel_tool_calls;
  bool has_messages = false;

  for (const auto& [key, value] : body.items()) {
    if (key == "model" || key == "stream" || key == "stream_options" || key == "seed" || key == "store" ||
        key == "metadata" || key == "service_tier" || absent(value))
      continue;
    Refusal refused;
    if (key == "messages") {
      has_messages = true;
      refused = translate_messages(value, system, messages);
    } else if (key == "max_tokens" || key == "max_completion_tokens") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1)
        refused = invalid("'" + key + "' must be a positive integer", key);
      else
        (key == "max_tokens" ? max_tokens : max_completion_tokens) = value;
    } else if (key == "temperature" || key == "top_p") {
      refused = unit_interval(value, key, key == "temperature" ? temperature : top_p);
    } else if (key == "stop") {
      if (value.is_string()) {
        stop = ojson::array({value});
      } else if (value.is_array() && std::all_of(value.begin(), value.end(), [](const json& s) { return s.is_string(); })) {
        if (!value.empty()) stop = value;
      } else {
        refused = invalid("'stop' must be a string or an array of strings", "stop");
      }
    } else if (key == "tools") {
      tools.emplace();
      refused = translate_tools(value, *tools);
      if (!refused && tools->empty()) tools.reset();
    } else if (key == "tool_choice") {
      tool_choice.emplace();
      refused = translate_tool_choice(value, *tool_choice);
    } else if (key == "parallel_tool_calls") {
      if (!value.is_boolean()) refused = invalid("'parallel_tool_calls' must be a boolean", key);
      else parallel_tool_calls = value.get<bool>();
    } else if (key == "user") {
      if (!value.is_string()) refused = invalid("'user' must be a string", key);
      else user = value;
    } else if (key == "n") {
      if (!(value.is_number_integer() && value.get<std::int64_t>() == 1))
        refused = invalid("'n' other than 1 is not supported by provider type anthropic", key);
    } else if (key == "frequency_penalty" || key == "presence_penalty" || key == "top_logprobs") {
      if (!zero_number(value)) refused = unsupported(key);
    } else if (key == "logprobs") {
      if (value != false) refused = unsupported(key);
    } else if (key == "logit_bias") {
      if (!(value.is_object() && value.empty())) refused = unsupported(key);
    } else if (key == "response_format") {
      refused = translate_response_format(value, json_tool);
    } else {
      refused = unsupported(key);
    }
    if (refused) return *refused;
  }
  if (!has_messages) return invalid("'messages' is required", "messages");
  if (json_tool) {
    // The forced JSON tool would keep the model from calling the client's own tools.
    if (tools) return invalid("a JSON 'response_format' together with 'tools' is not supported by provider type anthropic",
                              "response_format");
    tools = ojson::array({std::move(*json_tool)});
    tool_choice = ojson{{"type", "tool"}, {"name", kJsonTool}};
  }

  if (parallel_tool_calls == false && tools) {
    if (!tool_choice) tool_choice = ojson{{"type", "auto"}};
    if ((*tool_choice)["type"] != "none") (*tool_choice)["disable_parallel_tool_use"] = true;
  }

  ojson out;
  out["model"] = std::string(model);
  out["max_tokens"] = max_completion_tokens ? *max_completion_tokens
                      : max_tokens          ? *max_tokens
                                            : ojson(AnthropicAdapter::kDefaultMaxTokens);
  if (!system.is_null()) out["system"] = std::move(system);
  out["messages"] = std::move(messages);
  if (stop) out["stop_sequences"] = std::move(*stop);
  if (temperature) out["temperature"] = std::move(*temperature);
  if (top_p) out["top_p"] = std::move(*top_p);
  if (tools) out["tools"] = std::move(*tools);
  if (tool_choice) out["tool_choice"] = std::move(*tool_choice);
  if (user) out["metadata"] = {{"user_id", std::move(*user)}};
  if (stream) out["stream"] = true;
  return core::Result<ojson>(boost::system::in_place_value, std::move(out));
}

std::string messages_url(std::string_view base) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  constexpr std::string_view kV1 = "/v1";
  const bool has_v1 = base.size() >= kV1.size() && base.substr(base.size() - kV1.size()) == kV1;
  return std::string(base) + (has_v1 ? "/messages" : "/v1/messages");
}

std::optional<std::string> finish_reason(const json& stop_reason) {
  if (!stop_reason.is_string()) return std::nullopt;
  const std::string& reason = stop_reason.get_ref<const std::string&>();
  if (reason == "max_tokens" || reason == "model_context_window_exceeded") return "length";
  if (reason == "tool_use") return "tool_calls";
  if (reason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn
}

std::int64_t int_field(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

/// Anthropic's input_tokens leave out cached and cache-writing tokens; OpenAI's prompt_tokens
/// include every prompt token, with the cached part repeated in prompt_tokens_details.
struct UsageTally {
  std::int64_t input = 0, output = 0, cache_read = 0, cache_creation = 0;
  bool known = false, cache_known = false;

  void read(const json& usage) {
    if (!usage.is_object()) return;
    known = true;
    if (usage.contains("input_tokens")) input = int_field(usage, "input_tokens");
    if (usage.contains("output_tokens")) output = int_field(usage, "output_tokens");
    if (usage.contains("cache_read_input_tokens")) {
      cache_read = int_field(usage, "cache_read_input_tokens");
      cache_known = true;
    }
    if (usage.contains("cache_creation_input_tokens")) {
      cache_creation = int_field(usage, "cache_creation_input_tokens");
      cache_known = true;
    }
  }
  core::Usage usage() const {
    core::Usage u;
    u.prompt_tokens = input + cache_read + cache_creation;
    u.completion_tokens = output;
    u.total_tokens = u.prompt_tokens + u.completion_tokens;
    u.cached_tokens = cache_read;
    u.cache_creation_tokens = cache_creation;
    return u;
  }
  ojson to_json() const {
    const core::Usage u = usage();
    ojson out = {{"prompt_tokens", u.prompt_tokens},
                 {"completion_tokens", u.completion_tokens},
                 {"total_tokens", u.total_tokens}};
    if (cache_known) out["prompt_tokens_details"] = {{"cached_tokens", u.cached_tokens}};
    return out;
  }
};

class AnthropicStreamDecoder final : public StreamDecoder {
 public:
  /// `json_mode`: the request asked for a JSON response_format, so the forced JSON tool's input
  /// streams as content.
  explicit AnthropicStreamDecoder(bool json_mode) : json_mode_(json_mode) {}
  core::Result<void> feed(const SseEvent& event, std::vector<core::Chunk>& out) override;
  bool done() const noexcept override { return done_; }

 private:
  ojson chunk(ojson delta, const std::optional<std::string>& finish = std::nullopt) const;
  void push(ojson value, std::vector<core::Chunk>& out) const;

  bool done_ = false;
  std::string id_;
  std::string model_;
  std::int64_t created_ = 0;
  std::map<std::int64_t, std::int64_t> tool_index_;  // content block index → OpenAI tool-call index
  UsageTally usage_;
  bool json_mode_ = false;
  std::optional<std::int64_t> json_block_;  // the content block of the forced JSON tool, once started
};

ojson AnthropicStreamDecoder::chunk(ojson delta, const std::optional<std::string>& finish) const {
  ojson choice = {{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
  if (finish) choice["finish_reason"] = *finish;
  return {{"id", id_},
          {"object", "chat.completion.chunk"},
          {"created", created_},
          {"model", model_},
          {"choices", ojson::array({std::move(choice)})}};
}

void AnthropicStreamDecoder::push(ojson value, std::vector<core::Chunk>& out) const {
  core::Chunk chunk;
  chunk.data = dump(value);
  out.push_back(std::move(chunk));
}

core::Result<void> AnthropicStreamDecoder::feed(const SseEvent& event, std::vector<core::Chunk>& out) {
  if (done_) return {};
  const std::string_view data = trim(event.data);
  if (event.event == "ping" || (data.empty() && event.event != "error")) return {};
  const json parsed = json::parse(data, nullptr, false);
  const std::string type = !event.event.empty()                           ? event.event
                           : parsed.is_object() && parsed.contains("type") && parsed["type"].is_string()
                               ? parsed["type"].get<std::string>()
                               : std::string();
  if (type == "error") {
    std::string message = "upstream stream error";
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
      const json& error = parsed["error"];
      if (error.contains("type") && error["type"].is_string()) message += " (" + error["type"].get<std::string>() + ")";
      if (error.contains("message") && error["message"].is_string())
        message += ": " + std::string(utf8_prefix(error["message"].get_ref<const std::string&>(), kMaxMessageBytes));
    }
    return core::make_error(core::ErrorKind::kUpstreamError, std::move(message));
  }
  static constexpr std::string_view kKnown[] = {"message_start", "content_block_start", "content_block_delta",
                                                "content_block_stop", "message_delta", "message_stop"};
  if (std::find(std::begin(kKnown), std::end(kKnown), type) == std::end(kKnown)) return {};
  if (!parsed.is_object())
    return core::make_error(core::ErrorKind::kUpstreamError, "upstream sent a malformed stream event");

  if (type == "message_start") {
    const json message = parsed.value("message", json::object());
    id_ = message.value("id", "");
    model_ = message.value("model", "");
    created_ = unix_seconds();
    if (message.contains("usage")) usage_.read(message["usage"]);
    push(chunk({{"role", "assistant"}, {"content", ""}}), out);
  } else if (type == "content_block_start") {
    const json block = parsed.value("content_block", json::object());
    const std::string block_type = block.value("type", "");
    if (block_type == "text") {
      const std::string text = block.value("text", "");
      if (!text.empty()) push(chunk({{"content", text}}), out);
    } else if (block_type == "tool_use" && json_mode_ && block.value("name", "") == kJsonTool) {
      json_block_ = int_field(parsed, "index");
    } else if (block_type == "tool_use") {
      const std::int64_t index = static_cast<std::int64_t>(tool_index_.size());
      tool_index_[int_field(parsed, "index")] = index;
      push(chunk({{"tool_calls",
                   ojson::array({{{"index", index},
                                  {"id", block.value("id", "")},
                                  {"type", "function"},
                                  {"function", {{"name", block.value("name", "")}, {"arguments", ""}}}}})}}),
           out);
    }
  } else if (type == "content_block_delta") {
    const json delta = parsed.value("delta", json::object());
    const std::string delta_type = delta.value("type", "");
    if (delta_type == "text_delta") {
      const std::string text = delta.value("text", "");
      if (!text.empty()) push(chunk({{"content", text}}), out);
    } else if (delta_type == "input_json_delta" && json_block_ == int_field(parsed, "index")) {
      const std::string partial = delta.value("partial_json", "");
      if (!partial.empty()) push(chunk({{"content", partial}}), out);
    } else if (delta_type == "input_json_delta") {
      const auto it = tool_index_.find(int_field(parsed, "index"));
      const std::string partial = delta.value("partial_json", "");
      if (it == tool_index_.end())
        return core::make_error(core::ErrorKind::kUpstreamError, "upstream sent tool arguments for no tool_use block");
      if (!partial.empty())
        push(chunk({{"tool_calls", ojson::array({{{"index", it->second}, {"function", {{"arguments", partial}}}}})}}),
             out);
    }
  } else if (type == "message_delta") {
    if (parsed.contains("usage")) usage_.read(parsed["usage"]);
    const json delta = parsed.value("delta", json::object());
    if (auto finish = finish_reason(delta.contains("stop_reason") ? delta["stop_reason"] : json())) {
      if (json_block_ && finish == "tool_calls") finish = "stop";
      push(chunk(ojson::object(), finish), out);
    }
  } else if (type == "message_stop") {
    done_ = true;
    if (usage_.known) {
      core::Chunk last;
      last.data = dump({{"id", id_},
                        {"object", "chat.completion.chunk"},
                        {"created", created_},
                        {"model", model_},
                        {"choices", ojson::array()},
                        {"usage", usage_.to_json()}});
      last.usage = usage_.usage();
      last.usage_only = true;
      out.push_back(std::move(last));
    }
  }
  return {};
}

std::string openai_error_body(std::string_view message, std::string_view type) {
  ojson error = {{"error",
                  {{"message", std::string(utf8_prefix(trim(message), kMaxMessageBytes))},
                   {"type", std::string(type)},
                   {"param", nullptr},
                   {"code", nullptr}}}};
  return dump(error);
}

}  // namespace

core::Result<http::Request> AnthropicAdapter::encode(const core::UpstreamCall& call, const Endpoint& endpoint) const {
  if (call.operation == core::Operation::kEmbeddings)
    return core::make_error(core::ErrorKind::kInvalidRequest,
                            "provider type 'anthropic' has no embeddings endpoint: route model '" +
                                std::string(call.upstream_model) + "' to an openai or gemini deployment for embeddings",
                            "model");
  auto body = translate_request(call.body, call.upstream_model, call.stream);
  if (!body) return body.error();
  http::Request request;
  request.url = messages_url(endpoint.base_url);
  try {
    request.body = body->dump();
  } catch (const json::exception&) {
    return invalid("the request body holds a string that is not valid UTF-8", "");
  }
  request.headers.emplace_back("content-type", "application/json");
  if (!endpoint.api_key.empty()) request.headers.emplace_back("x-api-key", std::string(endpoint.api_key));
  request.headers.emplace_back("anthropic-version", std::string(kApiVersion));
  if (call.stream) request.headers.emplace_back("accept", "text/event-stream");
  return request;
}

core::Result<Decoded> AnthropicAdapter::decode(std::string_view body, const core::UpstreamCall& call) const {
  const auto malformed = [] {
    return core::make_error(core::ErrorKind::kUpstreamError, "upstream returned a malformed body");
  };
  const json parsed = json::parse(body, nullptr, false);
  if (!parsed.is_object() || parsed.value("type", "") != "message" || !parsed.contains("content") ||
      !parsed["content"].is_array())
    return malformed();

  std::string text;
  bool has_text = false;
  const bool json_mode = wants_json(call.body);
  bool answered_json = false;
  ojson tool_calls = ojson::array();
  for (const json& block : parsed["content"]) {
    if (!block.is_object()) return malformed();
    const std::string type = block.value("type", "");
    if (type == "text" && block.contains("text") && block["text"].is_string()) {
      text += block["text"].get_ref<const std::string&>();
      has_text = true;
    } else if (type == "tool_use") {
      const json input = block.contains("input") ? block["input"] : json::object();
      if (json_mode && block.value("name", "") == kJsonTool) {
        // The forced JSON tool's input is the answer.
        text += input.dump(-1, ' ', false, json::error_handler_t::replace);
        has_text = true;
        answered_json = true;
        continue;
      }
      tool_calls.push_back({{"id", block.value("id", "")},
                            {"type", "function"},
                            {"function", {{"name", block.value("name", "")}, {"arguments", input.dump()}}}});
    }
    // thinking / redacted_thinking blocks have no OpenAI field: left out.
  }

  ojson message = {{"role", "assistant"}, {"content", has_text || tool_calls.empty() ? ojson(text) : ojson()}};
  if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);
  auto finish = finish_reason(parsed.contains("stop_reason") ? parsed["stop_reason"] : json());
  if (answered_json && finish == "tool_calls") finish = "stop";

  UsageTally tally;
  if (parsed.contains("usage")) tally.read(parsed["usage"]);
  ojson out = {{"id", parsed.value("id", "")},
               {"object", "chat.completion"},
               {"created", unix_seconds()},
               {"model", parsed.value("model", "")},
               {"choices",
                ojson::array({{{"index", 0},
                               {"message", std::move(message)},
                               {"logprobs", nullptr},
                               {"finish_reason", finish ? ojson(*finish) : ojson()}}})}};
  Decoded decoded;
  if (tally.known) {
    out["usage"] = tally.to_json();
    decoded.usage = tally.usage();
  }
  decoded.body = dump(out);
  return decoded;
}

core::AttemptError AnthropicAdapter::classify(int status, const core::Headers& headers, std::string_view body) const {
  core::AttemptError error;
  error.kind = core::FailureKind::kStatus;
  error.status = status;
  error.retryable = core::is_retryable_status(status);
  error.retry_after = retry_after(headers);

  const json parsed = json::parse(body, nullptr, false);
  const json* detail = nullptr;
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) detail = &parsed["error"];
  const std::string type = detail ? detail->value("type", "upstream_error") : "upstream_error";
  const std::string message = detail ? detail->value("message", "") : std::string(trim(body));

  // The upstream's message is not repeated here: a 401 may quote part of the key.
  error.message = "upstream answered " + std::to_string(status) + (detail ? " (" + type + ")" : "");
  error.body = openai_error_body(message.empty() ? "upstream returned HTTP " + std::to_string(status) : message,
                                 type);
  if (status == 400 && type == "invalid_request_error")
    error.context_overflow = message.find("prompt is too long") != std::string::npos ||
                             message.find("context window") != std::string::npos ||
                             message.find("context length") != std::string::npos;
  return error;
}

std::unique_ptr<StreamDecoder> AnthropicAdapter::stream_decoder(const core::UpstreamCall& call) const {
  return std::make_unique<AnthropicStreamDecoder>(wants_json(call.body));
}

}  // namespace tollgate::adapters
