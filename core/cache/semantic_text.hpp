// Semantic text: what of a chat request a semantic cache compares (text), and what must match exactly (params, guard).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tollgate::core {

/// The three parts of a chat request that semantic matching looks at. Two requests may share an
/// answer only when `params` and `guard` are equal and the embeddings of `text` are within the
/// configured threshold; the caller puts model, tenant, embedder name, params and guard into the
/// SemanticIndex partition.
struct SemanticRequest {
  /// The text of the last message (a user message): its string content, or its text parts joined
  /// by "\n". Raw, as the client sent it; each embedder normalises in its own way.
  std::string text;
  /// Lowercase hex SHA-256 (cache_key() with the fixed partition kSemanticParamsPartition) of the
  /// body with the last message's text taken out and everything else kept: every earlier message
  /// whole (system prompt, history, tool calls and results), the last message's role, name and
  /// non-text content parts, and every answer-changing top-level field (the ignored ones are those
  /// of cache_ignored_fields(), `model` among them: the caller partitions by resolved model).
  std::string params;
  /// Lowercase hex SHA-256 of semantic_guard_tokens(text): the numbers and the count of negations.
  std::string guard;

  bool operator==(const SemanticRequest&) const = default;
};

/// The partition string cache_key() is given for `params`, so that a params hash never equals an
/// exact-cache key of the same body.
inline constexpr std::string_view kSemanticParamsPartition = "tollgate.semantic.params.v1";

/// The semantic view of a validated chat request body (an object with a `messages` array), or
/// nullopt when it cannot be matched semantically: the last message is not a `user` message, or
/// it has no text with at least one word or number in it (only an image, only punctuation).
///
/// Only the last message is compared by meaning; the conversation before it must be identical.
/// With the whole conversation embedded, a long shared prefix (a system prompt, a RAG document,
/// a chat history) makes every pair of final questions look alike to a bag-of-n-grams embedder.
///
/// A string content and a content array of text parts with the same text give the same params.
/// Pure, thread-safe; never throws for any JSON value (beyond std::bad_alloc).
std::optional<SemanticRequest> semantic_request(const nlohmann::json& body);

/// The normalisation shared by the guard and LocalEmbedder: words separated by single spaces.
/// - ASCII letters are lower-cased; other bytes of UTF-8 text are kept, except typographic
///   quotes, dashes, ellipsis, guillemets, inverted marks and no-break/zero-width spaces, which
///   are treated like their ASCII counterparts.
/// - An apostrophe inside a word is dropped ("90's" -> "90s", "don't" -> "dont", then spelled
///   out as below); every other apostrophe, quote and . , ; : ! ? ( ) [ ] { } and whitespace
///   separates words.
/// - '.' and ',' between two digits stay ("3.5", "1,000"); '-' between two word characters
///   separates words ("middle-school" -> "middle school"), before a digit that does not follow a
///   word it is a sign ("-5"), elsewhere it is a symbol.
/// - Symbols that change meaning (+ * / = < > % $ # @ & | ^ ~ \ and that '-') become one-character
///   words, so "x+y" and "x + y" agree; '_' is part of a word (identifiers).
/// - English number words become digits ("five" -> "5", "hundred" -> "100") and ordinal words
///   become digit ordinals ("second" -> "2nd"), so "5" and "five" compare equal.
/// - English contractions are spelled out, with or without their apostrophe ("what's" and
///   "whats" -> "what is", "can't" and "cannot" -> "can not"), except those that are also words
///   ("its", "lets", "ill", "id", "were", "well").
std::string normalize_semantic_text(std::string_view text);

/// What the guard hashes, readable: every number in normalize_semantic_text(text), in order
/// (a run of digits, with '.' or ',' between digits and a leading '-' sign kept), then "|neg="
/// and how many negation words there are (not, no, never, none, nor, without, except, unless…,
/// n't forms as their spelled-out "not", and a few German/French/Spanish/Italian ones). For
/// "Give 3 tips, not five" it is "3 5|neg=1".
/// These are the tokens whose change flips an answer while barely moving an n-gram vector.
std::string semantic_guard_tokens(std::string_view text);

}  // namespace tollgate::core
