// OpenAI chat completions: encode, decode, classify and the SSE chunk decoder (a passthrough).
#include "adapters/openai/openai_adapter.hpp"

#include "adapters/wire_text.hpp"
#include "core/openai/object_scan.hpp"

#include <charconv>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace tollgate::adapters {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxWrappedMessageBytes = 512;

/// Serializes `value` onto the end of `out`. Uses the library's own serializer so a large field
/// (messages) is written in place instead of through a temporary string per field.
void append_json(std::string& out, const json& value) {
  nlohmann::detail::serializer<json> serializer(nlohmann::detail::output_adapter<char, std::string>(out), ' ',
                                                json::error_handler_t::strict);
  serializer.dump(value, false, false, 0);
}

std::string wrap_error_body(int status, std::string_view body) {
  const std::string_view text = utf8_prefix(trim(body), kMaxWrappedMessageBytes);
  nlohmann::ordered_json error = {
      {"error",
       {{"message", text.empty() ? "upstream returned HTTP " + std::to_string(status) : std::string(text)},
        {"type", "upstream_error"},
        {"param", nullptr},
        {"code", nullptr}}}};
  // An HTML page may hold bytes that are not UTF-8; they must not make the error path throw.
  return error.dump(-1, ' ', false, json::error_handler_t::replace);
}

class OpenAiStreamDecoder final : public StreamDecoder {
 public:
  core::Result<void> feed(const SseEvent& event, std::vector<core::Chunk>& out) override;
  bool done() const noexcept override { return done_; }

 private:
  bool done_ = false;
};

core::Result<void> OpenAiStreamDecoder::feed(const SseEvent& event, std::vector<core::Chunk>& out) {
  if (done_) return {};
  const std::string_view data = trim(event.data);
  if (data.empty()) return {};
  if (data == "[DONE]") {
    done_ = true;
    return {};
  }
  const bool error_event = event.event == "error";
  if (data.front() != '{') {
    return core::make_error(core::ErrorKind::kUpstreamError,
                            error_event ? "upstream stream error" : "upstream sent a malformed stream event");
  }

  core::Chunk chunk;
  // Most chunks are content deltas (with include_usage they carry `"usage":null`): only those
  // whose usage or error is an object are parsed.
  const bool may_have_usage = core::has_object_field(data, "usage");
  const bool may_have_error = error_event || core::has_object_field(data, "error");
  if (may_have_usage || may_have_error) {
    const core::ObjectScan scan = core::scan_object(data);
    if (!scan.is_object)
      return core::make_error(core::ErrorKind::kUpstreamError, "upstream sent a malformed stream event");
    if (scan.error)
      return core::make_error(core::ErrorKind::kUpstreamError,
                              scan.error->empty() ? std::string("upstream stream error")
                                                  : std::string(utf8_prefix(*scan.error, kMaxWrappedMessageBytes)));
    if (error_event) return core::make_error(core::ErrorKind::kUpstreamError, "upstream stream error");
    if (scan.usage) {
      chunk.usage = scan.usage;
      // Some OpenAI-compatible servers omit `choices` on the usage chunk instead of sending [].
      chunk.usage_only = scan.choices_empty;
    }
  }
  // The interface hands the event by const reference, so its data is copied, not moved.
  chunk.data = event.data;
  out.push_back(std::move(chunk));
  return {};
}

/// OpenAI says `context_length_exceeded`; servers that copy its API (vLLM, Ollama, Groq…) often
/// give only the message, so the usual wordings count too.
bool is_context_overflow(const json& error) {
  if (const auto code = error.find("code"); code != error.end() && code->is_string() &&
      (*code == "context_length_exceeded" || *code == "string_above_max_length"))
    return true;
  const auto message = error.find("message");
  if (message == error.end() || !message->is_string()) return false;
  const std::string& text = message->get_ref<const std::string&>();
  for (std::string_view phrase : {"maximum context length", "context length", "context window", "prompt is too long",
                                  "too many tokens"})
    if (text.find(phrase) != std::string::npos) return true;
  return false;
}

/// `path` under the provider's base URL (trailing slashes of the base ignored).
std::string url_of(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  std::string url;
  url.reserve(base.size() + path.size());
  url.append(base).append(path);
  return url;
}

/// `content-type: application/json` and, when there is a key, `authorization: Bearer KEY`.
void json_headers(core::Headers& headers, std::string_view api_key) {
  headers.reserve(3);
  headers.emplace_back("content-type", "application/json");
  if (api_key.empty()) return;
  std::string value;
  value.reserve(7 + api_key.size());
  value.append("Bearer ").append(api_key);
  headers.emplace_back("authorization", std::move(value));
}

}  // namespace

core::Result<http::Request> OpenAiAdapter::encode(const core::UpstreamCall& call, const Endpoint& endpoint) const {
  const json& body = call.body;
  if (!body.is_object())
    return core::make_error(core::ErrorKind::kInvalidRequest, "the request body must be a JSON object");

  http::Request request;
  request.url = url_of(endpoint.base_url, "/chat/completions");

  std::string& out = request.body;
  try {
    out += "{\"model\":";
    append_json(out, json(std::string(call.upstream_model)));
    auto field = [&out](const std::string& key) {
      out += ',';
      append_json(out, json(key));
      out += ':';
    };
    const auto stream_field = body.find("stream");
    const bool client_stream =
        stream_field != body.end() && stream_field->is_boolean() && stream_field->get<bool>();
    bool stream_written = false;
    bool options_written = false;
    for (const auto& [key, value] : body.items()) {
      if (key == "model") continue;
      if (key == "stream") {
        field(key);
        // The attempt's mode wins over the body: a unary attempt must not receive SSE.
        if (call.stream || client_stream)
          out += call.stream ? "true" : "false";
        else
          append_json(out, value);
        stream_written = true;
      } else if (key == "stream_options") {
        if (!call.stream && client_stream) continue;  // OpenAI rejects stream_options without stream
        field(key);
        if (call.stream) {
          json options = value.is_object() ? value : json::object();
          options["include_usage"] = true;
          append_json(out, options);
        } else {
          append_json(out, value);
        }
        options_written = true;
      } else {
        field(key);
        append_json(out, value);
      }
    }
    if (call.stream && !stream_written) out += ",\"stream\":true";
    if (call.stream && !options_written) out += ",\"stream_options\":{\"include_usage\":true}";
    out += '}';
  } catch (const json::exception&) {
    return core::make_error(core::ErrorKind::kInvalidRequest, "the request body holds a string that is not valid UTF-8");
  }

  json_headers(request.headers, endpoint.api_key);
  if (call.stream) request.headers.emplace_back("accept", "text/event-stream");
  return request;
}

core::Result<http::Request> OpenAiAdapter::encode_embedding(const core::EmbeddingCall& call,
                                                            const Endpoint& endpoint) const {
  json body = {{"model", call.upstream_model}, {"input", call.input}, {"encoding_format", "float"}};
  if (call.dimensions) body["dimensions"] = *call.dimensions;
  http::Request request;
  request.url = url_of(endpoint.base_url, "/embeddings");
  try {
    request.body = body.dump();
  } catch (const json::exception&) {
    return core::make_error(core::ErrorKind::kInvalidRequest, "the text to embed is not valid UTF-8");
  }
  json_headers(request.headers, endpoint.api_key);
  return request;
}

core::Result<std::vector<float>> OpenAiAdapter::decode_embedding(std::string_view body) const {
  const auto malformed = [] {
    return core::make_error(core::ErrorKind::kUpstreamError, "upstream returned a malformed embeddings body");
  };
  const json parsed = json::parse(body, nullptr, false);
  if (!parsed.is_object()) return malformed();
  const auto data = parsed.find("data");
  if (data == parsed.end() || !data->is_array() || data->empty() || !(*data)[0].is_object()) return malformed();
  const auto embedding = (*data)[0].find("embedding");
  if (embedding == (*data)[0].end() || !embedding->is_array() || embedding->empty()) return malformed();
  std::vector<float> vector;
  vector.reserve(embedding->size());
  for (const json& value : *embedding) {
    if (!value.is_number()) return malformed();
    vector.push_back(value.get<float>());
  }
  return vector;
}

core::Result<Decoded> OpenAiAdapter::decode(std::string_view body, const core::UpstreamCall&) const {
  core::ObjectScan scan = core::scan_object(body);
  if (!scan.is_object) return core::make_error(core::ErrorKind::kUpstreamError, "upstream returned a malformed body");
  Decoded decoded;
  decoded.body.assign(body);
  decoded.usage = scan.usage;
  return decoded;
}

core::AttemptError OpenAiAdapter::classify(int status, const core::Headers& headers, std::string_view body) const {
  core::AttemptError error;
  error.kind = core::FailureKind::kStatus;
  error.status = status;
  error.retryable = core::is_retryable_status(status);
  // The upstream's own message is not repeated here: a 401 may quote part of the key.
  error.message = "upstream answered " + std::to_string(status);
  error.retry_after = retry_after(headers);

  const json parsed = json::parse(body, nullptr, false);
  bool openai_shaped = false;
  if (!parsed.is_discarded() && parsed.is_object()) {
    const auto it = parsed.find("error");
    openai_shaped = it != parsed.end() && it->is_object();
    if (openai_shaped && status == 400) error.context_overflow = is_context_overflow(*it);
  }
  error.body = openai_shaped ? std::string(body) : wrap_error_body(status, body);
  return error;
}

std::unique_ptr<StreamDecoder> OpenAiAdapter::stream_decoder(const core::UpstreamCall&) const {
  return std::make_unique<OpenAiStreamDecoder>();
}

}  // namespace tollgate::adapters
