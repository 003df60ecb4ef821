// Stream assembly: a chunk transcript into a chat.completion, and a chat.completion into chunks.
#include "core/openai/stream_assembly.hpp"

#include <cstdint>
#include <limits>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

namespace tollgate::core {
namespace {

// Ordered, because clients and tests see the field order OpenAI uses, and fields copied through
// (usage, logprobs entries, tool call arguments objects) keep the order the upstream gave them.
using Json = nlohmann::ordered_json;

std::string dump(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

bool is_empty_string(const Json& value) { return value.is_string() && value.get_ref<const std::string&>().empty(); }
bool is_text(const Json& value) { return value.is_string() && !value.get_ref<const std::string&>().empty(); }

const Json* find(const Json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

/// `object`'s integer `index`, `fallback` when it has none; nullopt when it is not a non-negative
/// integer.
std::optional<std::int64_t> index_of(const Json& object, std::int64_t fallback) {
  const Json* index = find(object, "index");
  if (index == nullptr || index->is_null()) return fallback;
  if (index->is_number_unsigned()) {
    const auto value = index->get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(value);
  }
  if (!index->is_number_integer()) return std::nullopt;
  const auto value = index->get<std::int64_t>();
  if (value < 0) return std::nullopt;
  return value;
}

// Names (a role, a call's id, type or function name) arrive whole, and some OpenAI-compatible
// servers repeat them on every chunk: appending would double them.
bool is_whole_field(const std::string& key) {
  return key == "role" || key == "id" || key == "type" || key == "name" || key == "index";
}

/// Merges one delta fragment into what was accumulated, as OpenAI's SDKs do: strings and arrays
/// are appended, objects merged, a null never overwrites, names are replaced.
void accumulate(Json& acc, const Json& delta) {
  for (auto it = delta.begin(); it != delta.end(); ++it) {
    const Json& value = it.value();
    auto found = acc.find(it.key());
    if (found == acc.end()) {
      acc[it.key()] = value;
      continue;
    }
    Json& current = *found;
    if (value.is_null()) continue;
    if (current.is_null()) {
      current = value;
    } else if (is_whole_field(it.key())) {
      if (!is_empty_string(value)) current = value;
    } else if (current.is_string() && value.is_string()) {
      current.get_ref<std::string&>() += value.get_ref<const std::string&>();
    } else if (current.is_object() && value.is_object()) {
      accumulate(current, value);
    } else if (current.is_array() && value.is_array()) {
      current.insert(current.end(), value.begin(), value.end());
    } else {
      current = value;
    }
  }
}

/// What the deltas of one choice add up to.
struct ChoiceState {
  Json message = Json::object();           // merged deltas, tool_calls excepted, in first-seen order
  std::map<std::int64_t, Json> tool_calls;  // merged by the calls' index
  Json logprobs;                           // null until a chunk carries a logprobs object
  Json finish_reason;                      // the last non-null one
};

/// Folds one chunk's choice in; false when it is malformed.
bool add_choice(std::map<std::int64_t, ChoiceState>& choices, const Json& choice) {
  if (!choice.is_object()) return false;
  const auto index = index_of(choice, 0);
  if (!index) return false;
  ChoiceState& state = choices[*index];
  if (const Json* delta = find(choice, "delta"); delta != nullptr && !delta->is_null()) {
    if (!delta->is_object()) return false;
    Json rest = Json::object();
    for (auto it = delta->begin(); it != delta->end(); ++it) {
      if (it.key() != "tool_calls") {
        rest[it.key()] = it.value();
        continue;
      }
      if (it->is_null()) continue;
      if (!it->is_array()) return false;
      std::int64_t position = 0;
      for (const Json& call : *it) {
        if (!call.is_object()) return false;
        const auto call_index = index_of(call, position++);
        if (!call_index) return false;
        accumulate(state.tool_calls.try_emplace(*call_index, Json::object()).first->second, call);
      }
    }
    accumulate(state.message, rest);
  }
  if (const Json* logprobs = find(choice, "logprobs"); logprobs != nullptr && logprobs->is_object()) {
    if (state.logprobs.is_null()) state.logprobs = *logprobs;
    else accumulate(state.logprobs, *logprobs);
  }
  if (const Json* finish = find(choice, "finish_reason"); finish != nullptr && !finish->is_null()) {
    state.finish_reason = *finish;
  }
  return true;
}

Json build_call(const Json& acc) {
  Json call = Json::object();
  if (const Json* id = find(acc, "id")) call["id"] = *id;
  const Json* type = find(acc, "type");
  call["type"] = type != nullptr && type->is_string() ? *type : Json("function");
  const Json* function = find(acc, "function");
  if (function != nullptr || call["type"] == "function") {
    Json out = Json::object();
    const Json empty = Json::object();
    const Json& in = function != nullptr && function->is_object() ? *function : empty;
    const Json* name = find(in, "name");
    out["name"] = name != nullptr && !name->is_null() ? *name : Json("");
    const Json* arguments = find(in, "arguments");
    out["arguments"] = arguments != nullptr && !arguments->is_null() ? *arguments : Json("");
    for (auto it = in.begin(); it != in.end(); ++it) {
      if (it.key() != "name" && it.key() != "arguments") out[it.key()] = it.value();
    }
    call["function"] = std::move(out);
  }
  for (auto it = acc.begin(); it != acc.end(); ++it) {
    if (it.key() != "index" && it.key() != "id" && it.key() != "type" && it.key() != "function") {
      call[it.key()] = it.value();
    }
  }
  return call;
}

Json build_message(const ChoiceState& state) {
  const Json& acc = state.message;
  Json message = Json::object();
  const Json* role = find(acc, "role");
  message["role"] = role != nullptr && is_text(*role) ? *role : Json("assistant");

  const Json* function_call = find(acc, "function_call");
  const bool has_function_call = function_call != nullptr && !function_call->is_null();
  const Json* refusal = find(acc, "refusal");
  // OpenAI's non-stream answers say null, not "", for the text of a message that only calls tools
  // or refuses; the role chunk of such a stream often carries "" all the same.
  const bool has_other_answer = !state.tool_calls.empty() || has_function_call || (refusal != nullptr && is_text(*refusal));
  const Json* content = find(acc, "content");
  if (content == nullptr || content->is_null() || (is_empty_string(*content) && has_other_answer)) {
    message["content"] = nullptr;
  } else {
    message["content"] = *content;
  }
  if (refusal != nullptr) message["refusal"] = *refusal;
  for (auto it = acc.begin(); it != acc.end(); ++it) {
    const std::string& key = it.key();
    if (key != "role" && key != "content" && key != "refusal" && key != "function_call") message[key] = it.value();
  }
  if (!state.tool_calls.empty()) {
    Json calls = Json::array();
    for (const auto& [index, call] : state.tool_calls) calls.push_back(build_call(call));
    message["tool_calls"] = std::move(calls);
  }
  if (has_function_call) message["function_call"] = *function_call;
  return message;
}

/// Copies `key` from `chunk` into `header` unless `header` already has a non-null value for it.
void take(Json& header, const Json& chunk, const char* key) {
  const Json* value = find(chunk, key);
  if (value == nullptr) return;
  const Json* held = find(header, key);
  if (held == nullptr || held->is_null()) header[key] = *value;
}

Json choice_chunk(const Json& head, std::int64_t index, Json delta, const Json& logprobs, const Json& finish_reason) {
  Json chunk = head;
  Json choice = Json::object();
  choice["index"] = index;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = logprobs;
  choice["finish_reason"] = finish_reason;
  chunk["choices"] = Json::array({std::move(choice)});
  return chunk;
}

}  // namespace

std::optional<std::string> assemble_completion(const std::vector<std::string>& chunks) {
  Json header = Json::object();
  Json usage;
  std::map<std::int64_t, ChoiceState> choices;
  for (const std::string& text : chunks) {
    const Json chunk = Json::parse(text, nullptr, false);
    if (chunk.is_discarded() || !chunk.is_object() || chunk.contains("error")) return std::nullopt;
    for (const char* key : {"id", "created", "model", "service_tier", "system_fingerprint"}) take(header, chunk, key);
    if (const Json* found = find(chunk, "usage"); found != nullptr && found->is_object()) usage = *found;
    const Json* list = find(chunk, "choices");
    if (list == nullptr || list->is_null()) continue;
    if (!list->is_array()) return std::nullopt;
    for (const Json& choice : *list) {
      if (!add_choice(choices, choice)) return std::nullopt;
    }
  }
  if (choices.empty()) return std::nullopt;

  Json out = Json::object();
  if (const Json* id = find(header, "id")) out["id"] = *id;
  out["object"] = "chat.completion";
  if (const Json* created = find(header, "created")) out["created"] = *created;
  if (const Json* model = find(header, "model")) out["model"] = *model;
  Json list = Json::array();
  for (const auto& [index, state] : choices) {
    Json choice = Json::object();
    choice["index"] = index;
    choice["message"] = build_message(state);
    choice["logprobs"] = state.logprobs;
    choice["finish_reason"] = state.finish_reason;
    list.push_back(std::move(choice));
  }
  out["choices"] = std::move(list);
  if (!usage.is_null()) out["usage"] = std::move(usage);
  if (const Json* tier = find(header, "service_tier")) out["service_tier"] = *tier;
  if (const Json* fingerprint = find(header, "system_fingerprint")) out["system_fingerprint"] = *fingerprint;
  return dump(out);
}

std::optional<std::vector<SplitChunk>> split_completion(std::string_view body) {
  const Json doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.contains("error")) return std::nullopt;
  if (const Json* object = find(doc, "object"); object != nullptr && *object != "chat.completion") return std::nullopt;
  const Json* choices = find(doc, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty()) return std::nullopt;

  Json head = Json::object();
  if (const Json* id = find(doc, "id")) head["id"] = *id;
  head["object"] = "chat.completion.chunk";
  for (const char* key : {"created", "model", "service_tier", "system_fingerprint"}) {
    if (const Json* value = find(doc, key)) head[key] = *value;
  }

  std::vector<SplitChunk> out;
  const Json null;
  std::int64_t position = 0;
  for (const Json& choice : *choices) {
    if (!choice.is_object()) return std::nullopt;
    const auto index = index_of(choice, position++);
    if (!index) return std::nullopt;
    const Json* message = find(choice, "message");
    if (message == nullptr || !message->is_object()) return std::nullopt;
    const Json* tool_calls = find(*message, "tool_calls");
    if (tool_calls != nullptr && !tool_calls->is_null() && !tool_calls->is_array()) return std::nullopt;
    const Json* found_logprobs = find(choice, "logprobs");
    Json logprobs = found_logprobs != nullptr ? *found_logprobs : Json();
    const Json* finish = find(choice, "finish_reason");

    const Json* role = find(*message, "role");
    const Json* content = find(*message, "content");
    const Json* refusal = find(*message, "refusal");
    const bool content_chunk = content != nullptr && !content->is_null() && !is_empty_string(*content);
    const bool refusal_chunk = refusal != nullptr && is_text(*refusal);

    Json delta = Json::object();
    delta["role"] = role != nullptr && is_text(*role) ? *role : Json("assistant");
    delta["content"] = content == nullptr || content->is_null() ? Json() : Json("");
    if (refusal != nullptr) delta["refusal"] = nullptr;
    const bool logprobs_on_role = !content_chunk && !refusal_chunk;
    out.push_back({dump(choice_chunk(head, *index, std::move(delta), logprobs_on_role ? logprobs : null, null)), false});

    if (content_chunk) {
      out.push_back({dump(choice_chunk(head, *index, Json{{"content", *content}}, logprobs, null)), false});
    }
    if (refusal_chunk) {
      out.push_back({dump(choice_chunk(head, *index, Json{{"refusal", *refusal}}, content_chunk ? null : logprobs, null)),
                     false});
    }
    for (auto it = message->begin(); it != message->end(); ++it) {
      const std::string& key = it.key();
      if (key == "role" || key == "content" || key == "refusal" || key == "tool_calls" || key == "function_call") continue;
      Json field = Json::object();
      field[key] = it.value();
      out.push_back({dump(choice_chunk(head, *index, std::move(field), null, null)), false});
    }
    if (tool_calls != nullptr && tool_calls->is_array()) {
      std::int64_t call_index = 0;
      for (const Json& call : *tool_calls) {
        if (!call.is_object()) return std::nullopt;
        Json entry = Json::object();
        entry["index"] = call_index++;
        for (auto it = call.begin(); it != call.end(); ++it) {
          if (it.key() != "index") entry[it.key()] = it.value();
        }
        Json calls = Json::array({std::move(entry)});
        out.push_back({dump(choice_chunk(head, *index, Json{{"tool_calls", std::move(calls)}}, null, null)), false});
      }
    }
    if (const Json* function_call = find(*message, "function_call"); function_call != nullptr && !function_call->is_null()) {
      out.push_back({dump(choice_chunk(head, *index, Json{{"function_call", *function_call}}, null, null)), false});
    }
    out.push_back({dump(choice_chunk(head, *index, Json::object(), null, finish != nullptr ? *finish : null)), false});
  }

  if (const Json* usage = find(doc, "usage"); usage != nullptr && usage->is_object()) {
    Json chunk = head;
    chunk["choices"] = Json::array();
    chunk["usage"] = *usage;
    out.push_back({dump(chunk), true});
  }
  return out;
}

}  // namespace tollgate::core
