// Operator subcommands that drive a running tollgate's admin API: `keys …` and `virtual-keys …`.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/loader.hpp"
#include "server/cli/admin_client.hpp"

namespace CLI {
class App;
}

namespace tollgate::server::cli {

/// Sends one request to the server described by `options`; the real one is an AdminClient.
using Transport = std::function<AdminResult(const AdminClient::Options& options, const AdminRequest& request)>;

/// Everything a command touches outside its arguments, injected so tests need neither a
/// terminal, the process environment nor a server.
struct CommandIo {
  config::EnvLookup env;   // TOLLGATE_URL, TOLLGATE_MASTER_KEY
  std::istream& in;        // key material for `keys add`
  bool in_is_tty = false;  // prompt on `err` with echo off instead of reading a piped line
  std::ostream& out;       // results
  std::ostream& err;       // errors, warnings, prompts
  Transport transport;
};

/// The process's own environment, stdin/stdout/stderr and a real AdminClient.
CommandIo process_io();

/// The URL used when neither --url nor TOLLGATE_URL is given.
inline constexpr std::string_view kDefaultUrl = "http://127.0.0.1:8080";

/// Registers `keys {add,list,rm}` and `virtual-keys {create,list,revoke}` on the CLI and holds
/// the options they parse into. Argument errors (bad numbers, a budget without a period, an
/// --expires-at that is not RFC 3339, --metadata that is not a JSON object…) surface as
/// CLI::ParseError from `app.parse`, before anything is read or sent.
class AdminCommands {
 public:
  explicit AdminCommands(CLI::App& app);
  ~AdminCommands();
  AdminCommands(const AdminCommands&) = delete;
  AdminCommands& operator=(const AdminCommands&) = delete;

  /// True when the parsed command line chose one of these subcommands.
  bool selected() const;

  /// Runs the chosen subcommand after `app.parse`. Returns the process exit code: 0 when the
  /// server answered 2xx; 1 on an error answer ("error: <error.message>" on `err`) or when it
  /// could not be reached; 2 on a bad URL or missing key material (nothing is sent then).
  /// Never writes the master key or key material anywhere.
  int run(const CommandIo& io) const;

  struct Args;

 private:
  std::unique_ptr<Args> args_;  // CLI11 binds to its members: their addresses must not move
};

// Output helpers, public for tests.

/// Left-aligned columns two spaces apart, widths counted in UTF-8 code points, no trailing
/// blanks. Control characters in cells are shown as '?', so a hostile name cannot drive the terminal.
std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

/// The table for `keys list` / `virtual-keys list` from the answer's `data` array.
std::string format_upstream_keys(const nlohmann::json& list);
std::string format_virtual_keys(const nlohmann::json& list);

/// The text after "error: " for a non-2xx answer: the OpenAI-shaped error.message, else the
/// status and the start of the body.
std::string error_message(const AdminResponse& response);

/// Percent-encodes everything but RFC 3986 unreserved characters (for a path segment or query value).
std::string percent_encode(std::string_view text);

}  // namespace tollgate::server::cli
