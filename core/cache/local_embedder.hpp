// LocalEmbedder: a model-free embedder (hashed character n-grams and word n-grams) for semantic matching.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/cache/embedder.hpp"

namespace tollgate::core {

/// The shape of LocalEmbedder's vectors. The default weights were tuned on
/// tests/unit/core/cache/paraphrases.tsv (see semantic_text_test.cpp, which reports precision and
/// recall); change them only together with that test.
struct LocalEmbedderOptions {
  std::size_t dimensions = 512;  // at least 1
  float word_weight = 0.5f;      // each word
  float bigram_weight = 1.0f;    // each pair of adjacent words (word order)
  float trigram_weight = 0.5f;   // each character 3-gram of a word, with begin/end marks (typos)
  float fourgram_weight = 1.0f;  // each character 4-gram of a word, with begin/end marks
  float stop_word_factor = 0.3f; // scales the features of function and filler words ("the", "please")

  bool operator==(const LocalEmbedderOptions&) const = default;
};

/// Embeds text with no model and no I/O, in a few microseconds: normalize_semantic_text(), then
/// signed feature hashing of every word, every pair of adjacent words and the character 3- and
/// 4-grams of every word into `dimensions` floats, then L2 normalisation. It sees surface form,
/// not meaning: it catches case, spacing, punctuation, typos, filler words, reordered clauses and
/// the odd changed word, and it cannot tell a synonym from an antonym or a changed entity, so it
/// needs a high threshold and the guard of semantic_request(). Deterministic across runs and
/// builds (FNV-1a hashing). Immutable after construction: thread-safe.
class LocalEmbedder final : public Embedder {
 public:
  explicit LocalEmbedder(LocalEmbedderOptions options = {});

  /// embed_now(text), never an error.
  boost::asio::awaitable<Result<std::vector<float>>> embed(std::string text) override;
  /// "local-ngram-v1-<dimensions>", with "-custom" appended when the weights are not the defaults.
  std::string_view name() const override { return name_; }
  std::size_t dimensions() const override { return options_.dimensions; }

  /// The vector of `text`, synchronously: dimensions() floats of L2 norm 1, or all zeros when
  /// the normalised text is empty.
  std::vector<float> embed_now(std::string_view text) const;

 private:
  LocalEmbedderOptions options_;
  std::string name_;
};

}  // namespace tollgate::core
