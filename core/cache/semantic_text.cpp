// Semantic text: the last user message's text, the rest of the request hashed exactly, and the number/negation guard.
#include "core/cache/semantic_text.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/cache/cache_key.hpp"
#include "core/security/tokens.hpp"

namespace tollgate::core {
namespace {

using nlohmann::json;

// Bumped whenever normalisation or the guard's token list changes, so guards never compare
// across builds that read numbers or negations differently.
constexpr std::string_view kGuardVersion = "tollgate.semantic.guard.v1\n";

struct Replacement {
  std::string_view word;
  std::string_view with;
};

// English number and ordinal words, so that "five tips" and "5 tips" compare equal (and the
// guard sees the same number). Larger compounds ("twenty five") stay two numbers: a miss, never
// a wrong hit.
constexpr std::array kNumberWords{
    Replacement{"zero", "0"},       Replacement{"one", "1"},         Replacement{"two", "2"},
    Replacement{"three", "3"},      Replacement{"four", "4"},        Replacement{"five", "5"},
    Replacement{"six", "6"},        Replacement{"seven", "7"},       Replacement{"eight", "8"},
    Replacement{"nine", "9"},       Replacement{"ten", "10"},        Replacement{"eleven", "11"},
    Replacement{"twelve", "12"},    Replacement{"thirteen", "13"},   Replacement{"fourteen", "14"},
    Replacement{"fifteen", "15"},   Replacement{"sixteen", "16"},    Replacement{"seventeen", "17"},
    Replacement{"eighteen", "18"},  Replacement{"nineteen", "19"},   Replacement{"twenty", "20"},
    Replacement{"thirty", "30"},    Replacement{"forty", "40"},      Replacement{"fifty", "50"},
    Replacement{"sixty", "60"},     Replacement{"seventy", "70"},    Replacement{"eighty", "80"},
    Replacement{"ninety", "90"},    Replacement{"hundred", "100"},   Replacement{"thousand", "1000"},
    Replacement{"million", "1000000"}, Replacement{"billion", "1000000000"},
    Replacement{"first", "1st"},    Replacement{"second", "2nd"},    Replacement{"third", "3rd"},
    Replacement{"fourth", "4th"},   Replacement{"fifth", "5th"},     Replacement{"sixth", "6th"},
    Replacement{"seventh", "7th"},  Replacement{"eighth", "8th"},    Replacement{"ninth", "9th"},
    Replacement{"tenth", "10th"},
};

// Contractions, written with or without the apostrophe (normalisation drops it), spelled out so
// that "what's", "whats" and "what is" or "can't" and "cannot" compare equal. Only forms that
// are not also another word: "its", "lets", "ill", "id", "were" and "well" stay as they are.
constexpr std::array kContractions{
    Replacement{"whats", "what is"},      Replacement{"thats", "that is"},     Replacement{"theres", "there is"},
    Replacement{"heres", "here is"},      Replacement{"whos", "who is"},       Replacement{"wheres", "where is"},
    Replacement{"hows", "how is"},        Replacement{"whys", "why is"},       Replacement{"im", "i am"},
    Replacement{"youre", "you are"},      Replacement{"theyre", "they are"},   Replacement{"ive", "i have"},
    Replacement{"youve", "you have"},     Replacement{"weve", "we have"},      Replacement{"theyve", "they have"},
    Replacement{"youll", "you will"},     Replacement{"theyll", "they will"},  Replacement{"dont", "do not"},
    Replacement{"doesnt", "does not"},    Replacement{"didnt", "did not"},     Replacement{"isnt", "is not"},
    Replacement{"arent", "are not"},      Replacement{"wasnt", "was not"},     Replacement{"werent", "were not"},
    Replacement{"cant", "can not"},       Replacement{"cannot", "can not"},    Replacement{"couldnt", "could not"},
    Replacement{"wouldnt", "would not"},  Replacement{"shouldnt", "should not"}, Replacement{"wont", "will not"},
    Replacement{"hasnt", "has not"},      Replacement{"havent", "have not"},   Replacement{"hadnt", "had not"},
    Replacement{"mustnt", "must not"},    Replacement{"neednt", "need not"},   Replacement{"aint", "is not"},
    Replacement{"mightnt", "might not"},  Replacement{"shant", "shall not"},
};

// Negation words after normalisation (contractions are spelled out by then, so "don't" is
// "do not"). A few German, French, Spanish and Italian ones too; "sin" is left out because it is
// also the sine function.
constexpr auto kNegations = std::to_array<std::string_view>({
    "aucun", "aucune", "except", "excluding", "jamais", "kein",    "keine",   "keinen", "keiner",  "nada",
    "nein",  "neither", "nessuno", "never",  "nicht",  "nie",     "niemals", "ninguna", "ninguno", "no",
    "nobody", "non",   "none",    "nor",     "not",    "nothing", "nowhere", "nunca",  "ohne",    "pas",
    "sans",  "senza",  "unless",  "without",
});

constexpr bool is_digit(unsigned c) { return c >= '0' && c <= '9'; }
constexpr bool is_ascii_letter(unsigned c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

constexpr bool is_symbol(unsigned c) {
  switch (c) {
    case '+': case '*': case '/': case '=': case '<': case '>': case '%': case '$':
    case '#': case '@': case '&': case '|': case '^': case '~': case '\\':
      return true;
    default:
      return false;
  }
}

enum class Kind { kWord, kApostrophe, kSeparator, kSymbol, kDecimalMark, kDash };

struct Piece {
  Kind kind;
  std::size_t length;  // bytes of input this piece covers
};

constexpr auto kAsciiKinds = [] {
  std::array<Kind, 128> kinds{};
  for (unsigned c = 0; c < 128; ++c) {
    if (is_ascii_letter(c) || is_digit(c) || c == '_')
      kinds[c] = Kind::kWord;
    else if (c == '\'' || c == '`')
      kinds[c] = Kind::kApostrophe;
    else if (c == '.' || c == ',')
      kinds[c] = Kind::kDecimalMark;
    else if (c == '-')
      kinds[c] = Kind::kDash;
    else if (is_symbol(c))
      kinds[c] = Kind::kSymbol;
    else
      kinds[c] = Kind::kSeparator;
  }
  return kinds;
}();

/// What the bytes at `i` are to the normaliser.
Piece classify(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {kAsciiKinds[c], 1};
  const auto next = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  if (c == 0xC2) {
    // U+00A0 no-break space, U+00A1 ¡, U+00AB «, U+00BB », U+00BF ¿
    const unsigned b = next(1);
    if (b == 0xA0 || b == 0xA1 || b == 0xAB || b == 0xBB || b == 0xBF) return {Kind::kSeparator, 2};
  } else if (c == 0xE2 && next(1) == 0x80) {
    const unsigned b = next(2);
    if (b == 0x98 || b == 0x99) return {Kind::kApostrophe, 3};  // ‘ ’
    // U+2000..U+200B spaces, U+2013 –, U+2014 —, U+201C “, U+201D ”, U+2026 …, U+202F narrow no-break
    // space, U+2039 ‹, U+203A ›
    if ((b >= 0x80 && b <= 0x8B) || b == 0x93 || b == 0x94 || b == 0x9C || b == 0x9D || b == 0xA6 || b == 0xAF ||
        b == 0xB9 || b == 0xBA)
      return {Kind::kSeparator, 3};
  } else if (c == 0xE3 && next(1) == 0x80 && next(2) == 0x80) {
    return {Kind::kSeparator, 3};  // U+3000 ideographic space
  }
  return {Kind::kWord, 1};
}

constexpr std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

struct ReplacementSlot {
  std::uint64_t hash = 0;
  Replacement replacement;
};

// Every word of kNumberWords and kContractions in an open-addressing table (at most a third
// full), so normalisation looks each word up with one hash instead of comparing ~80 strings:
// the embedder runs this on every request.
constexpr std::size_t kReplacementSlots = 256;
constexpr auto kReplacementTable = [] {
  std::array<ReplacementSlot, kReplacementSlots> table{};
  const auto insert = [&](const Replacement& r) {
    const std::uint64_t h = fnv1a(r.word);
    std::size_t i = h % kReplacementSlots;
    while (!table[i].replacement.word.empty()) i = (i + 1) % kReplacementSlots;
    table[i] = ReplacementSlot{h, r};
  };
  for (const auto& r : kNumberWords) insert(r);
  for (const auto& r : kContractions) insert(r);
  return table;
}();
static_assert(3 * (kNumberWords.size() + kContractions.size()) <= kReplacementSlots);

/// What normalisation writes instead of `word`, or an empty view to keep it.
std::string_view replacement(std::string_view word) {
  if (word.size() < 2 || word.size() > 9 || !is_ascii_letter(static_cast<unsigned char>(word[0]))) return {};
  const std::uint64_t h = fnv1a(word);
  for (std::size_t i = h % kReplacementSlots; !kReplacementTable[i].replacement.word.empty();
       i = (i + 1) % kReplacementSlots) {
    const auto& slot = kReplacementTable[i];
    if (slot.hash == h && slot.replacement.word == word) return slot.replacement.with;
  }
  return {};
}

class Normaliser {
 public:
  explicit Normaliser(std::string& out) : out_(out) {}

  void run(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
      const Piece piece = classify(s, i);
      const std::size_t next = i + piece.length;
      const auto next_is_word = [&] { return next < s.size() && classify(s, next).kind == Kind::kWord; };
      const auto next_is_digit = [&] { return next < s.size() && is_digit(static_cast<unsigned char>(s[next])); };
      switch (piece.kind) {
        case Kind::kWord: {
          const auto c = static_cast<unsigned char>(s[i]);
          word_char(is_ascii_letter(c) ? static_cast<char>(c | 0x20) : static_cast<char>(c));
          break;
        }
        case Kind::kApostrophe:
          // Inside a word ("don't") it is dropped and the word goes on.
          if (!(in_word_ && next_is_word())) end_word();
          break;
        case Kind::kDecimalMark:
          if (in_word_ && is_digit(static_cast<unsigned char>(out_.back())) && next_is_digit())
            out_ += s[i];
          else
            end_word();
          break;
        case Kind::kDash:
          if (in_word_ && next_is_word()) {
            end_word();
          } else if (!in_word_ && next_is_digit()) {
            word_char('-');
          } else {
            symbol('-');
          }
          break;
        case Kind::kSymbol:
          symbol(s[i]);
          break;
        case Kind::kSeparator:
          end_word();
          break;
      }
      i += piece.length;
    }
    end_word();
  }

 private:
  void word_char(char c) {
    if (!in_word_) {
      if (!out_.empty()) out_ += ' ';
      word_start_ = out_.size();
      in_word_ = true;
    }
    out_ += c;
  }

  void symbol(char c) {
    end_word();
    word_char(c);
    end_word();
  }

  void end_word() {
    if (!in_word_) return;
    in_word_ = false;
    const auto spelled = replacement(std::string_view(out_).substr(word_start_));
    if (!spelled.empty()) out_.replace(word_start_, std::string::npos, spelled);
  }

  std::string& out_;
  std::size_t word_start_ = 0;
  bool in_word_ = false;
};

bool is_user_message(const json& message) {
  if (!message.is_object()) return false;
  const auto role = message.find("role");
  return role != message.end() && role->is_string() && role->get_ref<const std::string&>() == "user";
}

/// Takes the text out of `message` (a user message, in the caller's copy of the body) and
/// returns it; nullopt when its content is neither a string nor an array.
std::optional<std::string> take_text(json& message) {
  const auto content = message.find("content");
  if (content == message.end()) return std::nullopt;
  if (content->is_string()) {
    std::string text = std::move(content->get_ref<std::string&>());
    // The skeleton of a content array with one text part: both forms mean the same.
    *content = json::array({json{{"type", "text"}}});
    return text;
  }
  if (!content->is_array()) return std::nullopt;
  std::string text;
  bool first = true;
  for (auto& part : *content) {
    if (!part.is_object()) continue;
    const auto type = part.find("type");
    const auto part_text = part.find("text");
    if (type == part.end() || *type != "text" || part_text == part.end() || !part_text->is_string()) continue;
    if (!first) text += '\n';
    first = false;
    text += part_text->get_ref<const std::string&>();
    part.erase(part_text);
  }
  return text;
}

std::string guard_of_normal(std::string_view normal) {
  std::string numbers;
  int negations = 0;
  std::size_t start = 0;
  while (start < normal.size()) {
    std::size_t end = normal.find(' ', start);
    if (end == std::string_view::npos) end = normal.size();
    const std::string_view word = normal.substr(start, end - start);
    if (std::find(kNegations.begin(), kNegations.end(), word) != kNegations.end()) ++negations;
    for (std::size_t i = 0; i < word.size();) {
      if (!is_digit(static_cast<unsigned char>(word[i]))) {
        ++i;
        continue;
      }
      // Normalisation keeps '.' and ',' only between digits, and '-' only as a sign that starts
      // a word, so a number is a digit run with those inside and that sign before it.
      const std::size_t from = (i == 1 && word[0] == '-') ? 0 : i;
      while (i < word.size() && (is_digit(static_cast<unsigned char>(word[i])) || word[i] == '.' || word[i] == ','))
        ++i;
      if (!numbers.empty()) numbers += ' ';
      numbers += word.substr(from, i - from);
    }
    start = end + 1;
  }
  return numbers + "|neg=" + std::to_string(negations);
}

}  // namespace

std::string normalize_semantic_text(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 8);
  Normaliser(out).run(text);
  return out;
}

std::string semantic_guard_tokens(std::string_view text) { return guard_of_normal(normalize_semantic_text(text)); }

std::optional<SemanticRequest> semantic_request(const json& body) {
  if (!body.is_object()) return std::nullopt;
  const auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array() || messages->empty()) return std::nullopt;
  if (!is_user_message(messages->back())) return std::nullopt;

  json skeleton = body;
  auto text = take_text(skeleton["messages"].back());
  if (!text) return std::nullopt;
  const std::string normal = normalize_semantic_text(*text);
  // No word and no number: nothing a meaning could be read from (only an image, or "?!").
  if (normal.empty()) return std::nullopt;

  SemanticRequest out;
  out.text = std::move(*text);
  out.params = cache_key(skeleton, "", kSemanticParamsPartition);
  std::string guard_input(kGuardVersion);
  guard_input += guard_of_normal(normal);
  out.guard = sha256_hex(guard_input);
  return out;
}

}  // namespace tollgate::core
