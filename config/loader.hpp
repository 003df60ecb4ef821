// Loading configuration: YAML files, ${VAR} expansion, units, validation, embedded defaults.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/config_error.hpp"

namespace tollgate::config {

/// Looks up an environment variable; injected so tests need not touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The real process environment.
EnvLookup process_env();

/// Parses and validates a YAML file. Throws ConfigError naming the file, the key path
/// (e.g. "models[1].deployments[0].provider") and what is wrong. Unknown keys are errors.
Config load_file(const std::string& path, const EnvLookup& env);

/// Same as load_file for YAML text; `source` names it in errors.
Config load_string(std::string_view yaml, const std::string& source, const EnvLookup& env);

/// The configuration used with no config file: a provider and a model per upstream key found in
/// OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY / OLLAMA_BASE_URL; with none, the built-in
/// `mock` provider serving `mock-1`. `uses_mock_only` tells the caller to print the how-to warning.
Config embedded_defaults(const EnvLookup& env, bool* uses_mock_only = nullptr);

/// Expands ${VAR} and ${VAR:-default} in one scalar; an unset ${VAR} without default is an error
/// reported at `key_path`. "$$" stands for a literal "$".
std::string expand_env(std::string_view text, const EnvLookup& env, const std::string& file,
                       const std::string& key_path);

/// "200ms", "30s", "5m", "1h", "1d" (a bare number means seconds). Throws std::invalid_argument.
std::chrono::milliseconds parse_duration(std::string_view text);

/// "512", "64KiB", "8MiB", "1GiB", "10KB", "10MB" (KB/MB are powers of 1000). Throws std::invalid_argument.
std::uint64_t parse_size(std::string_view text);

/// The resolved model table, one line per deployment, as `check-config` prints it (no secrets).
std::string describe_models(const Config& config);

}  // namespace tollgate::config
