// MockProvider: scripted chat completions and OpenAI-shaped chunk streams, without a network.
#include "adapters/mock/mock_provider.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "adapters/embedding_list.hpp"
#include "core/openai/token_estimate.hpp"

namespace tollgate::adapters {
namespace {

using nlohmann::json;

constexpr std::chrono::milliseconds kSlowDelay{100};
constexpr std::string_view kDefaultContent = "Hello from tollgate's mock provider.";
constexpr std::size_t kBrokenAfterWords = 2;

core::AttemptResult failed(core::AttemptError error) {
  return core::AttemptResult(boost::system::in_place_error, std::move(error));
}

bool contains(std::string_view haystack, std::string_view needle) noexcept {
  return haystack.find(needle) != std::string_view::npos;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/// Serializes `value` onto the end of `out` with the library's serializer (no temporary string).
void append_json(std::string& out, const json& value) {
  nlohmann::detail::serializer<json> serializer(nlohmann::detail::output_adapter<char, std::string>(out), ' ',
                                                json::error_handler_t::replace);
  serializer.dump(value, false, false, 0);
}

boost::asio::awaitable<void> wait_for(std::chrono::milliseconds delay) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

/// Calls `on_text` with each text of a message content: the string itself, or every text part.
template <class F>
void for_each_text(const json& content, F&& on_text) {
  if (content.is_string()) {
    on_text(content.get_ref<const std::string&>());
  } else if (content.is_array()) {
    for (const auto& part : content) {
      if (!part.is_object()) continue;
      auto type = part.find("type");
      auto text = part.find("text");
      if (type != part.end() && *type == "text" && text != part.end() && text->is_string())
        on_text(text->get_ref<const std::string&>());
    }
  }
}

/// What one echo answer says: the content, where each word ends, and the accounting.
struct Script {
  std::string content;
  std::vector<std::size_t> word_ends;  // word i is content[i ? word_ends[i-1] : 0, word_ends[i])
  std::string_view finish_reason = "stop";
  core::Usage usage;

  std::string_view word(std::size_t i) const {
    const std::size_t begin = i == 0 ? 0 : word_ends[i - 1];
    return std::string_view(content).substr(begin, word_ends[i] - begin);
  }
};

std::optional<std::int64_t> completion_limit(const json& body) {
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    auto it = body.find(key);
    if (it != body.end() && it->is_number_integer()) return std::max<std::int64_t>(0, it->get<std::int64_t>());
  }
  return std::nullopt;
}

Script make_script(const json& body) {
  Script script;
  std::size_t prompt_bytes = 0;
  const json* last_user = nullptr;
  if (body.is_object()) {
    if (auto messages = body.find("messages"); messages != body.end() && messages->is_array()) {
      for (const auto& message : *messages) {
        if (!message.is_object()) continue;
        auto content = message.find("content");
        if (content == message.end()) continue;
        for_each_text(*content, [&](const std::string& text) { prompt_bytes += text.size(); });
        if (auto role = message.find("role"); role != message.end() && *role == "user") last_user = &*content;
      }
    }
  }
  if (last_user != nullptr) {
    bool first = true;
    for_each_text(*last_user, [&](const std::string& text) {
      if (!first) script.content += '\n';
      script.content += text;
      first = false;
    });
  }
  if (script.content.empty()) script.content = kDefaultContent;

  // A word keeps the whitespace that follows it, so the words concatenate to the content.
  const std::string_view content = script.content;
  for (std::size_t i = 1; i < content.size(); ++i)
    if (!is_space(content[i]) && is_space(content[i - 1])) script.word_ends.push_back(i);
  script.word_ends.push_back(content.size());

  if (auto limit = body.is_object() ? completion_limit(body) : std::nullopt;
      limit && static_cast<std::size_t>(*limit) < script.word_ends.size()) {
    script.word_ends.resize(static_cast<std::size_t>(*limit));
    std::size_t end = script.word_ends.empty() ? 0 : script.word_ends.back();
    const std::size_t begin = script.word_ends.size() > 1 ? script.word_ends[script.word_ends.size() - 2] : 0;
    while (end > begin && is_space(script.content[end - 1])) --end;
    if (!script.word_ends.empty()) script.word_ends.back() = end;
    script.content.resize(end);
    script.finish_reason = "length";
  }

  script.usage.prompt_tokens = std::max<std::int64_t>(1, static_cast<std::int64_t>(prompt_bytes / 4));
  script.usage.completion_tokens = static_cast<std::int64_t>(script.word_ends.size());
  script.usage.total_tokens = script.usage.prompt_tokens + script.usage.completion_tokens;
  return script;
}

json usage_json(const core::Usage& usage) {
  return json{{"prompt_tokens", usage.prompt_tokens},
              {"completion_tokens", usage.completion_tokens},
              {"total_tokens", usage.total_tokens}};
}

std::string completion_body(const Script& script, std::string_view id, std::int64_t created, std::string_view model) {
  nlohmann::ordered_json body = {
      {"id", id},
      {"object", "chat.completion"},
      {"created", created},
      {"model", model},
      {"choices",
       nlohmann::ordered_json::array({nlohmann::ordered_json{
           {"index", 0},
           {"message", {{"role", "assistant"}, {"content", script.content}, {"refusal", nullptr}}},
           {"logprobs", nullptr},
           {"finish_reason", script.finish_reason}}})},
      {"usage",
       {{"prompt_tokens", script.usage.prompt_tokens},
        {"completion_tokens", script.usage.completion_tokens},
        {"total_tokens", script.usage.total_tokens}}},
      {"system_fingerprint", "fp_mock"}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// OpenAI's chunk sequence for one script: role chunk, a chunk per word, finish chunk, usage
/// chunk. Chunk JSON is assembled from a prefix built once per stream.
class MockChunkStream final : public core::ChunkStream {
 public:
  MockChunkStream(Script script, std::string_view id, std::int64_t created, std::string_view model, bool slow,
                  bool broken)
      : script_(std::move(script)), slow_(slow), broken_(broken) {
    prefix_ = "{\"id\":";
    append_json(prefix_, json(std::string(id)));
    prefix_ += ",\"object\":\"chat.completion.chunk\",\"created\":";
    prefix_ += std::to_string(created);
    prefix_ += ",\"model\":";
    append_json(prefix_, json(std::string(model)));
    prefix_ += ",\"system_fingerprint\":\"fp_mock\",\"choices\":";
  }

  boost::asio::awaitable<core::Result<std::optional<core::Chunk>>> next() override;
  // Nothing is ever awaited except the "slow" delay.
  bool ready() const noexcept override { return !slow_ || step_ == 0; }

 private:
  core::Chunk make_chunk(std::size_t step) const;

  Script script_;
  std::string prefix_;  // every chunk's fields up to `"choices":`
  bool slow_;
  bool broken_;
  std::size_t step_ = 0;  // 0 role, 1..n words, n+1 finish, n+2 usage, then the end
};

core::Chunk MockChunkStream::make_chunk(std::size_t step) const {
  const std::size_t words = script_.word_ends.size();
  core::Chunk chunk;
  std::string& out = chunk.data;
  out.reserve(prefix_.size() + 128);
  out += prefix_;
  if (step == 0) {
    out += R"([{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]})";
  } else if (step <= words) {
    out += R"([{"index":0,"delta":{"content":)";
    append_json(out, json(std::string(script_.word(step - 1))));
    out += R"(},"logprobs":null,"finish_reason":null}]})";
  } else if (step == words + 1) {
    out += R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":")";
    out += script_.finish_reason;
    out += R"("}]})";
  } else {
    out += R"([],"usage":)";
    append_json(out, usage_json(script_.usage));
    out += '}';
    chunk.usage = script_.usage;
    chunk.usage_only = true;
  }
  return chunk;
}

boost::asio::awaitable<core::Result<std::optional<core::Chunk>>> MockChunkStream::next() {
  const std::size_t words = script_.word_ends.size();
  const std::size_t last_step = words + 2;
  if (step_ > last_step) co_return std::nullopt;
  if (slow_ && step_ > 0) co_await wait_for(kSlowDelay);
  if (broken_ && step_ > std::min(kBrokenAfterWords, words))
    co_return core::make_error(core::ErrorKind::kUpstreamError, "mock stream broken");
  co_return std::optional<core::Chunk>(make_chunk(step_++));
}

/// A deterministic unit vector for one input: each word (or token id) adds 1 to one of
/// `dimensions` slots picked by FNV-1a, so equal texts get equal vectors and shared words
/// similar ones.
json mock_vector(const json& input, std::size_t dimensions) {
  std::vector<double> vector(dimensions, 0.0);
  const auto add = [&](std::string_view word) {
    std::uint32_t hash = 2166136261u;
    for (char c : word) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
    vector[hash % dimensions] += 1.0;
  };
  if (input.is_string()) {
    const std::string& text = input.get_ref<const std::string&>();
    std::size_t at = 0;
    while (at < text.size()) {
      while (at < text.size() && is_space(text[at])) ++at;
      std::size_t end = at;
      while (end < text.size() && !is_space(text[end])) ++end;
      if (end > at) add(std::string_view(text).substr(at, end - at));
      at = end;
    }
  } else if (input.is_array()) {
    for (const auto& id : input) add(id.dump());
  }
  double norm = 0;
  for (double v : vector) norm += v * v;
  if (norm == 0) vector[0] = norm = 1;
  json out = json::array();
  for (double v : vector) out.push_back(v / std::sqrt(norm));
  return out;
}

/// OpenAI's embeddings list for the request's inputs (`dimensions` long, default 16).
core::Reply embeddings_reply(const json& body, std::string_view model) {
  constexpr std::size_t kDefaultDimensions = 16;
  constexpr std::int64_t kMaxDimensions = 4096;
  std::size_t dimensions = kDefaultDimensions;
  if (auto it = body.find("dimensions"); it != body.end() && it->is_number_integer())
    dimensions = static_cast<std::size_t>(std::clamp<std::int64_t>(it->get<std::int64_t>(), 1, kMaxDimensions));
  std::vector<json> vectors;
  const json& input = body.contains("input") ? body.at("input") : json();
  const bool many = input.is_array() && !input.empty() && !input[0].is_number();
  if (many) {
    for (const auto& item : input) vectors.push_back(mock_vector(item, dimensions));
  } else {
    vectors.push_back(mock_vector(input, dimensions));
  }
  core::Usage usage;
  usage.prompt_tokens = std::max<std::int64_t>(1, core::estimate_embedding_tokens(body));
  usage.total_tokens = usage.prompt_tokens;
  std::vector<const json*> views;
  for (const auto& vector : vectors) views.push_back(&vector);
  core::Reply reply = core::Reply::json(200, *embedding_list(views, model, embedding_encoding(body), usage));
  reply.usage = usage;
  return reply;
}

}  // namespace

MockProvider::MockProvider(std::string id, std::shared_ptr<const core::Clock> clock)
    : id_(std::move(id)), clock_(clock ? std::move(clock) : std::make_shared<const core::SystemClock>()) {}

boost::asio::awaitable<core::AttemptResult> MockProvider::call(core::UpstreamCall call) {
  const std::string_view model = call.upstream_model;
  if (contains(model, "slow")) co_await wait_for(kSlowDelay);

  if (contains(model, "error")) {
    co_return failed(core::AttemptError{
        .kind = core::FailureKind::kStatus,
        .status = 500,
        .retryable = true,
        .message = "upstream answered 500: mock upstream error",
        .body = R"({"error":{"message":"mock upstream error","type":"server_error","param":null,"code":null}})",
        .retry_after = std::nullopt});
  }
  if (contains(model, "429")) {
    co_return failed(core::AttemptError{
        .kind = core::FailureKind::kStatus,
        .status = 429,
        .retryable = true,
        .message = "upstream answered 429: mock rate limit exceeded",
        .body = R"({"error":{"message":"mock rate limit exceeded","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}})",
        .retry_after = std::chrono::seconds{1}});
  }
  const bool broken = contains(model, "broken");
  if (broken && !call.stream) {
    co_return failed(core::AttemptError{
        .kind = core::FailureKind::kConnect,
        .status = 0,
        .retryable = true,
        .message = "mock connection reset",
        .body = {},
        .retry_after = std::nullopt});
  }

  if (call.operation == core::Operation::kEmbeddings) co_return embeddings_reply(call.body, model);

  Script script = make_script(call.body);
  const std::string id = "chatcmpl-mock-" + std::to_string(completions_.fetch_add(1, std::memory_order_relaxed) + 1);
  const std::int64_t created =
      std::chrono::duration_cast<std::chrono::seconds>(clock_->wall_now().time_since_epoch()).count();

  if (call.stream) {
    co_return core::Reply::chunks(
        std::make_unique<MockChunkStream>(std::move(script), id, created, model, contains(model, "slow"), broken));
  }
  core::Reply reply = core::Reply::json(200, completion_body(script, id, created, model));
  reply.usage = script.usage;
  co_return std::move(reply);
}

}  // namespace tollgate::adapters
