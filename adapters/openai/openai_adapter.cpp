// OpenAI chat completions and embeddings: encode, decode, classify and the SSE chunk decoder, per flavour.
#include "adapters/openai/openai_adapter.hpp"

#include "adapters/embedding_list.hpp"
#include "adapters/wire_text.hpp"
#include "core/openai/object_scan.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
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

/// `name` (a field or model name) as a JSON string onto the end of `out`: written as it is when it
/// needs no escaping (the usual case, without building a json value), else through the library.
void append_name(std::string& out, std::string_view name) {
  const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '/' || c == ':';
  });
  if (!plain) return append_json(out, json(std::string(name)));
  out += '"';
  out += name;
  out += '"';
}

/// OpenAI's error shape around `message` (the upstream's text, cut to 512 bytes).
std::string wrap_error_body(int status, std::string_view message) {
  const std::string_view text = utf8_prefix(trim(message), kMaxWrappedMessageBytes);
  nlohmann::ordered_json error = {
      {"error",
       {{"message", text.empty() ? "upstream returned HTTP " + std::to_string(status) : std::string(text)},
        {"type", "upstream_error"},
        {"param", nullptr},
        {"code", nullptr}}}};
  // An HTML page may hold bytes that are not UTF-8; they must not make the error path throw.
  return error.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// The flavour's own usage fields (e.g. DeepSeek's prompt_cache_hit_tokens) of the top-level
/// `usage` object of `text`, written over the counts they stand for.
void read_usage_fields(const Flavor& flavor, std::string_view text, core::Usage& out) {
  if (flavor.usage_fields.empty()) return;
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return;
  const auto* usage = value.get_object().if_contains("usage");
  if (usage == nullptr || !usage->is_object()) return;
  for (const UsageField& field : flavor.usage_fields) {
    if (!usage->get_object().contains(field.field)) continue;
    switch (field.count) {
      case UsageCount::kCachedTokens:
        out.cached_tokens = core::json_count(usage->get_object(), field.field);
        break;
    }
  }
}

/// A content chunk that also carries `usage` → {the chunk without it, a usage-only chunk with the
/// same id, created and model and `choices: []`}; nullopt when `data` is not a JSON object.
std::optional<std::pair<std::string, std::string>> split_usage(std::string_view data) {
  nlohmann::ordered_json content = nlohmann::ordered_json::parse(data, nullptr, false);
  if (!content.is_object() || !content.contains("usage")) return std::nullopt;
  nlohmann::ordered_json usage_chunk = nlohmann::ordered_json::object();
  for (const char* key : {"id", "object", "created", "model", "system_fingerprint"})
    if (auto it = content.find(key); it != content.end()) usage_chunk[key] = *it;
  usage_chunk["choices"] = nlohmann::ordered_json::array();
  usage_chunk["usage"] = std::move(content["usage"]);
  content.erase("usage");
  return std::pair(dump(content), dump(usage_chunk));
}

/// An embeddings list whose vectors are float arrays, re-encoded as base64 float32 (same order,
/// model and usage); nullopt when it is not such a list.
std::optional<std::string> as_base64_list(std::string_view body, const std::optional<core::Usage>& usage) {
  const json list = json::parse(body, nullptr, false);
  if (!list.is_object() || !list.contains("data") || !list["data"].is_array()) return std::nullopt;
  std::vector<const json*> vectors;
  for (const json& item : list["data"]) {
    if (!item.is_object() || !item.contains("embedding")) return std::nullopt;
    vectors.push_back(&item["embedding"]);
  }
  const std::string model = list.contains("model") && list["model"].is_string() ? list["model"].get<std::string>() : "";
  return embedding_list(vectors, model, EmbeddingEncoding::kBase64, usage);
}

class OpenAiStreamDecoder final : public StreamDecoder {
 public:
  explicit OpenAiStreamDecoder(const Flavor& flavor) : flavor_(flavor) {}

  core::Result<void> feed(const SseEvent& event, std::vector<core::Chunk>& out) override;
  bool done() const noexcept override { return done_; }

 private:
  /// Groq: the usage in x_groq.usage, kept as an OpenAI usage-only chunk for [DONE] in case no
  /// usage chunk follows.
  void note_x_groq(std::string_view data);

  const Flavor& flavor_;
  bool done_ = false;
  bool saw_usage_ = false;
  std::optional<core::Chunk> x_groq_usage_;
};

core::Result<void> OpenAiStreamDecoder::feed(const SseEvent& event, std::vector<core::Chunk>& out) {
  if (done_) return {};
  const std::string_view data = trim(event.data);
  if (data.empty()) return {};
  if (data == "[DONE]") {
    done_ = true;
    if (x_groq_usage_ && !saw_usage_) out.push_back(std::move(*x_groq_usage_));
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
      core::Usage usage = *scan.usage;
      read_usage_fields(flavor_, data, usage);
      saw_usage_ = true;
      // Some OpenAI-compatible servers omit `choices` on the usage chunk instead of sending [];
      // some (Mistral) put the usage on their last content chunk. OpenAI's clients expect it on a
      // chunk of its own (and none when they did not ask), so such a chunk is split in two.
      if (!scan.choices_empty) {
        if (auto split = split_usage(data)) {
          out.push_back(core::Chunk{.data = std::move(split->first), .usage = std::nullopt, .usage_only = false});
          out.push_back(core::Chunk{.data = std::move(split->second), .usage = usage, .usage_only = true});
          return {};
        }
      }
      chunk.usage = usage;
      chunk.usage_only = scan.choices_empty;
    }
  }
  if (flavor_.usage_in_x_groq && !saw_usage_ && core::has_object_field(data, "x_groq")) note_x_groq(data);
  // The interface hands the event by const reference, so its data is copied, not moved.
  chunk.data = event.data;
  out.push_back(std::move(chunk));
  return {};
}

void OpenAiStreamDecoder::note_x_groq(std::string_view data) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(data, ec);
  if (ec || !value.is_object()) return;
  const boost::json::object& object = value.get_object();
  const auto* x_groq = object.if_contains("x_groq");
  if (x_groq == nullptr || !x_groq->is_object()) return;
  const auto* usage = x_groq->get_object().if_contains("usage");
  if (usage == nullptr || !usage->is_object()) return;

  const core::Usage counts = core::read_usage(usage->get_object());

  nlohmann::ordered_json synthesized;
  const auto copy_string = [&](const char* key) {
    if (const auto* v = object.if_contains(key); v != nullptr && v->is_string())
      synthesized[key] = std::string(v->get_string());
  };
  copy_string("id");
  synthesized["object"] = "chat.completion.chunk";
  if (const auto* created = object.if_contains("created"); created != nullptr && created->is_int64())
    synthesized["created"] = created->get_int64();
  copy_string("model");
  synthesized["choices"] = nlohmann::ordered_json::array();
  synthesized["usage"] = {{"prompt_tokens", counts.prompt_tokens},
                          {"completion_tokens", counts.completion_tokens},
                          {"total_tokens", counts.total_tokens}};
  core::Chunk chunk;
  chunk.data = dump(synthesized);
  chunk.usage = counts;
  chunk.usage_only = true;
  x_groq_usage_ = std::move(chunk);
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

/// `text` with every byte outside RFC 3986's unreserved set percent-encoded (a URL path segment).
std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0F];
    }
  }
  return out;
}

bool contains(std::span<const std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

const FieldRename* find_rename(std::span<const FieldRename> renames, std::string_view name) {
  for (const FieldRename& rename : renames)
    if (rename.from == name) return &rename;
  return nullptr;
}

/// The member `name` of `body` unless absent or null.
const json* present(const json& body, std::string_view name) {
  const auto it = body.find(std::string(name));
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

/// Why the flavour cannot take this chat request as it is, if it cannot: a refused field, a name on
/// a message, or a renamed field sent under both names with different values.
std::optional<core::GatewayError> refusal(const Flavor& flavor, const json& body) {
  const std::string service(flavor.name);
  for (const RefusedField& refused : flavor.refused) {
    const json* value = present(body, refused.field);
    if (value == nullptr) continue;
    std::string_view only;
    switch (refused.allowed) {
      case Allowed::kNever:
        break;
      case Allowed::kIfFalse:
        if (value->is_boolean() && !value->get<bool>()) continue;
        break;
      case Allowed::kIfOne:
        if (value->is_number_integer() && value->get<std::int64_t>() == 1) continue;
        only = " other than 1";
        break;
      case Allowed::kIfAuto:
        if (value->is_string() && value->get_ref<const std::string&>() == "auto") continue;
        only = " other than \"auto\"";
        break;
    }
    return core::make_error(core::ErrorKind::kInvalidRequest,
                            service + " does not support '" + std::string(refused.field) + "'" + std::string(only) +
                                "; remove it or route this request to another provider",
                            std::string(refused.field));
  }
  if (flavor.refuses_message_name) {
    if (const json* messages = present(body, "messages"); messages != nullptr && messages->is_array()) {
      for (std::size_t i = 0; i < messages->size(); ++i) {
        const json& message = (*messages)[i];
        if (!message.is_object() || present(message, "name") == nullptr) continue;
        if (const auto role = message.find("role"); role != message.end() && *role == "tool") continue;
        return core::make_error(core::ErrorKind::kInvalidRequest,
                                service + " does not support 'messages[].name' on system, user or assistant "
                                          "messages; remove it or route this request to another provider",
                                "messages[" + std::to_string(i) + "].name");
      }
    }
  }
  for (const FieldRename& rename : flavor.renames) {
    const json* from = present(body, rename.from);
    const json* to = present(body, rename.to);
    if (from != nullptr && to != nullptr && *from != *to) {
      return core::make_error(core::ErrorKind::kInvalidRequest,
                              service + " takes '" + std::string(rename.from) + "' as '" + std::string(rename.to) +
                                  "', and this request sets both to different values",
                              std::string(rename.from));
    }
  }
  return std::nullopt;
}

}  // namespace

OpenAiAdapter::OpenAiAdapter() : OpenAiAdapter(OpenAiOptions{}) {}

OpenAiAdapter::OpenAiAdapter(OpenAiOptions options)
    : flavor_(options.flavor != nullptr ? options.flavor : &openai_flavor()),
      api_version_(options.api_version.empty() ? std::string(config::kAzureDefaultApiVersion)
                                               : std::move(options.api_version)),
      headers_(std::move(options.headers)) {}

std::shared_ptr<const OpenAiAdapter> OpenAiAdapter::for_provider(const config::ProviderConfig& provider) {
  const Flavor* flavor = provider.flavor.empty() ? &openai_flavor() : find_flavor(provider.flavor);
  if (flavor == nullptr) return nullptr;
  OpenAiOptions options;
  options.flavor = flavor;
  options.api_version = provider.api_version;
  options.headers.assign(provider.headers.begin(), provider.headers.end());
  return std::make_shared<const OpenAiAdapter>(std::move(options));
}

std::string OpenAiAdapter::url_for(std::string_view base, std::string_view model, std::string_view path) const {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  std::string url;
  if (flavor_->url == UrlStyle::kBase) {
    url.reserve(base.size() + 1 + path.size());
    url.append(base).append("/").append(path);
    return url;
  }
  // Azure: the resource endpoint, given with or without the `/openai` its API paths start with.
  if (base.ends_with("/openai")) base.remove_suffix(7);
  url.append(base).append("/openai/deployments/").append(percent_encode(model)).append("/").append(path);
  url.append("?api-version=").append(api_version_);
  return url;
}

void OpenAiAdapter::add_headers(core::Headers& headers, std::string_view api_key) const {
  headers.reserve(3 + headers_.size());
  headers.emplace_back("content-type", "application/json");
  if (!api_key.empty()) {
    if (flavor_->auth == AuthStyle::kApiKey) {
      headers.emplace_back("api-key", std::string(api_key));
    } else {
      std::string value;
      value.reserve(7 + api_key.size());
      value.append("Bearer ").append(api_key);
      headers.emplace_back("authorization", std::move(value));
    }
  }
  headers.insert(headers.end(), headers_.begin(), headers_.end());
}

core::Result<http::Request> OpenAiAdapter::encode(const core::UpstreamCall& call, const Endpoint& endpoint) const {
  const json& body = call.body;
  if (!body.is_object())
    return core::make_error(core::ErrorKind::kInvalidRequest, "the request body must be a JSON object");
  if (call.operation == core::Operation::kEmbeddings) return encode_embeddings(call, endpoint);
  const Flavor& flavor = *flavor_;
  if (auto refused = refusal(flavor, body)) return std::move(*refused);

  http::Request request;
  request.url = url_for(endpoint.base_url, call.upstream_model, "chat/completions");
  const bool ask_usage = flavor.stream_usage == StreamUsage::kAskIncludeUsage;

  std::string& out = request.body;
  try {
    out += "{\"model\":";
    append_name(out, call.upstream_model);
    auto field = [&out](std::string_view key) {
      out += ',';
      append_name(out, key);
      out += ':';
    };
    const auto stream_field = body.find("stream");
    const bool client_stream =
        stream_field != body.end() && stream_field->is_boolean() && stream_field->get<bool>();
    bool stream_written = false;
    bool options_written = false;
    for (const auto& [key, value] : body.items()) {
      if (key == "model" || contains(flavor.dropped, key)) continue;
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
        // A service that refuses stream_options sends its usage anyway (flavors.cpp).
        if (!ask_usage) continue;
        field(key);
        if (call.stream) {
          json options = value.is_object() ? value : json::object();
          options["include_usage"] = true;
          append_json(out, options);
        } else {
          append_json(out, value);
        }
        options_written = true;
      } else if (const FieldRename* rename = find_rename(flavor.renames, key)) {
        // Both names set (to the same value, refusal() checked): the new name is written as itself.
        if (present(body, rename->to) != nullptr) continue;
        field(rename->to);
        append_json(out, value);
      } else {
        field(key);
        append_json(out, value);
      }
    }
    if (call.stream && !stream_written) out += ",\"stream\":true";
    if (call.stream && ask_usage && !options_written) out += ",\"stream_options\":{\"include_usage\":true}";
    out += '}';
  } catch (const json::exception&) {
    return core::make_error(core::ErrorKind::kInvalidRequest, "the request body holds a string that is not valid UTF-8");
  }

  add_headers(request.headers, endpoint.api_key);
  if (call.stream) request.headers.emplace_back("accept", "text/event-stream");
  return request;
}

core::Result<http::Request> OpenAiAdapter::encode_embeddings(const core::UpstreamCall& call,
                                                             const Endpoint& endpoint) const {
  const Flavor& flavor = *flavor_;
  if (!flavor.embeddings)
    return core::make_error(core::ErrorKind::kInvalidRequest,
                            std::string(flavor.name) + " has no embeddings endpoint; route embeddings to another provider");
  http::Request request;
  request.url = url_for(endpoint.base_url, call.upstream_model, "embeddings");
  std::string& out = request.body;
  try {
    out += "{\"model\":";
    append_name(out, call.upstream_model);
    for (const auto& [key, value] : call.body.items()) {
      if (key == "model" || contains(flavor.embedding_dropped, key)) continue;
      std::string_view name = key;
      if (const FieldRename* rename = find_rename(flavor.embedding_renames, key)) {
        if (present(call.body, rename->to) != nullptr) continue;
        name = rename->to;
      }
      out += ',';
      append_json(out, json(std::string(name)));
      out += ':';
      append_json(out, value);
    }
    out += '}';
  } catch (const json::exception&) {
    return core::make_error(core::ErrorKind::kInvalidRequest, "the request body holds a string that is not valid UTF-8");
  }
  add_headers(request.headers, endpoint.api_key);
  return request;
}

core::Result<http::Request> OpenAiAdapter::encode_embedding(const core::EmbeddingCall& call,
                                                            const Endpoint& endpoint) const {
  const Flavor& flavor = *flavor_;
  if (!flavor.embeddings)
    return core::make_error(core::ErrorKind::kInvalidRequest, std::string(flavor.name) + " has no embeddings endpoint");
  json body = {{"model", call.upstream_model}, {"input", call.input}, {"encoding_format", "float"}};
  if (call.dimensions) {
    const FieldRename* rename = find_rename(flavor.embedding_renames, "dimensions");
    body[std::string(rename != nullptr ? rename->to : "dimensions")] = *call.dimensions;
  }
  http::Request request;
  request.url = url_for(endpoint.base_url, call.upstream_model, "embeddings");
  try {
    request.body = body.dump();
  } catch (const json::exception&) {
    return core::make_error(core::ErrorKind::kInvalidRequest, "the text to embed is not valid UTF-8");
  }
  add_headers(request.headers, endpoint.api_key);
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

core::Result<Decoded> OpenAiAdapter::decode(std::string_view body, const core::UpstreamCall& call) const {
  if (call.operation == core::Operation::kEmbeddings) {
    // Boost.JSON without an arena: a list of vectors is far larger than a chat answer.
    boost::system::error_code ec;
    const boost::json::value value = boost::json::parse(body, ec);
    const boost::json::value* data = !ec && value.is_object() ? value.get_object().if_contains("data") : nullptr;
    if (data == nullptr || !data->is_array())
      return core::make_error(core::ErrorKind::kUpstreamError, "upstream returned a malformed embeddings body");
    Decoded decoded;
    decoded.body.assign(body);
    if (const auto* usage = value.get_object().if_contains("usage"); usage != nullptr && usage->is_object())
      decoded.usage = core::read_usage(usage->get_object());
    const auto& items = data->get_array();
    if (embedding_encoding(call.body) == EmbeddingEncoding::kBase64 && !items.empty() && items[0].is_object() &&
        items[0].get_object().contains("embedding") && items[0].get_object().at("embedding").is_array()) {
      // Asked for base64, answered floats (servers that ignore encoding_format): the client would
      // decode the numbers as base64 text, so tollgate encodes them as asked.
      if (auto encoded = as_base64_list(body, decoded.usage)) decoded.body = std::move(*encoded);
    }
    return decoded;
  }
  core::ObjectScan scan = core::scan_object(body);
  if (!scan.is_object) return core::make_error(core::ErrorKind::kUpstreamError, "upstream returned a malformed body");
  Decoded decoded;
  decoded.body.assign(body);
  decoded.usage = scan.usage;
  if (decoded.usage) read_usage_fields(*flavor_, body, *decoded.usage);
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
  std::string_view message = body;
  if (!parsed.is_discarded() && parsed.is_object()) {
    const auto it = parsed.find("error");
    openai_shaped = it != parsed.end() && it->is_object();
    if (openai_shaped && status == 400) error.context_overflow = is_context_overflow(*it);
    if (!openai_shaped && flavor_->errors_array) {
      // Cloudflare: {"success": false, "errors": [{"code": 7003, "message": "..."}]}.
      const auto errors = parsed.find("errors");
      if (errors != parsed.end() && errors->is_array() && !errors->empty() && (*errors)[0].is_object()) {
        const auto text = (*errors)[0].find("message");
        if (text != (*errors)[0].end() && text->is_string()) message = text->get_ref<const std::string&>();
      }
    }
  }
  error.body = openai_shaped ? std::string(body) : wrap_error_body(status, message);
  return error;
}

std::unique_ptr<StreamDecoder> OpenAiAdapter::stream_decoder(const core::UpstreamCall&) const {
  return std::make_unique<OpenAiStreamDecoder>(*flavor_);
}

}  // namespace tollgate::adapters
