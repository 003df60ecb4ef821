// Cache key: canonical serialization of a chat request (sorted keys, canonical numbers) hashed with SHA-256.
#include "core/cache/cache_key.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/security/tokens.hpp"

namespace tollgate::core {
namespace {

using nlohmann::json;

// Bumped whenever the serialization below changes, so keys written by an older build never match.
constexpr std::string_view kKeyVersion = "tollgate.cache_key.v1\n";
constexpr std::string_view kHexDigits = "0123456789abcdef";

constexpr std::array kIgnoredFields{
    IgnoredField{"model",
                 "replaced by the resolved model name, which the key takes separately (two aliases of one model "
                 "share answers)"},
    IgnoredField{"stream",
                 "a stream and a buffered response carry the same answer; the cache stores one and replays it in "
                 "the form asked for"},
    IgnoredField{"stream_options",
                 "shapes the stream only (a usage chunk, obfuscation padding); tollgate asks upstream for usage "
                 "itself and strips it when the caller did not ask"},
    IgnoredField{"user",
                 "an end-user id for OpenAI's abuse monitoring and prompt-cache bucketing (superseded by "
                 "safety_identifier and prompt_cache_key); the model never sees it. Tenants are separated by the "
                 "partition, not by this field"},
    IgnoredField{"safety_identifier", "an end-user id for OpenAI's abuse monitoring only; the model never sees it"},
    IgnoredField{"prompt_cache_key",
                 "a routing hint for the upstream's prompt-prefix cache: changes cached_tokens, cost and latency, "
                 "not the text"},
    IgnoredField{"prompt_cache_retention", "how long the upstream keeps its prompt-prefix cache; not the text"},
    IgnoredField{"metadata",
                 "key-value tags for stored completions and dashboards; the model never sees them"},
    IgnoredField{"store",
                 "whether the upstream keeps the completion for evals/distillation: a side effect, not the answer"},
    IgnoredField{"service_tier",
                 "the processing tier (default, flex, priority) changes latency, price and rate limits of the same "
                 "model, not the answer"},
};

class Canonical {
 public:
  explicit Canonical(std::string& out) : out_(out) {}

  /// Writes `root`; when `drop_ignored`, its top-level members named in kIgnoredFields are left
  /// out. Iterative, with its own stack: a parsed body may nest millions of levels deep, which
  /// would overflow the thread's stack if this recursed.
  void value(const json& root, bool drop_ignored) {
    struct Frame {
      const json* container;
      json::const_iterator next;
      bool drop_ignored;
      bool first = true;
    };
    std::vector<Frame> stack;
    const auto enter = [&](const json& v, bool drop) {
      if (v.is_object() || v.is_array()) {
        out_ += v.is_object() ? '{' : '[';
        stack.push_back(Frame{&v, v.cbegin(), drop});
      } else {
        scalar(v);
      }
    };
    enter(root, drop_ignored);
    while (!stack.empty()) {
      Frame& frame = stack.back();
      if (frame.next == frame.container->cend()) {
        out_ += frame.container->is_object() ? '}' : ']';
        stack.pop_back();
        continue;
      }
      const auto it = frame.next++;
      const bool is_object = frame.container->is_object();
      if (is_object && frame.drop_ignored && is_cache_ignored_field(it.key())) continue;
      if (!frame.first) out_ += ',';
      frame.first = false;
      if (is_object) {
        string(it.key());
        out_ += ':';
      }
      // May grow the stack, so `frame` is not used after this.
      enter(it.value(), false);
    }
  }

  void string(std::string_view s) {
    out_ += '"';
    // Runs of bytes that need no escape are appended whole: a prompt is mostly such a run.
    std::size_t run = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto byte = static_cast<unsigned char>(s[i]);
      if (byte >= 0x20 && byte != '"' && byte != '\\') continue;
      out_.append(s.data() + run, i - run);
      run = i + 1;
      switch (byte) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          out_ += "\\u00";
          out_ += kHexDigits[byte >> 4];
          out_ += kHexDigits[byte & 0x0F];
      }
    }
    // Bytes above 0x7F are copied unchanged: valid UTF-8 stays as is, and invalid bytes still map
    // one-to-one instead of failing as nlohmann's strict dump() would.
    out_.append(s.data() + run, s.size() - run);
    out_ += '"';
  }

 private:
  void scalar(const json& v) {
    switch (v.type()) {
      case json::value_t::string: string(v.get_ref<const json::string_t&>()); break;
      case json::value_t::boolean: out_ += v.get<bool>() ? "true" : "false"; break;
      case json::value_t::number_integer: integer(v.get<std::int64_t>()); break;
      case json::value_t::number_unsigned: integer(v.get<std::uint64_t>()); break;
      case json::value_t::number_float: number(v.get<double>()); break;
      case json::value_t::null: out_ += "null"; break;
      case json::value_t::binary: binary(v.get_binary()); break;
      case json::value_t::discarded: out_ += "discarded"; break;
      case json::value_t::object:
      case json::value_t::array: break;  // value() handles containers
    }
  }

  template <typename Integer>
  void integer(Integer n) {
    std::array<char, 24> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), n);
    out_.append(buffer.data(), result.ptr);
  }

  void number(double d) {
    // 2^63 and 2^64 are exact doubles; every integral double below them converts exactly.
    constexpr double kTwo63 = 9223372036854775808.0;
    constexpr double kTwo64 = 18446744073709551616.0;
    if (std::isfinite(d) && std::trunc(d) == d) {
      if (d >= -kTwo63 && d < kTwo63) return integer(static_cast<std::int64_t>(d));
      if (d >= 0 && d < kTwo64) return integer(static_cast<std::uint64_t>(d));
    }
    // Shortest text that reads back as the same double: one spelling per value. nan and inf
    // cannot come from parsed JSON but are written distinctly rather than as null.
    std::array<char, 32> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), d);
    out_.append(buffer.data(), result.ptr);
  }

  void binary(const json::binary_t& bytes) {
    out_ += "b";
    if (bytes.has_subtype()) integer(static_cast<std::uint64_t>(bytes.subtype()));
    out_ += '"';
    for (std::uint8_t byte : bytes) {
      out_ += kHexDigits[byte >> 4];
      out_ += kHexDigits[byte & 0x0F];
    }
    out_ += '"';
  }

  std::string& out_;
};

}  // namespace

std::span<const IgnoredField> cache_ignored_fields() noexcept { return kIgnoredFields; }

bool is_cache_ignored_field(std::string_view name) noexcept {
  for (const auto& field : kIgnoredFields)
    if (field.name == name) return true;
  return false;
}

std::string cache_key(const json& body, std::string_view resolved_model, std::string_view partition) {
  std::string text;
  text.reserve(kKeyVersion.size() + partition.size() + resolved_model.size() + 1024);
  text += kKeyVersion;
  // The members in sorted order, like every other object in the serialization.
  Canonical canonical(text);
  text += "{\"body\":";
  canonical.value(body, true);
  text += ",\"model\":";
  canonical.string(resolved_model);
  text += ",\"partition\":";
  canonical.string(partition);
  text += '}';
  return sha256_hex(text);
}

std::string cache_partition(const Caller& caller, std::string_view scope) {
  if (scope == "global") return "global";
  const auto& key = caller.key;
  if (scope == "team" && key && !key->team.empty()) return "team:" + key->team;
  return "key:" + std::string(caller.id());
}

}  // namespace tollgate::core
