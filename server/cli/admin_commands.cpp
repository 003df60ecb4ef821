// The `keys` and `virtual-keys` subcommands: CLI11 options → one admin API call → a table, JSON or an error line.
#include "server/cli/admin_commands.hpp"

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <optional>
#include <regex>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <termios.h>
#include <unistd.h>

namespace tollgate::server::cli {

using nlohmann::json;

struct AdminCommands::Args {
  // Every leaf
  std::string url;
  bool json = false;
  // keys add (rpm/tpm shared with virtual-keys create)
  std::string provider;
  std::optional<std::string> metadata;
  std::optional<std::int64_t> rpm;
  std::optional<std::int64_t> tpm;
  std::optional<double> weight;
  // keys list
  std::optional<std::string> provider_filter;
  // keys rm, virtual-keys revoke
  std::string id;
  // virtual-keys create
  std::string name;
  std::vector<std::string> models;
  std::optional<std::string> team, project, customer, expires_at;
  std::optional<double> budget_usd;
  std::optional<std::string> budget_period, budget_enforcement;

  CLI::App* keys_add = nullptr;
  CLI::App* keys_list = nullptr;
  CLI::App* keys_rm = nullptr;
  CLI::App* vk_create = nullptr;
  CLI::App* vk_list = nullptr;
  CLI::App* vk_revoke = nullptr;
};

namespace {

constexpr const char* kFooter =
    "The admin credential is read from $TOLLGATE_MASTER_KEY (never from a flag); the server from --url, "
    "else $TOLLGATE_URL, else http://127.0.0.1:8080.";

bool is_rfc3339(const std::string& text) {
  static const std::regex kPattern(
      R"(^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$)");
  std::smatch m;
  if (!std::regex_match(text, m, kPattern)) return false;
  auto num = [&](int i) { return std::stoi(m[i].str()); };
  const bool offset_ok = !m[9].matched || (num(9) <= 23 && num(10) <= 59);
  // 60 seconds: a leap second is valid RFC 3339.
  return num(2) >= 1 && num(2) <= 12 && num(3) >= 1 && num(3) <= 31 && num(4) <= 23 && num(5) <= 59 &&
         num(6) <= 60 && offset_ok;
}

const CLI::Validator kRfc3339(
    [](std::string& value) -> std::string {
      return is_rfc3339(value) ? std::string() : "must be an RFC 3339 time like 2026-12-31T23:59:59Z";
    },
    "RFC3339", "RFC3339");

const CLI::Validator kJsonObject(
    [](std::string& value) -> std::string {
      const auto parsed = json::parse(value, nullptr, false);
      return !parsed.is_discarded() && parsed.is_object() ? std::string() : "must be a JSON object, e.g. '{\"team\":\"ml\"}'";
    },
    "JSON", "JSON object");

const CLI::Validator kNotBlank(
    [](std::string& value) -> std::string {
      return value.find_first_not_of(" \t") == std::string::npos ? "must not be empty" : std::string();
    },
    "", "not blank");

void add_common(CLI::App& cmd, AdminCommands::Args& a) {
  cmd.add_option("--url", a.url, "tollgate's base URL (default: $TOLLGATE_URL, else http://127.0.0.1:8080)");
  cmd.add_flag("--json", a.json, "Print the server's JSON answer as it is");
  cmd.footer(kFooter);
}

std::optional<std::string> non_empty_env(const config::EnvLookup& env, std::string_view name) {
  auto value = env ? env(name) : std::nullopt;
  if (value && value->empty()) return std::nullopt;
  return value;
}

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

/// Shows control characters (C0, DEL, and C1 in UTF-8) as '?'.
std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out.push_back('?');
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      // U+0080..U+009F: some terminals take U+009B as CSI.
      out.push_back('?');
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

std::string dump(const json& value, int indent = -1) {
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

/// A table cell from one field: "-" for null or absent.
std::string cell(const json& object, const char* field) {
  if (!object.is_object()) return "-";
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    std::string out;
    for (const auto& item : *it) {
      if (!out.empty()) out += ",";
      out += item.is_string() ? item.get<std::string>() : dump(item);
    }
    return out;
  }
  return dump(*it);
}

std::string state_cell(const json& object) {
  std::string state = cell(object, "state");
  const std::string reason = cell(object, "state_reason");
  if (reason != "-") state += " (" + reason + ")";
  return state;
}

std::string models_cell(const json& object) {
  if (!object.is_object() || !object.contains("models") || object["models"].is_null()) return "all";
  const std::string models = cell(object, "models");
  return models.empty() ? "none" : models;
}

std::string budget_cell(const json& object) {
  if (!object.is_object() || !object.contains("budget") || !object["budget"].is_object()) return "-";
  const json& budget = object["budget"];
  std::string out = "$" + cell(budget, "limit_usd") + "/" + cell(budget, "period");
  const std::string enforcement = cell(budget, "enforcement");
  if (enforcement != "-" && enforcement != "hard") out += " (" + enforcement + ")";
  return out;
}

const json& data_of(const json& list) {
  static const json kEmpty = json::array();
  if (!list.is_object()) return kEmpty;
  const auto it = list.find("data");
  return it != list.end() && it->is_array() ? *it : kEmpty;
}

// ---------------------------------------------------------------------------------------------
// Key material from stdin

// The terminal settings to put back if a signal ends the process while echo is off; a signal
// handler can reach nothing but a global.
termios g_saved_termios{};

void restore_terminal_and_reraise(int sig) {
  ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

/// Turns terminal echo off on stdin for its lifetime, and back on even when Ctrl-C ends the process.
class EchoOff {
 public:
  EchoOff() {
    if (::tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) return;
    struct sigaction action {};
    action.sa_handler = restore_terminal_and_reraise;
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < std::size(kSignals); ++i) {
      ::sigaction(kSignals[i], nullptr, &previous_[i]);
      // An ignored signal (nohup, a shell's trap '') stays ignored.
      if (previous_[i].sa_handler != SIG_IGN) ::sigaction(kSignals[i], &action, nullptr);
    }
    termios quiet = g_saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
    for (std::size_t i = 0; i < std::size(kSignals); ++i) ::sigaction(kSignals[i], &previous_[i], nullptr);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;
  bool active() const { return active_; }

 private:
  static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  struct sigaction previous_[std::size(kSignals)] {};
  bool active_ = false;
};

/// One line of key material: typed at a prompt with echo off on a terminal, else the first piped line.
std::string read_key_material(const CommandIo& io, const std::string& provider) {
  std::string line;
  if (io.in_is_tty) {
    io.err << "Key material for provider '" << sanitize(provider) << "' (input hidden): " << std::flush;
    {
      EchoOff echo_off;
      std::getline(io.in, line);
    }
    io.err << "\n";
  } else {
    std::getline(io.in, line);
  }
  return trim(std::move(line));
}

// ---------------------------------------------------------------------------------------------
// Requests

json key_add_body(const AdminCommands::Args& a, std::string material) {
  json body = {{"key_material", std::move(material)}, {"provider_id", a.provider}};
  if (a.metadata) body["metadata"] = json::parse(*a.metadata, nullptr, false);
  if (a.rpm) body["rpm"] = *a.rpm;
  if (a.tpm) body["tpm"] = *a.tpm;
  if (a.weight) {
    const double w = *a.weight;
    // A whole weight goes out as an integer, which a strict integer field accepts.
    if (w == static_cast<double>(static_cast<std::int64_t>(w))) {
      body["weight"] = static_cast<std::int64_t>(w);
    } else {
      body["weight"] = w;
    }
  }
  return body;
}

json virtual_key_body(const AdminCommands::Args& a) {
  json body = {{"name", trim(a.name)}};
  if (!a.models.empty()) {
    json models = json::array();
    for (const auto& m : a.models)
      if (auto name = trim(m); !name.empty()) models.push_back(std::move(name));
    body["models"] = std::move(models);
  }
  if (a.rpm) body["rpm"] = *a.rpm;
  if (a.tpm) body["tpm"] = *a.tpm;
  if (a.budget_usd) {
    json budget = {{"limit_usd", *a.budget_usd}, {"period", a.budget_period.value_or("monthly")}};
    if (a.budget_enforcement) budget["enforcement"] = *a.budget_enforcement;
    body["budget"] = std::move(budget);
  }
  json metadata = json::object();
  if (a.team) metadata["team"] = *a.team;
  if (a.project) metadata["project"] = *a.project;
  if (a.customer) metadata["customer"] = *a.customer;
  if (!metadata.empty()) body["metadata"] = std::move(metadata);
  if (a.expires_at) body["expires_at"] = *a.expires_at;
  return body;
}

std::string transport_failure(const TransportError& e, const std::string& url) {
  switch (e.kind) {
    case TransportError::Kind::kTimeout:
      return "tollgate at " + url + " did not answer in time (" + e.message + ")";
    case TransportError::Kind::kProtocol:
      return "tollgate at " + url + " answered something that is not HTTP (" + e.message + "); is that tollgate's port?";
    case TransportError::Kind::kUnreachable:
      break;
  }
  return "cannot reach tollgate at " + url + " (" + e.message + "); is it running?";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

AdminCommands::AdminCommands(CLI::App& app) : args_(std::make_unique<Args>()) {
  Args& a = *args_;

  auto* keys = app.add_subcommand("keys", "Manage upstream provider keys on a running tollgate");
  keys->require_subcommand(1);

  a.keys_add = keys->add_subcommand(
      "add", "Register an upstream key; the key material is read from stdin (one line), never from the command line");
  a.keys_add->add_option("--provider", a.provider, "Provider id from the config (e.g. openai)")
      ->required()
      ->check(kNotBlank);
  a.keys_add->add_option("--metadata", a.metadata, "Free-form JSON object stored with the key")->check(kJsonObject);
  a.keys_add->add_option("--rpm", a.rpm, "Requests per minute this key may take")->check(CLI::PositiveNumber);
  a.keys_add->add_option("--tpm", a.tpm, "Tokens per minute this key may take")->check(CLI::PositiveNumber);
  a.keys_add->add_option("--weight", a.weight, "Share of traffic relative to the provider's other keys")
      ->check(CLI::PositiveNumber);
  add_common(*a.keys_add, a);

  a.keys_list = keys->add_subcommand("list", "List upstream keys (fingerprints only, never the material)");
  a.keys_list->add_option("--provider", a.provider_filter, "Only this provider's keys");
  add_common(*a.keys_list, a);

  a.keys_rm = keys->add_subcommand("rm", "Delete an upstream key added through the API");
  a.keys_rm->add_option("id", a.id, "The key's id (see `keys list`)")->required()->check(kNotBlank);
  add_common(*a.keys_rm, a);

  auto* vkeys = app.add_subcommand("virtual-keys", "Manage the virtual keys callers use on a running tollgate");
  vkeys->require_subcommand(1);

  a.vk_create = vkeys->add_subcommand("create", "Issue a virtual key; its secret is printed once");
  a.vk_create->add_option("--name", a.name, "A name for people")->required()->check(kNotBlank);
  a.vk_create->add_option("--models", a.models, "Comma-separated model names it may use (default: all)")
      ->delimiter(',');
  a.vk_create->add_option("--rpm", a.rpm, "Requests per minute")->check(CLI::PositiveNumber);
  a.vk_create->add_option("--tpm", a.tpm, "Tokens per minute")->check(CLI::PositiveNumber);
  a.vk_create->add_option("--team", a.team, "Team, for cost attribution");
  a.vk_create->add_option("--project", a.project, "Project, for cost attribution");
  a.vk_create->add_option("--customer", a.customer, "Customer, for cost attribution");
  a.vk_create->add_option("--expires-at", a.expires_at, "Expiry, RFC 3339 (e.g. 2026-12-31T23:59:59Z)")->check(kRfc3339);
  auto* budget_usd =
      a.vk_create->add_option("--budget-usd", a.budget_usd, "Spend limit in USD per budget period")->check(CLI::PositiveNumber);
  auto* budget_period = a.vk_create->add_option("--budget-period", a.budget_period, "daily|weekly|monthly|total")
                            ->check(CLI::IsMember({"daily", "weekly", "monthly", "total"}));
  auto* budget_enforcement =
      a.vk_create->add_option("--budget-enforcement", a.budget_enforcement, "hard (default)|soft|alert")
          ->check(CLI::IsMember({"hard", "soft", "alert"}));
  budget_usd->needs(budget_period);
  budget_period->needs(budget_usd);
  budget_enforcement->needs(budget_usd);
  add_common(*a.vk_create, a);

  a.vk_list = vkeys->add_subcommand("list", "List virtual keys (hints only, never the secret)");
  add_common(*a.vk_list, a);

  a.vk_revoke = vkeys->add_subcommand("revoke", "Revoke a virtual key at once");
  a.vk_revoke->add_option("id", a.id, "The virtual key's id (see `virtual-keys list`)")->required()->check(kNotBlank);
  add_common(*a.vk_revoke, a);
}

AdminCommands::~AdminCommands() = default;

bool AdminCommands::selected() const {
  const Args& a = *args_;
  for (const CLI::App* cmd : {a.keys_add, a.keys_list, a.keys_rm, a.vk_create, a.vk_list, a.vk_revoke})
    if (cmd->parsed()) return true;
  return false;
}

int AdminCommands::run(const CommandIo& io) const {
  const Args& a = *args_;

  const std::optional<std::string> env_url = non_empty_env(io.env, "TOLLGATE_URL");
  const std::string url_text = !a.url.empty() ? a.url : env_url.value_or(std::string(kDefaultUrl));
  auto base = check_base_url(url_text);
  if (!base) {
    io.err << "error: bad tollgate URL in " << (!a.url.empty() ? "--url" : "TOLLGATE_URL") << ": " << base.error()
           << "\n";
    return 2;
  }
  AdminClient::Options options;
  options.base = *base;
  options.master_key = non_empty_env(io.env, "TOLLGATE_MASTER_KEY");
  if (options.master_key && !base->loopback && !base->tls)
    io.err << "warning: sending the master key unencrypted to " << base->text << "; prefer https off this machine\n";

  AdminRequest request;
  if (a.keys_add->parsed()) {
    std::string material = read_key_material(io, a.provider);
    if (material.empty()) {
      io.err << "error: no key material on stdin; pipe it in, e.g. `printenv OPENAI_API_KEY | tollgate keys add "
                "--provider openai`\n";
      return 2;
    }
    request = {"POST", "/api/v1/keys", dump(key_add_body(a, std::move(material)))};
  } else if (a.keys_list->parsed()) {
    request = {"GET", "/api/v1/keys", ""};
    if (a.provider_filter) request.path += "?provider_id=" + percent_encode(*a.provider_filter);
  } else if (a.keys_rm->parsed()) {
    request = {"DELETE", "/api/v1/keys/" + percent_encode(a.id), ""};
  } else if (a.vk_create->parsed()) {
    request = {"POST", "/api/v1/virtual-keys", dump(virtual_key_body(a))};
  } else if (a.vk_list->parsed()) {
    request = {"GET", "/api/v1/virtual-keys", ""};
  } else {
    request = {"DELETE", "/api/v1/virtual-keys/" + percent_encode(a.id), ""};
  }

  const AdminResult result = io.transport(options, request);
  if (!result) {
    io.err << "error: " << sanitize(transport_failure(result.error(), base->text)) << "\n";
    return 1;
  }
  const AdminResponse& response = *result;
  if (response.status < 200 || response.status > 299) {
    const std::string message = error_message(response);
    io.err << "error: " << message << "\n";
    if (response.status == 401 && !options.master_key && message.find("TOLLGATE_MASTER_KEY") == std::string::npos)
      io.err << "hint: TOLLGATE_MASTER_KEY is not set\n";
    return 1;
  }
  if (a.json) {
    io.out << response.body;
    if (response.body.empty() || response.body.back() != '\n') io.out << "\n";
    return 0;
  }
  const json answer = json::parse(response.body, nullptr, false);
  if (answer.is_discarded()) {
    io.err << "error: tollgate at " << base->text << " answered HTTP " << response.status << " with a body that is not JSON\n";
    return 1;
  }

  if (a.keys_list->parsed()) {
    io.out << format_upstream_keys(answer);
  } else if (a.vk_list->parsed()) {
    io.out << format_virtual_keys(answer);
  } else if (a.keys_rm->parsed()) {
    io.out << "deleted upstream key " << sanitize(a.id) << "\n";
  } else if (a.vk_revoke->parsed()) {
    io.out << "revoked virtual key " << sanitize(a.id);
    if (const std::string name = cell(answer, "name"); name != "-") io.out << " (" << sanitize(name) << ")";
    io.out << "\n";
  } else if (a.vk_create->parsed() && answer.is_object() && answer.contains("key") && answer["key"].is_string()) {
    json shown = answer;
    shown.erase("key");
    io.out << dump(shown, 2) << "\n\n"
           << "key: " << sanitize(answer["key"].get<std::string>()) << "\n\n"
           << "This key is shown only once: store it now (tollgate keeps only a hash of it).\n";
  } else {
    io.out << dump(answer, 2) << "\n";
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------

CommandIo process_io() {
  return CommandIo{config::process_env(),
                   std::cin,
                   ::isatty(STDIN_FILENO) == 1,
                   std::cout,
                   std::cerr,
                   [](const AdminClient::Options& options, const AdminRequest& request) {
                     return AdminClient(options).send(request);
                   }};
}

std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> lines;
  lines.reserve(rows.size() + 1);
  lines.push_back(header);
  for (const auto& row : rows) lines.push_back(row);
  std::vector<std::size_t> widths(header.size(), 0);
  for (auto& line : lines) {
    line.resize(header.size());
    for (std::size_t i = 0; i < line.size(); ++i) {
      line[i] = sanitize(line[i]);
      widths[i] = std::max(widths[i], display_width(line[i]));
    }
  }
  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (i > 0) text += "  ";
      text += line[i];
      if (i + 1 < line.size()) text.append(widths[i] - display_width(line[i]), ' ');
    }
    // Empty trailing cells would otherwise leave blanks at the end of the line.
    text.erase(text.find_last_not_of(' ') + 1);
    out += text;
    out += '\n';
  }
  return out;
}

std::string format_upstream_keys(const json& list) {
  const json& data = data_of(list);
  if (data.empty()) return "no upstream keys\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& key : data) {
    rows.push_back({cell(key, "id"), cell(key, "provider_id"), cell(key, "fingerprint"), state_cell(key),
                    cell(key, "source"), cell(key, "rpm"), cell(key, "tpm"), cell(key, "weight"),
                    cell(key, "created_at")});
  }
  return format_table({"ID", "PROVIDER", "FINGERPRINT", "STATE", "SOURCE", "RPM", "TPM", "WEIGHT", "CREATED"}, rows);
}

std::string format_virtual_keys(const json& list) {
  const json& data = data_of(list);
  if (data.empty()) return "no virtual keys\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& key : data) {
    rows.push_back({cell(key, "id"), cell(key, "name"), cell(key, "key_hint"), cell(key, "state"), models_cell(key),
                    cell(key, "rpm"), cell(key, "tpm"), budget_cell(key), cell(key, "expires_at"),
                    cell(key, "created_at")});
  }
  return format_table({"ID", "NAME", "KEY", "STATE", "MODELS", "RPM", "TPM", "BUDGET", "EXPIRES", "CREATED"}, rows);
}

std::string error_message(const AdminResponse& response) {
  const json body = json::parse(response.body, nullptr, false);
  if (!body.is_discarded() && body.is_object()) {
    const auto error = body.find("error");
    if (error != body.end() && error->is_object()) {
      const auto message = error->find("message");
      if (message != error->end() && message->is_string() && !message->get<std::string>().empty())
        return sanitize(message->get<std::string>());
    }
  }
  std::string out = "tollgate answered HTTP " + std::to_string(response.status);
  std::string start = trim(response.body.substr(0, response.body.find('\n')));
  if (start.size() > 200) {
    std::size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(start[cut]) & 0xc0) == 0x80) --cut;
    start = start.substr(0, cut) + "…";
  }
  if (!start.empty()) out += ": " + sanitize(start);
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace tollgate::server::cli
