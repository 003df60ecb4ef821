// ${VAR} / ${VAR:-default} / $$ expansion of config scalars, and the process environment lookup.
#include <cctype>
#include <cstdlib>
#include <string>

#include "config/internal.hpp"
#include "config/loader.hpp"

namespace tollgate::config {
namespace {

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

/// Index of the '}' closing the "${" that starts at `open`, honouring nested "${…}" in defaults
/// and "$$" escapes; npos when unterminated.
std::size_t find_close(std::string_view text, std::size_t open) {
  int depth = 1;
  for (std::size_t i = open + 2; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && (text[i + 1] == '$' || text[i + 1] == '{')) {
      if (text[i + 1] == '{') ++depth;
      ++i;
    } else if (text[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const std::string key(name);
    if (const char* value = std::getenv(key.c_str())) return std::string(value);
    return std::nullopt;
  };
}

// Rules:
// - "${NAME}" is NAME's value; set-but-empty gives "", unset is a ConfigError at `key_path`.
// - "${NAME:-default}" is the default when NAME is unset or empty (as in the shell); the default
//   is itself expanded, so "${A:-${B:-x}}" and "$$" work inside it.
// - "$$" is a literal "$"; a "$" followed by anything else is kept as is ("pa$word" stays).
// - Expanded values are not expanded again, so a secret containing "${" or "$$" is taken literally.
// - Error messages name the variable, never a value (values may be secrets).
// The loader expands provider keys with a lookup that answers "" for unset variables, so there an
// unset ${VAR} yields an empty key, which the loader then drops.
std::string expand_env(std::string_view text, const EnvLookup& env, const std::string& file,
                       const std::string& key_path) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$' || i + 1 == text.size()) {
      out += c;
      ++i;
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (text[i + 1] != '{') {
      out += c;
      ++i;
      continue;
    }

    const std::size_t close = find_close(text, i);
    if (close == std::string_view::npos) {
      throw ConfigError(file, key_path,
                        "unterminated \"${\" at character " + std::to_string(i + 1) +
                            " (write \"$$\" for a literal \"$\")");
    }
    const std::string_view inner = text.substr(i + 2, close - i - 2);
    std::size_t name_length = 0;
    while (name_length < inner.size() && is_name_char(inner[name_length])) ++name_length;
    const std::string_view name = inner.substr(0, name_length);
    const std::string_view rest = inner.substr(name_length);
    if (name.empty() || !is_name_start(name.front()) || (!rest.empty() && !rest.starts_with(":-"))) {
      throw ConfigError(file, key_path,
                        "bad variable reference \"${" + std::string(name) +
                            (rest.empty() ? "" : "…") +
                            "}\" (expected ${NAME} or ${NAME:-default}, NAME of letters, digits "
                            "and _)");
    }

    const std::optional<std::string> value = env(name);
    if (value && !value->empty()) {
      out += *value;
    } else if (!rest.empty()) {
      out += expand_env(rest.substr(2), env, file, key_path);
    } else if (!value) {
      throw ConfigError(file, key_path,
                        "environment variable " + std::string(name) +
                            " is not set (write ${" + std::string(name) +
                            ":-default} to give a default)");
    }
    i = close + 1;
  }
  return out;
}

}  // namespace tollgate::config
