// ${VAR}, ${VAR:-default} and $$ in config scalars.
#include <catch2/catch.hpp>

#include <map>

#include "config/loader.hpp"
#include "support/env.hpp"

using tollgate::config::ConfigError;
using tollgate::config::EnvLookup;
using tollgate::config::expand_env;

namespace {

using tollgate::testing::env_of;

std::string expand(std::string_view text, const EnvLookup& env) {
  return expand_env(text, env, "t.yaml", "a.b");
}

}  // namespace

TEST_CASE("expand_env substitutes set variables, in surrounding text too") {
  const EnvLookup env = env_of({{"HOST", "example.com"}, {"PORT", "8443"}, {"EMPTY", ""}});
  CHECK(expand("${HOST}", env) == "example.com");
  CHECK(expand("https://${HOST}:${PORT}/v1", env) == "https://example.com:8443/v1");
  CHECK(expand("plain text", env) == "plain text");
  CHECK(expand("${EMPTY}", env) == "");
  CHECK(expand("", env) == "");
}

TEST_CASE("expand_env defaults apply when unset or empty, and expand themselves") {
  const EnvLookup env = env_of({{"SET", "yes"}, {"EMPTY", ""}, {"B", "bee"}});
  CHECK(expand("${SET:-no}", env) == "yes");
  CHECK(expand("${UNSET:-fallback}", env) == "fallback");
  CHECK(expand("${EMPTY:-fallback}", env) == "fallback");
  CHECK(expand("${UNSET:-}", env) == "");
  CHECK(expand("${UNSET:-http://localhost:11434}/v1", env) == "http://localhost:11434/v1");
  CHECK(expand("${UNSET:-${B}}", env) == "bee");
  CHECK(expand("${UNSET:-${ALSO_UNSET:-deep}}", env) == "deep");
  CHECK(expand("${UNSET:-$$5}", env) == "$5");
}

TEST_CASE("expand_env: $$ is a literal dollar and a lone $ stays") {
  const EnvLookup env = env_of({{"X", "x"}});
  CHECK(expand("$$", env) == "$");
  CHECK(expand("price: $$5", env) == "price: $5");
  CHECK(expand("$${X}", env) == "${X}");
  CHECK(expand("$$$${X}", env) == "$${X}");
  CHECK(expand("$$${X}", env) == "$x");
  CHECK(expand("pa$word", env) == "pa$word");
  CHECK(expand("ends with $", env) == "ends with $");
}

TEST_CASE("expand_env does not expand the values it substitutes") {
  const EnvLookup env = env_of({{"SECRET", "a${B}c$$d"}, {"B", "bee"}});
  CHECK(expand("${SECRET}", env) == "a${B}c$$d");
}

TEST_CASE("expand_env: an unset variable without default is an error at the key path") {
  const EnvLookup env = env_of({});
  try {
    expand("x-${MISSING_VAR}-y", env);
    FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.file() == "t.yaml");
    CHECK(e.key_path() == "a.b");
    CHECK(std::string(e.what()) ==
          "t.yaml: a.b: environment variable MISSING_VAR is not set (write ${MISSING_VAR:-default} to give "
          "a default)");
  }
}

TEST_CASE("expand_env: unterminated and malformed references are errors") {
  const EnvLookup env = env_of({{"A", "a"}});
  for (const char* bad : {"${A", "x${", "${A:-${B}", "${}", "${1A}", "${A B}", "${A:default}", "${A-x}"}) {
    INFO(bad);
    try {
      expand(bad, env);
      FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
      CHECK(e.key_path() == "a.b");
    }
  }
  try {
    expand("abc${A", env);
    FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.problem() == "unterminated \"${\" at character 4 (write \"$$\" for a literal \"$\")");
  }
}
