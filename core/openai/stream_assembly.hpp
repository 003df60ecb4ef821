// Converting between a chat.completion body and the chat.completion.chunk payloads of a stream.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::core {

/// One chunk payload produced by split_completion: the JSON text after `data: `. A struct of its
/// own rather than core::Chunk so that core/openai does not depend on core/pipeline; `usage_only`
/// marks the final `"choices":[]` chunk that carries the body's `usage` (Chunk::usage_only).
struct SplitChunk {
  std::string data;
  bool usage_only = false;
};

/// The chat.completion body a non-stream request would have received, from a stream transcript:
/// `chunks` are the `data:` payloads in order, `[DONE]` excluded (CachedAnswer::chunks). Pure.
///
/// Output, in OpenAI's field order: id, object "chat.completion", created, model (from the first
/// chunk carrying each), choices sorted by index, usage (the last usage object reported, details
/// included; absent when none was), service_tier and system_fingerprint (when some chunk has them).
/// Each choice is {index, message, logprobs, finish_reason}:
/// - message: role (default "assistant"), content (the concatenated text; null when it is empty
///   and the message has tool calls, a function call or a refusal, or when no chunk sent any),
///   refusal (concatenated; present when some delta had the key), any other delta fields
///   (strings and arrays concatenated, objects merged, e.g. reasoning_content), tool_calls merged
///   by `index` ({id, type, function: {name, arguments}}: id, type and name taken whole,
///   arguments concatenated), function_call (legacy, merged the same way);
/// - logprobs: null, or the chunks' logprobs objects merged (content and refusal arrays
///   concatenated);
/// - finish_reason: the last non-null one, else null.
/// Unknown top-level chunk fields (obfuscation, a gateway's annotations) are ignored.
///
/// nullopt when a chunk is not a JSON object, carries an `error`, has `choices` that is not an
/// array or a choice that is not an object (or has a non-integer or negative index, or a delta
/// that is not an object), or when no chunk has any choice at all.
std::optional<std::string> assemble_completion(const std::vector<std::string>& chunks);

/// The chunk payloads a stream request would have received for a chat.completion `body`. Pure.
///
/// Every chunk has the body's id, `"object":"chat.completion.chunk"`, created, model, and
/// service_tier / system_fingerprint when the body has them, then `choices` with one entry
/// {index, delta, logprobs, finish_reason}. Per choice, in body order:
/// 1. a role chunk: delta {role, content: "" (null when the message's content is null),
///    refusal: null (only when the message has a `refusal` key)};
/// 2. the content in one chunk (when it is a non-empty string) carrying the choice's logprobs;
/// 3. the refusal in one chunk (when it is a non-empty string), carrying the logprobs when there
///    was no content chunk;
/// 4. one chunk per other message field (e.g. reasoning_content), one per tool call
///    ({index, id, type, function: {name, arguments}}), one for a legacy function_call;
/// 5. a finish chunk: delta {}, finish_reason.
/// Logprobs left unplaced by 2-3 go on the role chunk. Finally, when the body has a `usage`
/// object, a usage-only chunk (`"choices":[]`, usage) with usage_only = true.
/// assemble_completion of the result gives the body back (modulo whitespace), except that empty
/// content beside tool calls or a refusal comes back as null.
///
/// nullopt when `body` is not a JSON object, has an `error`, has an `object` other than
/// "chat.completion", or has no non-empty `choices` array of objects each with an object
/// `message` (and an integer index, when it has one).
std::optional<std::vector<SplitChunk>> split_completion(std::string_view body);

}  // namespace tollgate::core
