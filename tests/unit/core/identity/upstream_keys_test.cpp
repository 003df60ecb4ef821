// UpstreamKeys: config and API keys in one pool per provider, sealed at rest, live changes.
#include <catch2/catch.hpp>

#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include "core/identity/upstream_keys.hpp"
#include "core/store/sqlite_store.hpp"
#include "support/temp_dir.hpp"

using namespace tollgate::core;
using tollgate::testing::TempDir;

namespace {

tollgate::config::Config two_providers() {
  tollgate::config::Config config;
  config.providers.push_back({"openai", "openai", "http://127.0.0.1:1/v1", {"sk-config-key-0001", ""}});
  config.providers.push_back({"local", "openai", "http://127.0.0.1:2/v1", {}});
  return config;
}

SecretBytes key_bytes(unsigned char fill) {
  SecretBytes bytes;
  bytes.fill(fill);
  return bytes;
}

UpstreamKeyRecord api_record(const std::string& id, const std::string& provider, UnixMillis created) {
  UpstreamKeyRecord r;
  r.id = id;
  r.provider_id = provider;
  r.created_at = r.updated_at = created;
  return r;
}

bool put_sync(UpstreamKeys& keys, UpstreamKeyRecord record, std::string material) {
  std::promise<bool> done;
  keys.put(std::move(record), std::move(material), [&done](bool ok) { done.set_value(ok); });
  return done.get_future().get();
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

TEST_CASE("config keys form the pool; empty config keys are no keys", "[identity]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  const Sealer sealer(key_bytes(7));
  auto config = two_providers();
  UpstreamKeys keys(config, *store, sealer, {});

  auto choice = keys.next("openai");
  REQUIRE(choice.key);
  CHECK(choice.key->material == "sk-config-key-0001");
  CHECK(choice.key->record.id == "cfg_openai_0");
  CHECK(choice.key->record.fingerprint == "sk-…0001");
  CHECK(choice.key->from_config);
  CHECK(keys.list("openai").size() == 1);

  auto none = keys.next("local");
  CHECK_FALSE(none.key);
  CHECK_FALSE(none.provider_has_keys);  // call without credentials
}

TEST_CASE("an API key joins its provider's pool at once, round-robin with config keys", "[identity]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  const Sealer sealer(key_bytes(7));
  auto config = two_providers();
  UpstreamKeys keys(config, *store, sealer, {});
  REQUIRE(put_sync(keys, api_record("key_1", "openai", 1000), "sk-api-material-aaaa"));

  std::multiset<std::string> used;
  for (int i = 0; i < 10; ++i) used.insert(keys.next("openai").key->material);
  CHECK(used.count("sk-config-key-0001") == 5);
  CHECK(used.count("sk-api-material-aaaa") == 5);

  SECTION("a disabled key leaves the rotation; with every key disabled the provider has none usable") {
    auto r = keys.find("key_1")->record;
    r.state = "disabled";
    r.state_reason = "disabled by an operator";
    REQUIRE(put_sync(keys, r, "sk-api-material-aaaa"));
    for (int i = 0; i < 4; ++i) CHECK(keys.next("openai").key->material == "sk-config-key-0001");

    REQUIRE(put_sync(keys, api_record("key_2", "local", 2000), "sk-local-material-1"));
    auto r2 = keys.find("key_2")->record;
    r2.state = "disabled";
    REQUIRE(put_sync(keys, r2, "sk-local-material-1"));
    auto none = keys.next("local");
    CHECK_FALSE(none.key);
    CHECK(none.provider_has_keys);
  }
  SECTION("a removed key leaves at once; config keys cannot be removed") {
    std::promise<bool> done;
    REQUIRE(keys.remove("key_1", [&done](bool ok) { done.set_value(ok); }));
    CHECK(done.get_future().get());
    for (int i = 0; i < 4; ++i) CHECK(keys.next("openai").key->material == "sk-config-key-0001");
    CHECK_FALSE(keys.remove("cfg_openai_0", {}));
    CHECK_FALSE(keys.remove("key_missing", {}));
  }
}

TEST_CASE("API keys are sealed at rest and come back after a restart", "[identity]") {
  TempDir dir;
  const Sealer sealer(key_bytes(7));
  auto config = two_providers();
  const std::string material = "sk-proj-VerySecretMaterial-zz99";
  {
    auto store = open_sqlite_store(dir.str());
    UpstreamKeys keys(config, *store, sealer, {});
    auto record = api_record("key_9", "openai", 5000);
    record.rpm = 100;
    record.metadata = R"({"owner":"search"})";
    REQUIRE(put_sync(keys, record, material));
    CHECK(keys.find("key_9")->record.fingerprint == "sk-…zz99");
  }
  std::string on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) on_disk += file_bytes(entry.path());
  CHECK(on_disk.find(material) == std::string::npos);
  CHECK(on_disk.find("VerySecretMaterial") == std::string::npos);

  auto store = open_sqlite_store(dir.str());
  UpstreamKeys keys(config, *store, sealer, store->load_upstream_keys());
  auto key = keys.find("key_9");
  REQUIRE(key);
  CHECK(key->material == material);
  CHECK(key->record.rpm == 100);
  CHECK(key->record.metadata == R"({"owner":"search"})");

  SECTION("another secret key cannot open them: a clear error that names the key, not the material") {
    const Sealer other(key_bytes(8));
    try {
      UpstreamKeys wrong(config, *store, other, store->load_upstream_keys());
      FAIL("expected an exception");
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      CHECK(what.find("key_9") != std::string::npos);
      CHECK(what.find("TOLLGATE_SECRET_KEY") != std::string::npos);
      CHECK(what.find(material) == std::string::npos);
    }
  }
  SECTION("a sealed record moved to another id does not open (the id is authenticated)") {
    auto records = store->load_upstream_keys();
    REQUIRE(records.size() == 1);
    records[0].id = "key_other";
    CHECK_THROWS_AS(UpstreamKeys(config, *store, sealer, records), std::runtime_error);
  }
}

TEST_CASE("a disabled key leaves the pool at once; an API key stays disabled after a restart", "[identity]") {
  TempDir dir;
  auto config = two_providers();
  const Sealer sealer(key_bytes(7));
  {
    auto store = open_sqlite_store(dir.str());
    UpstreamKeys keys(config, *store, sealer, {});
    REQUIRE(put_sync(keys, api_record("key_api", "openai", 1000), "sk-api-key-material-0002"));

    CHECK(keys.disable("key_api", "the upstream answered 401 (invalid key)", 2000));
    CHECK_FALSE(keys.disable("key_api", "again", 3000));  // already disabled: nothing to do
    CHECK_FALSE(keys.disable("key_unknown", "x", 3000));
    for (int i = 0; i < 4; ++i) CHECK(keys.next("openai").key->record.id == "cfg_openai_0");

    CHECK(keys.disable("cfg_openai_0", "the upstream answered 403 (forbidden)", 2000));
    const auto none = keys.next("openai");
    CHECK(none.key == nullptr);
    CHECK(none.provider_has_keys);  // every key disabled: not the same as a provider without keys
    store->flush();
  }
  auto store = open_sqlite_store(dir.str());
  UpstreamKeys keys(config, *store, sealer, store->load_upstream_keys());
  const auto api = keys.find("key_api");
  REQUIRE(api);
  CHECK(api->record.state == "disabled");
  CHECK(api->record.state_reason == "the upstream answered 401 (invalid key)");
  CHECK(api->record.updated_at == 2000);
  CHECK(keys.next("openai").key->record.id == "cfg_openai_0");  // config keys start active again
}

TEST_CASE("a key answering 429 rests until its Retry-After; a predicted one is used only when nothing else is free",
          "[identity]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  auto config = two_providers();
  const Sealer sealer(key_bytes(7));
  UpstreamKeys keys(config, *store, sealer, {});
  REQUIRE(put_sync(keys, api_record("key_api", "openai", 1000), "sk-api-key-material-0002"));
  const Clock::Steady::time_point t0{std::chrono::seconds(100)};
  const std::int64_t wall = 1'700'000'000'000;

  const auto rest = keys.observe("cfg_openai_0", 429, {{"retry-after", "3"}}, t0, wall);
  REQUIRE(rest);
  CHECK(*rest == std::chrono::seconds(3));
  for (int i = 0; i < 4; ++i) CHECK(keys.next("openai", t0).key->record.id == "key_api");
  CHECK(keys.cooling_until("cfg_openai_0", t0) == t0 + std::chrono::seconds(3));
  // A shorter Retry-After later never shortens the rest.
  keys.observe("cfg_openai_0", 429, {{"retry-after", "1"}}, t0 + std::chrono::seconds(1), wall);
  CHECK(keys.cooling_until("cfg_openai_0", t0 + std::chrono::seconds(2)) == t0 + std::chrono::seconds(3));

  // Both resting: no key, and when the first is free.
  keys.observe("key_api", 429, {}, t0, wall);  // no header: 1 s
  const auto none = keys.next("openai", t0);
  CHECK(none.key == nullptr);
  CHECK(none.provider_has_keys);
  CHECK(none.available_at == t0 + std::chrono::seconds(1));
  CHECK(keys.next("openai", t0 + std::chrono::seconds(1)).key->record.id == "key_api");

  // After the rest: quota headers that say 0 requests remain make the key avoided while another
  // is free, and used when none is.
  const auto later = t0 + std::chrono::seconds(10);
  keys.observe("key_api", 200, {{"x-ratelimit-remaining-requests", "0"}, {"x-ratelimit-reset-requests", "20s"}}, later, wall);
  for (int i = 0; i < 4; ++i) CHECK(keys.next("openai", later).key->record.id == "cfg_openai_0");
  keys.observe("cfg_openai_0", 429, {{"retry-after", "30"}}, later, wall);
  CHECK(keys.next("openai", later).key->record.id == "key_api");
  // Without a time the pool is plain round-robin (callers that do not track rests).
  CHECK(keys.next("openai").key != nullptr);
}

TEST_CASE("a key's own rpm and tpm pass it over until its minute refills", "[identity]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  const Sealer sealer(key_bytes(7));
  tollgate::config::Config config;
  config.providers.push_back({"openai", "openai", "http://127.0.0.1:1/v1", {"sk-limited-key-0001", "sk-free-key-0002"},
                              {{2, 0}, {0, 0}}});
  UpstreamKeys keys(config, *store, sealer, {});
  ManualClock clock;
  const auto now = clock.now();
  REQUIRE(keys.find("cfg_openai_0")->record.rpm == 2);

  std::multiset<std::string> used;
  for (int i = 0; i < 6; ++i) used.insert(keys.next("openai", now).key->record.id);
  CHECK(used.count("cfg_openai_0") == 2);  // its rpm, then the other key takes the rest
  CHECK(used.count("cfg_openai_1") == 4);
  CHECK_FALSE(keys.unavailable_until("openai", now));  // the free key still answers

  // A key with a tpm rests once the tokens its answers used fill its minute.
  REQUIRE(put_sync(keys, [] {
    auto r = api_record("key_tpm", "solo", 1000);
    r.tpm = 600;
    return r;
  }(), "sk-api-tpm-material"));
  REQUIRE(keys.next("solo", now).key);
  keys.charge_tokens("key_tpm", 900, now);
  const auto blocked = keys.next("solo", now);
  CHECK_FALSE(blocked.key);
  REQUIRE(blocked.available_at);
  CHECK(*blocked.available_at > now + std::chrono::seconds(29));
  CHECK(*blocked.available_at <= now + std::chrono::seconds(31));
  REQUIRE(keys.unavailable_until("solo", now));
  CHECK(keys.next("solo", now + std::chrono::seconds(31)).key);
}
