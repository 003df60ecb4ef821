// tollgate's command line: serve (the default), check-config, --version, and the admin API helpers (keys, virtual-keys).
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "config/loader.hpp"
#include "server/app.hpp"
#include "server/cli/admin_commands.hpp"
#include "server/logging.hpp"

namespace {

using namespace tollgate;

struct Options {
  std::string config_file;
  std::optional<std::string> host;
  std::optional<std::uint16_t> port;
  std::optional<std::string> data_dir;
  std::optional<std::string> log_level;
  std::optional<std::string> log_format;
};

/// The config file (flag, then TOLLGATE_CONFIG), or the embedded defaults; then the flags on top.
std::shared_ptr<const config::Config> resolve(const Options& options, bool* mock_only) {
  const auto env = config::process_env();
  std::string file = options.config_file;
  if (file.empty())
    if (auto from_env = env("TOLLGATE_CONFIG")) file = *from_env;
  auto cfg = std::make_shared<config::Config>(file.empty() ? config::embedded_defaults(env, mock_only)
                                                           : config::load_file(file, env));
  if (options.host) cfg->server.host = *options.host;
  if (options.port) cfg->server.port = *options.port;
  if (options.data_dir) cfg->storage.data_dir = *options.data_dir;
  if (options.log_level) cfg->logging.level = *options.log_level;
  if (options.log_format) cfg->logging.format = *options.log_format;
  return cfg;
}

int serve(const Options& options) {
  bool mock_only = false;
  auto cfg = resolve(options, &mock_only);
  server::setup_logging(cfg->logging.level, cfg->logging.format);
  spdlog::info("configuration: {}", cfg->source);
  if (mock_only)
    spdlog::warn(
        "no provider keys found: serving the built-in mock model `mock-1` (it echoes your last message). To use real "
        "providers set OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY or OLLAMA_BASE_URL, or pass --config FILE "
        "(see config/tollgate.example.yaml).");
  int code = 1;
  try {
    code = server::App(cfg).run();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
  }
  server::stop_logging();
  return code;
}

int check_config(const Options& options) {
  if (options.config_file.empty()) {
    std::cerr << "check-config: --config FILE is required\n";
    return 2;
  }
  auto cfg = config::load_file(options.config_file, config::process_env());
  std::cout << options.config_file << ": OK\n" << config::describe_models(cfg);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"tollgate: an OpenAI-compatible LLM gateway", "tollgate"};
  cli.set_version_flag("--version,-V", std::string("tollgate ") + TOLLGATE_VERSION);
  Options options;
  cli.add_option("--config,-c", options.config_file, "YAML config file (default: $TOLLGATE_CONFIG, else embedded defaults)");
  cli.add_option("--host", options.host, "Address to listen on (default 127.0.0.1)");
  cli.add_option("--port,-p", options.port, "Port to listen on; 0 picks a free one (default 8080)");
  cli.add_option("--data-dir", options.data_dir, "Data directory (default ./data)");
  cli.add_option("--log-level", options.log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  cli.add_option("--log-format", options.log_format, "text|json")->check(CLI::IsMember({"text", "json"}));
  cli.require_subcommand(0, 1);
  cli.fallthrough();
  auto* serve_cmd = cli.add_subcommand("serve", "Run the gateway (the default)");
  auto* check_cmd = cli.add_subcommand("check-config", "Validate a config file and print the resolved model table");
  serve_cmd->fallthrough();
  check_cmd->fallthrough();
  server::cli::AdminCommands admin(cli);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }

  try {
    if (check_cmd->parsed()) return check_config(options);
    if (admin.selected()) return admin.run(server::cli::process_io());
    return serve(options);
  } catch (const config::ConfigError& e) {
    std::cerr << "config error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
