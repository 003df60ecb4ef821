// LocalEmbedder: signed feature hashing of words, word pairs and character 3/4-grams into a unit vector.
#include "core/cache/local_embedder.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "core/cache/semantic_text.hpp"

namespace tollgate::core {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

constexpr std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = kFnvOffset;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

// FNV-1a's high bits mix poorly for keys of 3 or 4 bytes; this finaliser (from MurmurHash3's
// fmix64) spreads every input bit over the bits that pick the slot and the sign.
constexpr std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// Distinct seeds per feature kind, so a word and a character n-gram with the same bytes never
// land on the same slot by construction.
constexpr std::uint64_t kWordSeed = 0x1f83d9abfb41bd6bull;
constexpr std::uint64_t kBigramSeed = 0x5be0cd19137e2179ull;
constexpr std::uint64_t kGramSeed = 0x6a09e667f3bcc908ull;

// Function and filler words after normalisation: shared by most prompts, so they say little
// about which question is asked, and paraphrases add or drop them freely. Question words, number
// words and negations are not here: they change the question.
constexpr auto kStopWords = std::to_array<std::string_view>({
    "a",      "about", "also",   "am",    "an",    "and",   "any",    "are",    "as",     "at",     "be",
    "been",   "by",    "can",    "could", "did",   "do",    "does",   "for",    "from",   "give",   "hello",
    "help",   "here",  "hey",    "hi",    "i",     "if",    "in",     "into",   "is",     "it",     "its",
    "just",   "kindly", "let",   "like",  "me",    "my",    "need",   "of",     "on",     "or",     "our",
    "please", "show",  "so",     "some",  "tell",  "thank", "thanks", "that",   "the",    "them",   "there",
    "these",  "they",  "this",   "those", "to",    "us",    "using",  "via",    "want",   "was",    "we",
    "were",   "will",  "with",   "would", "you",   "your",
});

// The stop words' hashes in an open-addressing table (at most a third full): one probe or two
// per word instead of a binary search. 0 marks an empty slot (no stop word hashes to 0).
constexpr std::size_t kStopSlots = 256;
constexpr auto kStopTable = [] {
  std::array<std::uint64_t, kStopSlots> table{};
  for (const auto word : kStopWords) {
    const std::uint64_t h = fnv1a(word);
    std::size_t i = h % kStopSlots;
    while (table[i] != 0) i = (i + 1) % kStopSlots;
    table[i] = h;
  }
  return table;
}();
static_assert(3 * kStopWords.size() <= kStopSlots);

bool is_stop_word(std::uint64_t word_hash) {
  for (std::size_t i = word_hash % kStopSlots; kStopTable[i] != 0; i = (i + 1) % kStopSlots)
    if (kStopTable[i] == word_hash) return true;
  return false;
}

class Accumulator {
 public:
  explicit Accumulator(std::vector<float>& out) : out_(out), size_(out.size()) {}

  void add(std::uint64_t key, float weight) {
    const std::uint64_t h = mix(key);
    // Lemire's multiply-shift maps the high 32 bits onto [0, size) without a division.
    const auto slot = static_cast<std::size_t>(((h >> 32) * size_) >> 32);
    out_[slot] += (h & 1) ? -weight : weight;
  }

 private:
  std::vector<float>& out_;
  const std::uint64_t size_;
};

/// Adds the character n-grams (n = 3 or 4) of `word` with a begin mark (0x02) and an end mark
/// (0x03), so prefixes and suffixes count as their own features. An n-gram's key is its bytes
/// packed into an integer with n: exact, and one mix() per feature.
void add_grams(Accumulator& acc, std::string_view word, std::uint64_t n, float weight) {
  const std::size_t padded = word.size() + 2;
  if (padded < n) return;
  const auto byte_at = [&](std::size_t p) -> std::uint64_t {
    if (p == 0) return 0x02;
    if (p == padded - 1) return 0x03;
    return static_cast<unsigned char>(word[p - 1]);
  };
  const std::uint64_t mask = (std::uint64_t{1} << (8 * n)) - 1;
  std::uint64_t window = 0;
  for (std::size_t p = 0; p < padded; ++p) {
    window = ((window << 8) | byte_at(p)) & mask;
    if (p + 1 >= n) acc.add(window ^ (n << 40) ^ kGramSeed, weight);
  }
}

}  // namespace

LocalEmbedder::LocalEmbedder(LocalEmbedderOptions options) : options_(options) {
  if (options_.dimensions == 0) options_.dimensions = 1;
  name_ = "local-ngram-v1-" + std::to_string(options_.dimensions);
  LocalEmbedderOptions defaults;
  defaults.dimensions = options_.dimensions;
  if (!(options_ == defaults)) name_ += "-custom";
}

boost::asio::awaitable<Result<std::vector<float>>> LocalEmbedder::embed(std::string text) {
  co_return embed_now(text);
}

std::vector<float> LocalEmbedder::embed_now(std::string_view text) const {
  std::vector<float> out(options_.dimensions, 0.0f);
  const std::string normal = normalize_semantic_text(text);
  if (normal.empty()) return out;

  Accumulator acc(out);
  const std::string_view all(normal);
  std::uint64_t previous_hash = 0;
  float previous_factor = 0.0f;
  bool has_previous = false;
  std::size_t start = 0;
  while (start < all.size()) {
    std::size_t end = all.find(' ', start);
    if (end == std::string_view::npos) end = all.size();
    const std::string_view word = all.substr(start, end - start);
    start = end + 1;

    const std::uint64_t word_hash = fnv1a(word);
    const float factor = is_stop_word(word_hash) ? options_.stop_word_factor : 1.0f;
    acc.add(word_hash ^ kWordSeed, options_.word_weight * factor);
    if (has_previous) {
      // Ordered: "string to integer" and "integer to string" differ only here.
      acc.add((previous_hash * kFnvPrime + word_hash) ^ kBigramSeed,
              options_.bigram_weight * 0.5f * (previous_factor + factor));
    }
    add_grams(acc, word, 3, options_.trigram_weight * factor);
    add_grams(acc, word, 4, options_.fourgram_weight * factor);
    previous_hash = word_hash;
    previous_factor = factor;
    has_previous = true;
  }

  // Eight independent sums: one running sum would make each add wait for the previous one.
  std::array<float, 8> partial{};
  std::size_t i = 0;
  for (; i + partial.size() <= out.size(); i += partial.size())
    for (std::size_t k = 0; k < partial.size(); ++k) partial[k] += out[i + k] * out[i + k];
  for (; i < out.size(); ++i) partial[0] += out[i] * out[i];
  double norm = 0.0;
  for (float p : partial) norm += p;
  if (norm == 0.0) return out;
  const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& v : out) v *= scale;
  return out;
}

}  // namespace tollgate::core
