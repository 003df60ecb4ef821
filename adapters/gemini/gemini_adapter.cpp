// Gemini generateContent: encode, decode, classify and the SSE chunk decoder, to and from OpenAI chat.
#include "adapters/gemini/gemini_adapter.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "adapters/embedding_list.hpp"
#include "adapters/wire_text.hpp"
#include "core/openai/token_estimate.hpp"

namespace tollgate::adapters {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::size_t kMaxMessageBytes = 512;

/// Request fields accepted without being sent, because they change nothing Gemini would do:
/// `model` (it is in the URL), `stream` and `stream_options` (the URL decides; Gemini always
/// reports usage), `user`, `store`, `metadata`, `service_tier` (OpenAI bookkeeping), `n: 1`,
/// `parallel_tool_calls: true` (Gemini's default), `logprobs: false`, and a function's `strict`.
/// Every other field not translated below is refused with a 400 naming it.
bool is_ignored_field(const std::string& key) {
  return key == "model" || key == "stream" || key == "stream_options" || key == "user" || key == "store" ||
         key == "metadata" || key == "service_tier";
}

core::GatewayError invalid(std::string message, std::string param) {
  return core::make_error(core::ErrorKind::kInvalidRequest, std::move(message), std::move(param));
}

core::GatewayError unsupported(const std::string& param) {
  return invalid("'" + param + "' is not supported by provider type 'gemini'", param);
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// ---------------------------------------------------------------------------------------------
// encode

/// JSON Schema keywords Gemini's OpenAPI-subset `parameters` / `responseSchema` reject.
void strip_schema(json& schema) {
  if (!schema.is_object()) return;
  schema.erase("$schema");
  schema.erase("additionalProperties");
  schema.erase("strict");
  if (auto it = schema.find("properties"); it != schema.end() && it->is_object())
    for (auto& [name, sub] : it->items()) strip_schema(sub);
  if (auto it = schema.find("items"); it != schema.end()) strip_schema(*it);
  for (const char* key : {"anyOf", "oneOf", "allOf"})
    if (auto it = schema.find(key); it != schema.end() && it->is_array())
      for (auto& sub : *it) strip_schema(sub);
}

/// "data:image/png;base64,AAAA" → {mimeType, data}; nullopt when it is not a base64 data URL.
std::optional<json> inline_data(std::string_view url) {
  if (url.rfind("data:", 0) != 0) return std::nullopt;
  const auto comma = url.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  std::string_view meta = url.substr(5, comma - 5);
  constexpr std::string_view kBase64 = ";base64";
  if (meta.size() < kBase64.size() || meta.substr(meta.size() - kBase64.size()) != kBase64) return std::nullopt;
  meta.remove_suffix(kBase64.size());
  if (meta.empty()) return std::nullopt;
  return json{{"inlineData", {{"mimeType", std::string(meta)}, {"data", std::string(url.substr(comma + 1))}}}};
}

/// A JSON value as a Result: json converts to nearly anything, so the value is placed explicitly.
core::Result<json> ok(json value) { return core::Result<json>(boost::system::in_place_value, std::move(value)); }

/// OpenAI message content (a string or an array of parts) → Gemini parts.
core::Result<json> content_parts(const json& content, const std::string& param) {
  json parts = json::array();
  if (content.is_null()) return ok(std::move(parts));
  if (content.is_string()) {
    if (!content.get_ref<const std::string&>().empty()) parts.push_back({{"text", content}});
    return ok(std::move(parts));
  }
  if (!content.is_array()) return invalid("'" + param + "' must be a string or an array of parts", param);
  for (std::size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    const std::string at = param + "[" + std::to_string(j) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      return invalid("'" + at + "' must be an object with a 'type'", at);
    const std::string& type = part["type"].get_ref<const std::string&>();
    if (type == "text") {
      if (!part.contains("text") || !part["text"].is_string()) return invalid("'" + at + ".text' must be a string", at + ".text");
      parts.push_back({{"text", part["text"]}});
    } else if (type == "image_url") {
      const json* url = nullptr;
      if (auto it = part.find("image_url"); it != part.end()) {
        if (it->is_string()) url = &*it;
        else if (it->is_object() && it->contains("url") && (*it)["url"].is_string()) url = &(*it)["url"];
      }
      if (url == nullptr) return invalid("'" + at + ".image_url.url' must be a string", at + ".image_url.url");
      const std::string& text = url->get_ref<const std::string&>();
      if (auto data = inline_data(text)) {
        parts.push_back(std::move(*data));
      } else if (text.rfind("data:", 0) == 0) {
        return invalid("'" + at + ".image_url.url' must be a base64 data URL or an http(s) URL", at + ".image_url.url");
      } else {
        parts.push_back({{"fileData", {{"fileUri", text}}}});
      }
    } else if (type == "input_audio") {
      const auto it = part.find("input_audio");
      if (it == part.end() || !it->is_object() || !it->contains("data") || !(*it)["data"].is_string() ||
          !it->contains("format") || !(*it)["format"].is_string())
        return invalid("'" + at + ".input_audio' must have string 'data' and 'format'", at + ".input_audio");
      parts.push_back({{"inlineData",
                        {{"mimeType", "audio/" + (*it)["format"].get<std::string>()}, {"data", (*it)["data"]}}}});
    } else if (type == "file") {
      const auto it = part.find("file");
      std::optional<json> data;
      if (it != part.end() && it->is_object() && it->contains("file_data") && (*it)["file_data"].is_string())
        data = inline_data((*it)["file_data"].get_ref<const std::string&>());
      if (!data) return invalid("'" + at + ".file.file_data' must be a base64 data URL", at + ".file.file_data");
      parts.push_back(std::move(*data));
    } else {
      return invalid("content part type '" + type + "' is not supported by provider type 'gemini'", at + ".type");
    }
  }
  return ok(std::move(parts));
}

/// A tool result's content → a functionResponse `response` object (Gemini wants an object).
json function_response(const json& content) {
  std::string text;
  if (content.is_string()) {
    text = content.get<std::string>();
  } else if (content.is_array()) {
    for (const json& part : content)
      if (part.is_object() && part.contains("text") && part["text"].is_string()) text += part["text"].get<std::string>();
  }
  json parsed = json::parse(text, nullptr, false);
  if (parsed.is_object()) return parsed;
  return json{{"result", text}};
}

/// Appends `parts` as a turn of `role`, merged into the previous turn when it has the same role
/// (Gemini answers N parallel calls with one user turn holding N functionResponse parts).
void add_turn(json& contents, const char* role, json parts) {
  if (parts.empty()) return;
  if (!contents.empty() && contents.back()["role"] == role) {
    for (auto& part : parts) contents.back()["parts"].push_back(std::move(part));
    return;
  }
  contents.push_back({{"role", role}, {"parts", std::move(parts)}});
}

core::Result<void> encode_messages(const json& messages, json& out) {
  json system_parts = json::array();
  json contents = json::array();
  std::map<std::string, std::string> call_names;  // tool_call_id → function name
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& message = messages[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!message.is_object() || !message.contains("role") || !message["role"].is_string())
      return invalid("'" + at + "' must be an object with a string 'role'", at + ".role");
    const std::string& role = message["role"].get_ref<const std::string&>();
    const json content = message.contains("content") ? message["content"] : json();
    if (role == "system" || role == "developer") {
      auto parts = content_parts(content, at + ".content");
      if (!parts) return parts.error();
      for (auto& part : *parts) system_parts.push_back(std::move(part));
    } else if (role == "user") {
      auto parts = content_parts(content, at + ".content");
      if (!parts) return parts.error();
      add_turn(contents, "user", std::move(*parts));
    } else if (role == "assistant") {
      json parts = json::array();
      if (content.is_array()) {
        // Assistant content parts are text (or refusal) only.
        for (const json& part : content)
          if (part.is_object() && part.contains("text") && part["text"].is_string() &&
              !part["text"].get_ref<const std::string&>().empty())
            parts.push_back({{"text", part["text"]}});
      } else {
        auto text = content_parts(content, at + ".content");
        if (!text) return text.error();
        parts = std::move(*text);
      }
      if (auto calls = message.find("tool_calls"); calls != message.end() && !calls->is_null()) {
        if (!calls->is_array()) return invalid("'" + at + ".tool_calls' must be an array", at + ".tool_calls");
        for (std::size_t k = 0; k < calls->size(); ++k) {
          const json& call = (*calls)[k];
          const std::string call_at = at + ".tool_calls[" + std::to_string(k) + "]";
          if (!call.is_object() || !call.contains("function") || !call["function"].is_object() ||
              !call["function"].contains("name") || !call["function"]["name"].is_string())
            return invalid("'" + call_at + ".function.name' must be a string", call_at + ".function.name");
          const json& function = call["function"];
          json args = json::object();
          if (auto a = function.find("arguments"); a != function.end() && a->is_string() &&
                                                   !trim(a->get_ref<const std::string&>()).empty()) {
            args = json::parse(a->get_ref<const std::string&>(), nullptr, false);
            if (!args.is_object())
              return invalid("'" + call_at + ".function.arguments' must be a JSON object", call_at + ".function.arguments");
          }
          if (call.contains("id") && call["id"].is_string()) call_names[call["id"].get<std::string>()] = function["name"];
          parts.push_back({{"functionCall", {{"name", function["name"]}, {"args", std::move(args)}}}});
        }
      }
      add_turn(contents, "model", std::move(parts));
    } else if (role == "tool" || role == "function") {
      std::string name;
      if (auto id = message.find("tool_call_id"); id != message.end() && id->is_string()) {
        if (auto found = call_names.find(id->get<std::string>()); found != call_names.end()) name = found->second;
      }
      if (name.empty() && message.contains("name") && message["name"].is_string()) name = message["name"];
      if (name.empty())
        return invalid("'" + at + ".tool_call_id' matches no earlier assistant tool call", at + ".tool_call_id");
      json part = {{"functionResponse", {{"name", name}, {"response", function_response(content)}}}};
      add_turn(contents, "user", json::array({std::move(part)}));
    } else {
      return invalid("role '" + role + "' is not supported by provider type 'gemini'", at + ".role");
    }
  }
  if (!system_parts.empty()) out["systemInstruction"] = {{"parts", std::move(system_parts)}};
  out["contents"] = std::move(contents);
  return {};
}

core::Result<void> encode_tools(const json& body, json& out) {
  if (auto tools = body.find("tools"); tools != body.end() && !tools->is_null()) {
    if (!tools->is_array()) return invalid("'tools' must be an array", "tools");
    json declarations = json::array();
    for (std::size_t i = 0; i < tools->size(); ++i) {
      const json& tool = (*tools)[i];
      const std::string at = "tools[" + std::to_string(i) + "]";
      if (!tool.is_object() || tool.value("type", "") != "function" || !tool.contains("function") ||
          !tool["function"].is_object() || !tool["function"].contains("name") || !tool["function"]["name"].is_string())
        return invalid("'" + at + "' must be a function tool with a name", at);
      const json& function = tool["function"];
      json declaration = {{"name", function["name"]}};
      if (function.contains("description") && function["description"].is_string())
        declaration["description"] = function["description"];
      if (auto p = function.find("parameters"); p != function.end() && p->is_object()) {
        json parameters = *p;
        strip_schema(parameters);
        // Gemini refuses an object schema with no properties: a function without arguments has none.
        if (!(parameters.value("type", "") == "object" &&
              (!parameters.contains("properties") || parameters["properties"].empty())))
          declaration["parameters"] = std::move(parameters);
      }
      declarations.push_back(std::move(declaration));
    }
    if (!declarations.empty()) out["tools"] = json::array({{{"functionDeclarations", std::move(declarations)}}});
  }
  if (auto choice = body.find("tool_choice"); choice != body.end() && !choice->is_null()) {
    json config;
    if (choice->is_string()) {
      const std::string& mode = choice->get_ref<const std::string&>();
      if (mode == "none") config = {{"mode", "NONE"}};
      else if (mode == "auto") config = {{"mode", "AUTO"}};
      else if (mode == "required") config = {{"mode", "ANY"}};
      else return invalid("'tool_choice' must be none, auto, required or a function", "tool_choice");
    } else if (choice->is_object() && choice->value("type", "") == "function" && choice->contains("function") &&
               (*choice)["function"].is_object() && (*choice)["function"].contains("name") &&
               (*choice)["function"]["name"].is_string()) {
      config = {{"mode", "ANY"}, {"allowedFunctionNames", json::array({(*choice)["function"]["name"]})}};
    } else {
      return invalid("'tool_choice' must be none, auto, required or a function", "tool_choice");
    }
    out["toolConfig"] = {{"functionCallingConfig", std::move(config)}};
  }
  if (auto parallel = body.find("parallel_tool_calls"); parallel != body.end() && !parallel->is_null()) {
    if (!parallel->is_boolean()) return invalid("'parallel_tool_calls' must be a boolean", "parallel_tool_calls");
    if (!parallel->get<bool>()) return unsupported("parallel_tool_calls");
  }
  return {};
}

core::Result<void> number_field(const json& body, const char* key, const char* target, double min, double max,
                                json& config) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_number()) return invalid(std::string("'") + key + "' must be a number", key);
  const double value = it->get<double>();
  if (value < min || value > max)
    return invalid(std::string("'") + key + "' must be between " + json(min).dump() + " and " + json(max).dump() +
                       " for provider type 'gemini'",
                   key);
  config[target] = *it;
  return {};
}

core::Result<void> encode_generation_config(const json& body, bool stream, json& out) {
  json config = json::object();
  if (auto r = number_field(body, "temperature", "temperature", 0, 2, config); !r) return r;
  if (auto r = number_field(body, "top_p", "topP", 0, 1, config); !r) return r;
  if (auto r = number_field(body, "presence_penalty", "presencePenalty", -2, 2, config); !r) return r;
  if (auto r = number_field(body, "frequency_penalty", "frequencyPenalty", -2, 2, config); !r) return r;

  // max_completion_tokens supersedes the deprecated max_tokens, as in OpenAI's API.
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1)
      return invalid(std::string("'") + key + "' must be a positive integer", key);
    config["maxOutputTokens"] = *it;
  }
  if (auto it = body.find("seed"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer()) return invalid("'seed' must be an integer", "seed");
    config["seed"] = *it;
  }
  if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
    json sequences = it->is_string() ? json::array({*it}) : *it;
    if (!sequences.is_array() || sequences.size() > 5)
      return invalid("'stop' must be a string or an array of at most 5 strings", "stop");
    for (const json& s : sequences)
      if (!s.is_string()) return invalid("'stop' must be a string or an array of at most 5 strings", "stop");
    if (!sequences.empty()) config["stopSequences"] = std::move(sequences);
  }
  if (auto it = body.find("n"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1) return invalid("'n' must be a positive integer", "n");
    if (it->get<std::int64_t>() > 1) {
      // One SSE stream of several candidates would need per-choice state; unary answers carry them all.
      if (stream) return invalid("'n' above 1 is not supported for streams by provider type 'gemini'", "n");
      config["candidateCount"] = *it;
    }
  }
  if (auto it = body.find("logprobs"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) return invalid("'logprobs' must be a boolean", "logprobs");
    if (it->get<bool>()) return unsupported("logprobs");
  }
  if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
    const std::string type = it->is_object() ? it->value("type", "") : "";
    if (type == "json_object") {
      config["responseMimeType"] = "application/json";
    } else if (type == "json_schema") {
      const auto spec = it->find("json_schema");
      if (spec == it->end() || !spec->is_object() || !spec->contains("schema") || !(*spec)["schema"].is_object())
        return invalid("'response_format.json_schema.schema' must be an object", "response_format.json_schema.schema");
      json response_schema = (*spec)["schema"];
      strip_schema(response_schema);
      config["responseMimeType"] = "application/json";
      config["responseSchema"] = std::move(response_schema);
    } else if (type != "text") {
      return invalid("'response_format.type' must be text, json_object or json_schema", "response_format.type");
    }
  }
  if (!config.empty()) out["generationConfig"] = std::move(config);
  return {};
}

/// Fields translated by the encode functions above; anything else not ignored is refused.
bool is_translated_field(const std::string& key) {
  static const char* const kFields[] = {"messages", "tools", "tool_choice", "parallel_tool_calls", "temperature",
                                        "top_p", "presence_penalty", "frequency_penalty", "max_tokens",
                                        "max_completion_tokens", "seed", "stop", "n", "logprobs", "response_format"};
  for (const char* field : kFields)
    if (key == field) return true;
  return false;
}

/// {base}/models/{model}:{method}; a base without a path is the host, whose API version is v1beta.
std::string method_url(std::string_view base, std::string_view model, std::string_view method) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  if (model.rfind("models/", 0) == 0) model.remove_prefix(7);
  std::string url(base);
  const auto scheme = base.find("://");
  if (scheme != std::string_view::npos && base.find('/', scheme + 3) == std::string_view::npos) url += "/v1beta";
  url.append("/models/").append(model).append(method);
  return url;
}

std::string url_of(std::string_view base, std::string_view model, bool stream) {
  return method_url(base, model, stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
}


// ---------------------------------------------------------------------------------------------
// decode

std::int64_t count_of(const json& usage, const char* key) {
  const auto it = usage.find(key);
  return it != usage.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

/// usageMetadata → core::Usage. Thinking tokens are output tokens (Gemini bills them so), as
/// OpenAI counts reasoning_tokens inside completion_tokens; tool-use prompt tokens are input.
std::optional<core::Usage> usage_of(const json& response) {
  const auto it = response.find("usageMetadata");
  if (it == response.end() || !it->is_object() || !it->contains("promptTokenCount")) return std::nullopt;
  core::Usage usage;
  usage.prompt_tokens = count_of(*it, "promptTokenCount") + count_of(*it, "toolUsePromptTokenCount");
  usage.reasoning_tokens = count_of(*it, "thoughtsTokenCount");
  usage.completion_tokens = count_of(*it, "candidatesTokenCount") + usage.reasoning_tokens;
  usage.cached_tokens = count_of(*it, "cachedContentTokenCount");
  usage.total_tokens = it->contains("totalTokenCount") ? count_of(*it, "totalTokenCount")
                                                       : usage.prompt_tokens + usage.completion_tokens;
  return usage;
}

ordered_json usage_json(const core::Usage& usage) {
  ordered_json out = {{"prompt_tokens", usage.prompt_tokens},
                      {"completion_tokens", usage.completion_tokens},
                      {"total_tokens", usage.total_tokens},
                      {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}},
                      {"completion_tokens_details", {{"reasoning_tokens", usage.reasoning_tokens}}}};
  return out;
}

/// Gemini's finishReason → OpenAI's. Safety-type stops are content_filter; reasons OpenAI has no
/// word for (OTHER, MALFORMED_FUNCTION_CALL…) are stop.
const char* finish_reason_of(std::string_view reason, bool has_tool_calls) {
  if (reason == "MAX_TOKENS") return "length";
  if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" || reason == "PROHIBITED_CONTENT" ||
      reason == "SPII" || reason == "IMAGE_SAFETY" || reason == "IMAGE_PROHIBITED_CONTENT" || reason == "LANGUAGE")
    return "content_filter";
  return has_tool_calls ? "tool_calls" : "stop";
}

bool prompt_blocked(const json& response) {
  const auto feedback = response.find("promptFeedback");
  return feedback != response.end() && feedback->is_object() && feedback->contains("blockReason");
}

/// What one candidate's parts say: visible text (thought summaries left out) and function calls.
struct PartsView {
  std::string text;
  bool has_text = false;
  std::vector<ordered_json> calls;  // {id, type, function{name, arguments}}
};

PartsView read_parts(const json& candidate, std::size_t first_call_index) {
  PartsView view;
  const auto content = candidate.find("content");
  if (content == candidate.end() || !content->is_object()) return view;
  const auto parts = content->find("parts");
  if (parts == content->end() || !parts->is_array()) return view;
  for (const json& part : *parts) {
    if (!part.is_object()) continue;
    if (part.value("thought", false)) continue;
    if (auto text = part.find("text"); text != part.end() && text->is_string()) {
      view.text += text->get_ref<const std::string&>();
      view.has_text = true;
    }
    if (auto call = part.find("functionCall"); call != part.end() && call->is_object()) {
      const std::size_t index = first_call_index + view.calls.size();
      std::string id = call->contains("id") && (*call)["id"].is_string() ? (*call)["id"].get<std::string>()
                                                                         : "call_" + std::to_string(index);
      const json args = call->contains("args") ? (*call)["args"] : json::object();
      view.calls.push_back(ordered_json{{"id", std::move(id)},
                                        {"type", "function"},
                                        {"function",
                                         {{"name", call->value("name", "")},
                                          {"arguments", args.dump(-1, ' ', false, json::error_handler_t::replace)}}}});
    }
  }
  return view;
}

std::string completion_id(const json& response, std::string_view request_id) {
  if (auto it = response.find("responseId"); it != response.end() && it->is_string())
    return "chatcmpl-" + it->get<std::string>();
  return "chatcmpl-" + std::string(request_id);
}

std::string model_of(const json& response, std::string_view upstream_model) {
  if (auto it = response.find("modelVersion"); it != response.end() && it->is_string()) return it->get<std::string>();
  return std::string(upstream_model);
}

/// Google's error message from {"error":{...}} or [{"error":{...}}], with its status and details.
const json* google_error(const json& body) {
  const json* object = &body;
  if (body.is_array() && !body.empty()) object = &body[0];
  if (!object->is_object()) return nullptr;
  const auto it = object->find("error");
  return it != object->end() && it->is_object() ? &*it : nullptr;
}

// ---------------------------------------------------------------------------------------------
// classify

/// google.rpc.RetryInfo's retryDelay, a Duration in JSON form: "37s", "1.5s".
std::optional<std::chrono::seconds> retry_delay(const json& error) {
  const auto details = error.find("details");
  if (details == error.end() || !details->is_array()) return std::nullopt;
  for (const json& detail : *details) {
    if (!detail.is_object() || detail.value("@type", "") != "type.googleapis.com/google.rpc.RetryInfo") continue;
    const std::string delay = detail.value("retryDelay", "");
    if (delay.size() < 2 || delay.back() != 's') return std::nullopt;
    double seconds = 0;
    const auto [ptr, ec] = std::from_chars(delay.data(), delay.data() + delay.size() - 1, seconds);
    if (ec != std::errc{} || ptr != delay.data() + delay.size() - 1 || seconds < 0) return std::nullopt;
    return std::chrono::seconds{static_cast<std::int64_t>(std::ceil(seconds))};
  }
  return std::nullopt;
}

bool has_reason(const json& error, std::string_view reason) {
  const auto details = error.find("details");
  if (details == error.end() || !details->is_array()) return false;
  for (const json& detail : *details)
    if (detail.is_object() && detail.contains("reason") && detail["reason"] == reason) return true;
  return false;
}

const char* error_type_of(int status) {
  switch (status) {
    case 400: case 404: case 409: case 413: case 422: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 429: return "rate_limit_error";
    default: return "upstream_error";
  }
}

// ---------------------------------------------------------------------------------------------
// stream

class GeminiStreamDecoder final : public StreamDecoder {
 public:
  GeminiStreamDecoder(std::string request_id, std::string upstream_model)
      : request_id_(std::move(request_id)), upstream_model_(std::move(upstream_model)) {}

  core::Result<void> feed(const SseEvent& event, std::vector<core::Chunk>& out) override;
  bool done() const noexcept override { return done_; }

 private:
  ordered_json chunk(ordered_json delta, const char* finish_reason) const;
  void emit(std::vector<core::Chunk>& out, const ordered_json& value) const { out.push_back(core::Chunk{dump(value), {}, false}); }

  std::string request_id_;
  std::string upstream_model_;
  std::string id_;
  std::string model_;
  std::int64_t created_ = 0;
  bool started_ = false;
  std::size_t tool_calls_ = 0;
  std::optional<core::Usage> usage_;
  bool done_ = false;
};

ordered_json GeminiStreamDecoder::chunk(ordered_json delta, const char* finish_reason) const {
  ordered_json choice = {{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}};
  choice["finish_reason"] = finish_reason == nullptr ? ordered_json() : ordered_json(finish_reason);
  return ordered_json{{"id", id_},
                      {"object", "chat.completion.chunk"},
                      {"created", created_},
                      {"model", model_},
                      {"choices", ordered_json::array({std::move(choice)})}};
}

core::Result<void> GeminiStreamDecoder::feed(const SseEvent& event, std::vector<core::Chunk>& out) {
  if (done_) return {};
  if (!event.event.empty() && event.event != "message" && event.event != "error") return {};
  const std::string_view data = trim(event.data);
  if (data.empty()) return {};
  const json response = json::parse(data, nullptr, false);
  if (response.is_discarded() || !(response.is_object() || response.is_array()))
    return core::make_error(core::ErrorKind::kUpstreamError, "upstream sent a malformed stream event");
  if (const json* error = google_error(response)) {
    const std::string message = error->value("message", "");
    return core::make_error(core::ErrorKind::kUpstreamError,
                            message.empty() ? std::string("upstream stream error")
                                            : std::string(utf8_prefix(message, kMaxMessageBytes)));
  }
  if (event.event == "error") return core::make_error(core::ErrorKind::kUpstreamError, "upstream stream error");
  if (!response.is_object()) return {};

  const auto candidates = response.find("candidates");
  const bool has_candidates = candidates != response.end() && candidates->is_array() && !candidates->empty() &&
                              (*candidates)[0].is_object();
  const bool blocked = !has_candidates && prompt_blocked(response);
  if (auto usage = usage_of(response)) usage_ = usage;
  if (!has_candidates && !blocked) return {};  // usage-only or unknown: nothing to say yet

  try {
    if (!started_) {
      started_ = true;
      id_ = completion_id(response, request_id_);
      model_ = model_of(response, upstream_model_);
      created_ = unix_seconds();
      emit(out, chunk(ordered_json{{"role", "assistant"}, {"content", ""}}, nullptr));
    }
    const char* finish = nullptr;
    if (blocked) {
      finish = "content_filter";
    } else {
      const json& candidate = (*candidates)[0];
      PartsView view = read_parts(candidate, tool_calls_);
      if (view.has_text && !view.text.empty()) emit(out, chunk(ordered_json{{"content", std::move(view.text)}}, nullptr));
      for (auto& call : view.calls) {
        // Gemini sends each call whole: one delta carries id, name and all of the arguments.
        ordered_json delta_call = {{"index", tool_calls_++}};
        for (auto& [key, value] : call.items()) delta_call[key] = std::move(value);
        emit(out, chunk(ordered_json{{"tool_calls", ordered_json::array({std::move(delta_call)})}}, nullptr));
      }
      if (auto reason = candidate.find("finishReason"); reason != candidate.end() && reason->is_string() &&
                                                        *reason != "FINISH_REASON_UNSPECIFIED")
        finish = finish_reason_of(reason->get_ref<const std::string&>(), tool_calls_ > 0);
    }
    if (finish != nullptr) {
      emit(out, chunk(ordered_json::object(), finish));
      if (usage_) {
        ordered_json last = {{"id", id_},
                             {"object", "chat.completion.chunk"},
                             {"created", created_},
                             {"model", model_},
                             {"choices", ordered_json::array()},
                             {"usage", usage_json(*usage_)}};
        out.push_back(core::Chunk{dump(last), usage_, true});
      }
      done_ = true;
    }
  } catch (const json::exception&) {
    return core::make_error(core::ErrorKind::kUpstreamError, "upstream sent a malformed stream event");
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// embeddings

/// One text as an embedContent request (also an item of batchEmbedContents).
json embed_request(const std::string& text, const json* dimensions) {
  json request = {{"content", {{"parts", json::array({{{"text", text}}})}}}};
  if (dimensions != nullptr) request["outputDimensionality"] = *dimensions;
  return request;
}

/// OpenAI embeddings body → embedContent (one string) or batchEmbedContents (an array of
/// strings). Gemini takes text only: token-id inputs are refused, as is any field it has no
/// equivalent for; `user` is accepted and not sent, `encoding_format` is applied on the way back.
core::Result<http::Request> encode_embeddings(const core::UpstreamCall& call, const Endpoint& endpoint) {
  const json& body = call.body;
  const json* dimensions = nullptr;
  for (const auto& [key, value] : body.items()) {
    if (key == "model" || key == "input" || key == "user" || key == "encoding_format" || value.is_null()) continue;
    if (key == "dimensions") {
      dimensions = &value;
      continue;
    }
    return unsupported(key);
  }
  const auto input = body.find("input");
  if (input == body.end()) return invalid("'input' is required", "input");
  const auto token_ids = [] {
    return invalid("provider type 'gemini' embeds text only: send 'input' as a string or an array of strings", "input");
  };

  std::string model(call.upstream_model);
  if (model.rfind("models/", 0) != 0) model.insert(0, "models/");
  http::Request request;
  json wire;
  if (input->is_string()) {
    wire = embed_request(input->get<std::string>(), dimensions);
    request.url = method_url(endpoint.base_url, call.upstream_model, ":embedContent");
  } else {
    if (!input->is_array()) return token_ids();
    json requests = json::array();
    for (const auto& item : *input) {
      if (!item.is_string()) return token_ids();
      json one = embed_request(item.get<std::string>(), dimensions);
      one["model"] = model;
      requests.push_back(std::move(one));
    }
    wire = {{"requests", std::move(requests)}};
    request.url = method_url(endpoint.base_url, call.upstream_model, ":batchEmbedContents");
  }
  try {
    request.body = wire.dump();
  } catch (const json::exception&) {
    return invalid("the text to embed is not valid UTF-8", "input");
  }
  request.headers.emplace_back("content-type", "application/json");
  if (!endpoint.api_key.empty()) request.headers.emplace_back("x-goog-api-key", std::string(endpoint.api_key));
  return request;
}

/// The `values` arrays of an embedContent ({embedding}) or batchEmbedContents ({embeddings})
/// response, in order; empty when the body is neither.
std::vector<const json*> embedding_values(const json& response) {
  std::vector<const json*> out;
  const auto values_of = [](const json& embedding) -> const json* {
    if (!embedding.is_object()) return nullptr;
    const auto it = embedding.find("values");
    return it != embedding.end() && it->is_array() ? &*it : nullptr;
  };
  if (const auto one = response.find("embedding"); one != response.end()) {
    if (const json* values = values_of(*one)) out.push_back(values);
  } else if (const auto many = response.find("embeddings"); many != response.end() && many->is_array()) {
    for (const auto& embedding : *many) {
      const json* values = values_of(embedding);
      if (values == nullptr) return {};
      out.push_back(values);
    }
  }
  return out;
}

core::Result<Decoded> decode_embeddings(std::string_view body, const core::UpstreamCall& call) {
  const auto malformed = [] {
    return core::make_error(core::ErrorKind::kUpstreamError, "upstream returned a malformed embeddings body");
  };
  const json response = json::parse(body, nullptr, false);
  if (!response.is_object()) return malformed();
  const std::vector<const json*> vectors = embedding_values(response);
  if (vectors.empty()) return malformed();
  // Gemini's embedding responses carry no token counts (usageMetadata when a future one does):
  // without them tollgate bills its own estimate, marked estimated, and shows that estimate in
  // `usage`, which OpenAI's clients expect to be there.
  Decoded decoded;
  decoded.usage = usage_of(response);
  core::Usage shown;
  if (decoded.usage) {
    shown = *decoded.usage;
  } else {
    shown.prompt_tokens = shown.total_tokens = core::estimate_embedding_tokens(call.body);
  }
  auto list = embedding_list(vectors, call.upstream_model, embedding_encoding(call.body), shown);
  if (!list) return malformed();
  decoded.body = std::move(*list);
  return decoded;
}

}  // namespace

core::Result<http::Request> GeminiAdapter::encode(const core::UpstreamCall& call, const Endpoint& endpoint) const {
  const json& body = call.body;
  if (!body.is_object())
    return core::make_error(core::ErrorKind::kInvalidRequest, "the request body must be a JSON object");
  if (call.operation == core::Operation::kEmbeddings) return encode_embeddings(call, endpoint);
  const auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array()) return invalid("'messages' must be an array", "messages");

  http::Request request;
  try {
    for (const auto& [key, value] : body.items()) {
      if (is_ignored_field(key) || is_translated_field(key)) continue;
      // functions, logit_bias, top_logprobs, reasoning_effort, modalities, audio, prediction…
      if (!value.is_null()) return unsupported(key);
    }
    json wire = json::object();
    if (auto r = encode_messages(*messages, wire); !r) return r.error();
    if (auto r = encode_tools(body, wire); !r) return r.error();
    if (auto r = encode_generation_config(body, call.stream, wire); !r) return r.error();
    request.body = wire.dump();
  } catch (const json::exception&) {
    return core::make_error(core::ErrorKind::kInvalidRequest, "the request body could not be translated for gemini");
  }

  request.url = url_of(endpoint.base_url, call.upstream_model, call.stream);
  request.headers.emplace_back("content-type", "application/json");
  if (!endpoint.api_key.empty()) request.headers.emplace_back("x-goog-api-key", std::string(endpoint.api_key));
  if (call.stream) request.headers.emplace_back("accept", "text/event-stream");
  return request;
}

core::Result<Decoded> GeminiAdapter::decode(std::string_view body, const core::UpstreamCall& call) const {
  if (call.operation == core::Operation::kEmbeddings) return decode_embeddings(body, call);
  const auto malformed = [] {
    return core::make_error(core::ErrorKind::kUpstreamError, "upstream returned a malformed body");
  };
  const json response = json::parse(body, nullptr, false);
  if (!response.is_object()) return malformed();
  const auto candidates = response.find("candidates");
  const bool has_candidates = candidates != response.end() && candidates->is_array();
  if (!has_candidates && !prompt_blocked(response)) return malformed();

  Decoded decoded;
  try {
    ordered_json choices = ordered_json::array();
    if (has_candidates) {
      for (std::size_t i = 0; i < candidates->size(); ++i) {
        const json& candidate = (*candidates)[i];
        if (!candidate.is_object()) return malformed();
        PartsView view = read_parts(candidate, 0);
        ordered_json message = {{"role", "assistant"}};
        message["content"] = view.has_text ? ordered_json(view.text) : ordered_json();
        const bool has_calls = !view.calls.empty();
        if (has_calls) message["tool_calls"] = ordered_json(view.calls);
        ordered_json choice = {{"index", candidate.value("index", static_cast<std::int64_t>(i))},
                               {"message", std::move(message)},
                               {"logprobs", nullptr}};
        choice["finish_reason"] = finish_reason_of(candidate.value("finishReason", ""), has_calls);
        choices.push_back(std::move(choice));
      }
    }
    if (choices.empty()) {
      // No candidates: the prompt itself was blocked (promptFeedback.blockReason).
      choices.push_back(ordered_json{{"index", 0},
                                     {"message", {{"role", "assistant"}, {"content", nullptr}}},
                                     {"logprobs", nullptr},
                                     {"finish_reason", prompt_blocked(response) ? "content_filter" : "stop"}});
    }
    ordered_json out = {{"id", completion_id(response, call.request_id)},
                        {"object", "chat.completion"},
                        {"created", unix_seconds()},
                        {"model", model_of(response, call.upstream_model)},
                        {"choices", std::move(choices)}};
    decoded.usage = usage_of(response);
    if (decoded.usage) out["usage"] = usage_json(*decoded.usage);
    decoded.body = dump(out);
  } catch (const json::exception&) {
    return malformed();
  }
  return decoded;
}

core::AttemptError GeminiAdapter::classify(int status, const core::Headers& headers, std::string_view body) const {
  core::AttemptError error;
  error.kind = core::FailureKind::kStatus;
  error.status = status;
  error.message = "upstream answered " + std::to_string(status);
  error.retry_after = retry_after(headers);

  std::string message;
  std::string code;
  const json parsed = json::parse(body, nullptr, false);
  if (const json* google = parsed.is_discarded() ? nullptr : google_error(parsed)) {
    message = google->value("message", "");
    code = to_lower(google->value("status", ""));
    if (!error.retry_after) error.retry_after = retry_delay(*google);
    if (status == 400 && has_reason(*google, "API_KEY_INVALID")) {
      // Google answers a bad key with 400; it is the key's fault, not the request's.
      error.status = 401;
      error.message = "upstream answered 400 (API key not valid)";
      code = "invalid_api_key";
    }
    if (status == 400 && message.find("input token count") != std::string::npos &&
        message.find("exceeds") != std::string::npos)
      error.context_overflow = true;
  } else {
    message = std::string(trim(body));
  }
  error.retryable = core::is_retryable_status(error.status);
  message = std::string(utf8_prefix(message, kMaxMessageBytes));
  if (message.empty()) message = "upstream returned HTTP " + std::to_string(status);
  ordered_json out = {{"error",
                       {{"message", std::move(message)},
                        {"type", error_type_of(error.status)},
                        {"param", nullptr},
                        {"code", code.empty() ? ordered_json() : ordered_json(code)}}}};
  error.body = dump(out);
  return error;
}

core::Result<http::Request> GeminiAdapter::encode_embedding(const core::EmbeddingCall& call,
                                                            const Endpoint& endpoint) const {
  const json dimensions = call.dimensions ? json(*call.dimensions) : json();
  http::Request request;
  try {
    request.body = embed_request(std::string(call.input), call.dimensions ? &dimensions : nullptr).dump();
  } catch (const json::exception&) {
    return core::make_error(core::ErrorKind::kInvalidRequest, "the text to embed is not valid UTF-8");
  }
  request.url = method_url(endpoint.base_url, call.upstream_model, ":embedContent");
  request.headers.emplace_back("content-type", "application/json");
  if (!endpoint.api_key.empty()) request.headers.emplace_back("x-goog-api-key", std::string(endpoint.api_key));
  return request;
}

core::Result<std::vector<float>> GeminiAdapter::decode_embedding(std::string_view body) const {
  const json response = json::parse(body, nullptr, false);
  const std::vector<const json*> vectors = response.is_object() ? embedding_values(response) : std::vector<const json*>{};
  std::vector<float> vector;
  if (!vectors.empty()) {
    vector.reserve(vectors[0]->size());
    for (const json& value : *vectors[0]) {
      if (!value.is_number()) return core::make_error(core::ErrorKind::kUpstreamError, "upstream returned a malformed embeddings body");
      vector.push_back(value.get<float>());
    }
  }
  if (vector.empty()) return core::make_error(core::ErrorKind::kUpstreamError, "upstream returned a malformed embeddings body");
  return vector;
}

std::unique_ptr<StreamDecoder> GeminiAdapter::stream_decoder(const core::UpstreamCall& call) const {
  return std::make_unique<GeminiStreamDecoder>(std::string(call.request_id), std::string(call.upstream_model));
}

}  // namespace tollgate::adapters
