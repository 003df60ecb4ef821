// The keys / virtual-keys CLI: argument checks, the requests it sends, tables, errors — against a scripted server.
#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "server/cli/admin_client.hpp"
#include "server/cli/admin_commands.hpp"
#include "support/env.hpp"

using namespace tollgate::server::cli;
using nlohmann::json;

namespace {

/// A CLI with the admin subcommands, a scripted server and captured output.
struct Harness {
  CLI::App app{"test", "tollgate"};
  AdminCommands commands{app};
  std::map<std::string, std::string> env{{"TOLLGATE_MASTER_KEY", "mk-secret"}};
  std::istringstream in;
  std::ostringstream out, err;
  std::vector<AdminRequest> sent;
  std::vector<AdminClient::Options> sent_options;
  AdminResult answer = AdminResponse{200, "{}"};

  Harness() { app.require_subcommand(0, 1); }

  /// Parses argv (without the program name) and runs; returns the exit code.
  int run(std::vector<std::string> args, std::string stdin_text = "") {
    std::vector<const char*> argv{"tollgate"};
    for (const auto& a : args) argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
    REQUIRE(commands.selected());
    in.str(std::move(stdin_text));
    CommandIo io{tollgate::testing::env_of(env), in, false, out, err,
                 [this](const AdminClient::Options& options, const AdminRequest& request) {
                   sent.push_back(request);
                   sent_options.push_back(options);
                   return answer;
                 }};
    return commands.run(io);
  }

  void parse_only(std::vector<std::string> args) {
    std::vector<const char*> argv{"tollgate"};
    for (const auto& a : args) argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
  }
};

const char* kKeysList = R"({"data":[
  {"id":"key_01","object":"upstream_key","provider_id":"openai","fingerprint":"sk-…a1b2","state":"active",
   "state_reason":null,"metadata":{},"rpm":500,"tpm":null,"weight":1,"source":"api",
   "created_at":"2026-11-22T06:00:00Z","updated_at":"2026-11-22T06:00:00Z"},
  {"id":"key_0002","object":"upstream_key","provider_id":"anthropic","fingerprint":"sk-ant-…ffff","state":"disabled",
   "state_reason":"401 from upstream","metadata":null,"rpm":null,"tpm":null,"weight":null,"source":"config",
   "created_at":"2026-11-21T00:00:00Z","updated_at":"2026-11-21T00:00:00Z"}]})";

}  // namespace

TEST_CASE("format_table aligns on code points, not bytes, and leaves no trailing blanks") {
  const std::string table = format_table({"ID", "FP", "STATE"}, {{"k1", "sk-…a1", "active"}, {"key22", "x", ""}});
  CHECK(table ==
        "ID     FP      STATE\n"
        "k1     sk-…a1  active\n"
        "key22  x\n");
}

TEST_CASE("format_table shows control characters as '?', so a name cannot drive the terminal") {
  const std::string table = format_table({"NAME"}, {{"evil\x1b[2Jname\n"}, {"c1\xc2\x9bx"}});
  CHECK(table == "NAME\nevil?[2Jname?\nc1?x\n");
}

TEST_CASE("keys list sends GET with the encoded provider filter and prints fingerprints in a table") {
  Harness h;
  h.answer = AdminResponse{200, kKeysList};
  REQUIRE(h.run({"keys", "list", "--provider", "open ai/x"}) == 0);
  REQUIRE(h.sent.size() == 1);
  CHECK(h.sent[0].method == "GET");
  CHECK(h.sent[0].path == "/api/v1/keys?provider_id=open%20ai%2Fx");
  CHECK(h.sent[0].body.empty());
  CHECK(h.sent_options[0].base.text == "http://127.0.0.1:8080");
  CHECK(h.sent_options[0].master_key == std::optional<std::string>("mk-secret"));
  CHECK(h.out.str() ==
        "ID        PROVIDER   FINGERPRINT   STATE                         SOURCE  RPM  TPM  WEIGHT  CREATED\n"
        "key_01    openai     sk-…a1b2      active                        api     500  -    1       2026-11-22T06:00:00Z\n"
        "key_0002  anthropic  sk-ant-…ffff  disabled (401 from upstream)  config  -    -    -       2026-11-21T00:00:00Z\n");
  CHECK(h.err.str().empty());
}

TEST_CASE("an empty list says so instead of printing a bare header") {
  Harness h;
  h.answer = AdminResponse{200, R"({"data":[]})"};
  REQUIRE(h.run({"virtual-keys", "list"}) == 0);
  CHECK(h.out.str() == "no virtual keys\n");
  CHECK(h.sent[0].path == "/api/v1/virtual-keys");
}

TEST_CASE("--json prints the server's answer as it is") {
  Harness h;
  h.answer = AdminResponse{200, kKeysList};
  REQUIRE(h.run({"keys", "list", "--json"}) == 0);
  CHECK(h.out.str() == std::string(kKeysList) + "\n");
}

TEST_CASE("the URL comes from --url, else TOLLGATE_URL, else the default; a trailing slash is dropped") {
  Harness a;
  a.env["TOLLGATE_URL"] = "http://localhost:9999/";
  REQUIRE(a.run({"virtual-keys", "list"}) == 0);
  CHECK(a.sent_options[0].base.text == "http://localhost:9999");
  CHECK(a.sent_options[0].base.loopback);

  Harness b;
  b.env["TOLLGATE_URL"] = "http://localhost:9999";
  REQUIRE(b.run({"virtual-keys", "list", "--url", "https://gw.example.com/tollgate"}) == 0);
  CHECK(b.sent_options[0].base.text == "https://gw.example.com/tollgate");
  CHECK(b.sent_options[0].base.tls);
  CHECK_FALSE(b.sent_options[0].base.loopback);
  CHECK(b.err.str().empty());
}

TEST_CASE("a bad URL is exit 2 and nothing is sent") {
  for (const char* url : {"ftp://127.0.0.1/", "http://127.0.0.1:8080/?x=1", "http://user:pw@127.0.0.1/", "127.0.0.1:8080"}) {
    Harness h;
    REQUIRE(h.run({"keys", "list", "--url", url}) == 2);
    CHECK(h.sent.empty());
    CHECK(h.err.str().rfind("error: bad tollgate URL in --url: ", 0) == 0);
    // The URL may hold credentials: it is not echoed.
    CHECK(h.err.str().find("pw") == std::string::npos);
  }
}

TEST_CASE("plain HTTP off loopback with a master key warns that the key travels unencrypted") {
  Harness h;
  REQUIRE(h.run({"keys", "list", "--url", "http://10.1.2.3:8080"}) == 0);
  CHECK(h.err.str() == "warning: sending the master key unencrypted to http://10.1.2.3:8080; prefer https off this machine\n");
}

TEST_CASE("keys add reads the key material from stdin and sends it only in the body") {
  Harness h;
  h.answer = AdminResponse{201, R"({"id":"key_9","object":"upstream_key","provider_id":"openai","fingerprint":"sk-…cdef"})"};
  REQUIRE(h.run({"keys", "add", "--provider", "openai", "--rpm", "60", "--tpm", "1000", "--weight", "2", "--metadata",
                 R"({"owner":"ml"})"},
                "  sk-live-abcdef  \r\nsecond line ignored\n") == 0);
  REQUIRE(h.sent.size() == 1);
  CHECK(h.sent[0].method == "POST");
  CHECK(h.sent[0].path == "/api/v1/keys");
  const json body = json::parse(h.sent[0].body);
  CHECK(body == json{{"key_material", "sk-live-abcdef"}, {"provider_id", "openai"}, {"rpm", 60}, {"tpm", 1000},
                     {"weight", 2}, {"metadata", {{"owner", "ml"}}}});
  CHECK(body["weight"].is_number_integer());
  CHECK(json::parse(h.out.str()) == json::parse(h.answer->body));
  CHECK(h.out.str().find('\n') < h.out.str().size() - 1);  // pretty, not one line
  CHECK(h.err.str().find("sk-live") == std::string::npos);
}

TEST_CASE("keys add with nothing on stdin is exit 2 and sends nothing") {
  Harness h;
  REQUIRE(h.run({"keys", "add", "--provider", "openai"}, "   \n") == 2);
  CHECK(h.sent.empty());
  CHECK(h.err.str().rfind("error: no key material on stdin", 0) == 0);
}

TEST_CASE("keys rm and virtual-keys revoke send DELETE to the encoded id") {
  Harness rm;
  rm.answer = AdminResponse{200, R"({"id":"key 1","object":"upstream_key","deleted":true})"};
  REQUIRE(rm.run({"keys", "rm", "key 1"}) == 0);
  CHECK(rm.sent[0].method == "DELETE");
  CHECK(rm.sent[0].path == "/api/v1/keys/key%201");
  CHECK(rm.out.str() == "deleted upstream key key 1\n");

  Harness revoke;
  revoke.answer = AdminResponse{200, R"({"id":"vk_1","object":"virtual_key","name":"billing","state":"revoked"})"};
  REQUIRE(revoke.run({"virtual-keys", "revoke", "vk_1"}) == 0);
  CHECK(revoke.sent[0].method == "DELETE");
  CHECK(revoke.sent[0].path == "/api/v1/virtual-keys/vk_1");
  CHECK(revoke.out.str() == "revoked virtual key vk_1 (billing)\n");
}

TEST_CASE("virtual-keys create sends every option in the API's shape and prints the key once, apart") {
  Harness h;
  h.answer = AdminResponse{201, R"({"id":"vk_7","object":"virtual_key","key":"tg-SECRET-123","key_hint":"tg-…123",
    "name":"billing","models":["gpt-4o-mini","smart"],"state":"active"})"};
  REQUIRE(h.run({"virtual-keys", "create", "--name", "billing", "--models", "gpt-4o-mini, smart", "--rpm", "10",
                 "--tpm", "5000", "--team", "fin", "--project", "p1", "--customer", "acme", "--expires-at",
                 "2027-01-01T00:00:00Z", "--budget-usd", "12.5", "--budget-period", "monthly",
                 "--budget-enforcement", "soft"}) == 0);
  REQUIRE(h.sent.size() == 1);
  CHECK(h.sent[0].method == "POST");
  CHECK(h.sent[0].path == "/api/v1/virtual-keys");
  CHECK(json::parse(h.sent[0].body) ==
        json{{"name", "billing"},
             {"models", {"gpt-4o-mini", "smart"}},
             {"rpm", 10},
             {"tpm", 5000},
             {"budget", {{"limit_usd", 12.5}, {"period", "monthly"}, {"enforcement", "soft"}}},
             {"metadata", {{"team", "fin"}, {"project", "p1"}, {"customer", "acme"}}},
             {"expires_at", "2027-01-01T00:00:00Z"}});

  const std::string out = h.out.str();
  const auto first = out.find("tg-SECRET-123");
  REQUIRE(first != std::string::npos);
  CHECK(out.find("tg-SECRET-123", first + 1) == std::string::npos);
  CHECK(out.find("\nkey: tg-SECRET-123\n") != std::string::npos);
  CHECK(out.find("shown only once") != std::string::npos);
  CHECK(out.find("\"key_hint\": \"tg-…123\"") != std::string::npos);
}

TEST_CASE("virtual-keys create with only a name sends only the name") {
  Harness h;
  h.answer = AdminResponse{201, R"({"id":"vk_8","key":"tg-x"})"};
  REQUIRE(h.run({"virtual-keys", "create", "--name", "plain"}) == 0);
  CHECK(json::parse(h.sent[0].body) == json{{"name", "plain"}});
}

TEST_CASE("argument errors are parse errors before anything is read or sent") {
  const std::vector<std::vector<std::string>> bad = {
      {"virtual-keys", "create", "--name", "x", "--budget-usd", "5"},
      {"virtual-keys", "create", "--name", "x", "--budget-period", "monthly"},
      {"virtual-keys", "create", "--name", "x", "--budget-usd", "5", "--budget-period", "yearly"},
      {"virtual-keys", "create", "--name", "x", "--budget-usd", "-5", "--budget-period", "daily"},
      {"virtual-keys", "create", "--name", "x", "--budget-enforcement", "soft"},
      {"virtual-keys", "create", "--name", "x", "--expires-at", "2027-01-01"},
      {"virtual-keys", "create", "--name", "x", "--expires-at", "2027-13-01T00:00:00Z"},
      {"virtual-keys", "create", "--name", "x", "--rpm", "0"},
      {"virtual-keys", "create", "--name", "x", "--rpm", "ten"},
      {"virtual-keys", "create", "--name", " "},
      {"virtual-keys", "create"},
      {"keys", "add"},
      {"keys", "add", "--provider", "openai", "--metadata", "[1,2]"},
      {"keys", "add", "--provider", "openai", "--metadata", "{bad"},
      {"keys", "add", "--provider", "openai", "--weight", "0"},
      {"keys", "add", "--provider", "openai", "--master-key", "x"},
      {"keys", "rm"},
      {"virtual-keys", "revoke"},
      {"keys"},
  };
  for (const auto& args : bad) {
    Harness h;
    std::string line;
    for (const auto& a : args) line += a + " ";
    INFO(line);
    CHECK_THROWS_AS(h.parse_only(args), CLI::ParseError);
  }
}

TEST_CASE("--expires-at takes RFC 3339 with fractions and offsets") {
  for (const char* t : {"2027-01-01T00:00:00Z", "2027-01-01t00:00:00.123z", "2027-06-30T23:59:60+02:00"}) {
    Harness h;
    INFO(t);
    REQUIRE(h.run({"virtual-keys", "create", "--name", "x", "--expires-at", t}) == 0);
    CHECK(json::parse(h.sent[0].body)["expires_at"] == t);
  }
}

TEST_CASE("an error answer prints error.message and exits 1") {
  Harness h;
  h.answer = AdminResponse{401, R"({"error":{"message":"Invalid master key.","type":"authentication_error",
                                   "param":null,"code":"invalid_api_key"}})"};
  REQUIRE(h.run({"keys", "list"}) == 1);
  CHECK(h.err.str() == "error: Invalid master key.\n");
  CHECK(h.out.str().empty());
}

TEST_CASE("a 401 without TOLLGATE_MASTER_KEY hints at it, and no Authorization is sent") {
  Harness h;
  h.env.clear();
  h.answer = AdminResponse{401, R"({"error":{"message":"Missing credential.","type":"authentication_error"}})"};
  REQUIRE(h.run({"virtual-keys", "list"}) == 1);
  CHECK_FALSE(h.sent_options[0].master_key.has_value());
  CHECK(h.err.str() == "error: Missing credential.\nhint: TOLLGATE_MASTER_KEY is not set\n");
}

TEST_CASE("an error answer that is not OpenAI-shaped prints the status and the start of the body") {
  CHECK(error_message({502, "<html>Bad Gateway</html>\nmore"}) == "tollgate answered HTTP 502: <html>Bad Gateway</html>");
  CHECK(error_message({500, ""}) == "tollgate answered HTTP 500");
  CHECK(error_message({404, R"({"error":"nope"})"}) == R"(tollgate answered HTTP 404: {"error":"nope"})");
}

TEST_CASE("a 2xx answer that is not JSON is an error") {
  Harness h;
  h.answer = AdminResponse{200, "OK"};
  REQUIRE(h.run({"keys", "list"}) == 1);
  CHECK(h.err.str() == "error: tollgate at http://127.0.0.1:8080 answered HTTP 200 with a body that is not JSON\n");
}

TEST_CASE("no answer at all says tollgate cannot be reached") {
  Harness h;
  h.answer = TransportError{TransportError::Kind::kUnreachable, "connect to 127.0.0.1:9 failed: Connection refused"};
  REQUIRE(h.run({"keys", "list", "--url", "http://127.0.0.1:9"}) == 1);
  CHECK(h.err.str() ==
        "error: cannot reach tollgate at http://127.0.0.1:9 (connect to 127.0.0.1:9 failed: Connection refused); is it "
        "running?\n");
}

TEST_CASE("virtual-keys list shows hints, models, budgets and never a key") {
  const json list = json::parse(R"({"data":[
    {"id":"vk_1","name":"billing","key_hint":"tg-…9f","state":"active","models":null,"rpm":5,"tpm":null,
     "budget":{"limit_usd":10,"period":"monthly","enforcement":"hard"},"expires_at":null,"created_at":"2026-11-22T06:00:00Z"},
    {"id":"vk_22","name":"bot","key_hint":"tg-…a0","state":"revoked","models":["mock-1","gpt-4o-mini"],"rpm":null,
     "tpm":100,"budget":{"limit_usd":"2.5","period":"daily","enforcement":"soft"},"expires_at":"2027-01-01T00:00:00Z",
     "created_at":"2026-11-21T00:00:00Z"}]})");
  CHECK(format_virtual_keys(list) ==
        "ID     NAME     KEY     STATE    MODELS              RPM  TPM  BUDGET             EXPIRES               CREATED\n"
        "vk_1   billing  tg-…9f  active   all                 5    -    $10/monthly        -                     2026-11-22T06:00:00Z\n"
        "vk_22  bot      tg-…a0  revoked  mock-1,gpt-4o-mini  -    100  $2.5/daily (soft)  2027-01-01T00:00:00Z  2026-11-21T00:00:00Z\n");
}

TEST_CASE("percent_encode keeps only unreserved characters") {
  CHECK(percent_encode("aZ09-._~") == "aZ09-._~");
  CHECK(percent_encode("a b/c?d&é") == "a%20b%2Fc%3Fd%26%C3%A9");
}

TEST_CASE("AdminClient reports a closed port as unreachable, naming the peer") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  acceptor.close();

  auto base = check_base_url("http://127.0.0.1:" + std::to_string(port));
  REQUIRE(base.has_value());
  AdminClient client({*base, std::string("mk"), std::chrono::milliseconds(2000), std::chrono::milliseconds(2000)});
  const auto result = client.send({"GET", "/api/v1/keys", ""});
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == TransportError::Kind::kUnreachable);
  CHECK(result.error().message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
}
