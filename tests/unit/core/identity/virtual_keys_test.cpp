// VirtualKeys and the Authenticator over a real SQLite store: lookup, states, rotation, modes.
#include <catch2/catch.hpp>

#include <future>

#include "core/identity/authenticator.hpp"
#include "core/identity/virtual_keys.hpp"
#include "core/security/tokens.hpp"
#include "core/store/sqlite_store.hpp"
#include "core/time_format.hpp"
#include "support/temp_dir.hpp"

using namespace tollgate::core;
using tollgate::testing::TempDir;

namespace {

VirtualKeyRecord record_for(const std::string& id, const std::string& secret, UnixMillis now) {
  VirtualKeyRecord r;
  r.id = id;
  r.name = "team " + id;
  r.key_hash = sha256_hex(secret);
  r.hint = "tg-…" + secret.substr(secret.size() - 4);
  r.created_at = r.updated_at = now;
  return r;
}

/// put() and wait for the commit.
bool put_sync(VirtualKeys& keys, VirtualKeyRecord record) {
  std::promise<bool> done;
  keys.put(std::move(record), [&done](bool ok) { done.set_value(ok); });
  return done.get_future().get();
}

}  // namespace

TEST_CASE("a new virtual key secret is tg- and 43 base62 characters, never repeated", "[identity]") {
  const auto a = new_virtual_key_secret();
  const auto b = new_virtual_key_secret();
  CHECK(a.size() == 46);
  CHECK(a.rfind("tg-", 0) == 0);
  CHECK(a.find_first_not_of("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 3) == std::string::npos);
  CHECK(a != b);
}

TEST_CASE("virtual keys authenticate by secret and say why they do not", "[identity]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  ManualClock clock;
  VirtualKeys keys(*store, {});
  const auto now = unix_now(clock);
  const std::string secret = new_virtual_key_secret();
  REQUIRE(put_sync(keys, record_for("vk_a", secret, now)));

  auto found = keys.authenticate(secret, now);
  REQUIRE(found.has_value());
  CHECK((*found)->id == "vk_a");

  auto unknown = keys.authenticate(new_virtual_key_secret(), now);
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().kind == ErrorKind::kInvalidApiKey);
  CHECK(unknown.error().message == "Incorrect API key provided.");

  SECTION("an expired key is refused from its expiry on, and says when it expired") {
    auto r = *keys.find("vk_a");
    r.expires_at = now + 1000;
    REQUIRE(put_sync(keys, r));
    CHECK(keys.authenticate(secret, now + 999).has_value());
    auto expired = keys.authenticate(secret, now + 1000);
    REQUIRE_FALSE(expired.has_value());
    CHECK(expired.error().message.find("expired at 2023-11-14T22:13:21Z") != std::string::npos);
    CHECK(key_state(*keys.find("vk_a"), now + 1000) == KeyState::kExpired);
  }
  SECTION("a revoked key is refused and says so") {
    auto r = *keys.find("vk_a");
    r.revoked_at = now;
    REQUIRE(put_sync(keys, r));
    auto revoked = keys.authenticate(secret, now);
    REQUIRE_FALSE(revoked.has_value());
    CHECK(revoked.error().message == "This API key has been revoked.");
  }
  SECTION("rotation: the new secret works, the old one is unknown, the id stays") {
    const std::string rotated = new_virtual_key_secret();
    auto r = *keys.find("vk_a");
    r.key_hash = sha256_hex(rotated);
    REQUIRE(put_sync(keys, r));
    CHECK(keys.authenticate(rotated, now).value()->id == "vk_a");
    CHECK_FALSE(keys.authenticate(secret, now).has_value());
    CHECK(keys.list().size() == 1);
  }
}

TEST_CASE("virtual keys survive a restart of the store; only the hash is stored", "[identity]") {
  TempDir dir;
  ManualClock clock;
  const std::string secret = new_virtual_key_secret();
  {
    auto store = open_sqlite_store(dir.str());
    VirtualKeys keys(*store, {});
    auto r = record_for("vk_b", secret, unix_now(clock));
    r.models = {"gpt-4o-mini", "smart"};
    r.rpm = 60;
    r.team = "search";
    REQUIRE(put_sync(keys, r));
  }
  auto store = open_sqlite_store(dir.str());
  VirtualKeys keys(*store, store->load_virtual_keys());
  auto found = keys.authenticate(secret, unix_now(clock));
  REQUIRE(found.has_value());
  CHECK((*found)->models == std::vector<std::string>{"gpt-4o-mini", "smart"});
  CHECK((*found)->rpm == 60);
  CHECK((*found)->team == "search");
  CHECK(allows_model(**found, "smart"));
  CHECK_FALSE(allows_model(**found, "gpt-4o"));
}

TEST_CASE("auth mode resolution refuses an open gateway on a public address", "[identity]") {
  tollgate::config::AuthConfig auth;
  auth.mode = "auto";
  CHECK(resolve_auth_mode(auth, true, false) == AuthMode::kOpen);
  CHECK(resolve_auth_mode(auth, true, true) == AuthMode::kVirtualKeys);
  CHECK(resolve_auth_mode(auth, false, false) == AuthMode::kVirtualKeys);
  auth.mode = "virtual-keys";
  CHECK(resolve_auth_mode(auth, true, false) == AuthMode::kVirtualKeys);
  auth.mode = "open";
  CHECK(resolve_auth_mode(auth, true, true) == AuthMode::kOpen);
  CHECK_THROWS_WITH(resolve_auth_mode(auth, false, true), Catch::Contains("allow_open_on_public"));
  auth.allow_open_on_public = true;
  CHECK_THROWS_WITH(resolve_auth_mode(auth, false, false), Catch::Contains("TOLLGATE_MASTER_KEY"));
  CHECK(resolve_auth_mode(auth, false, true) == AuthMode::kOpen);
}

TEST_CASE("the authenticator: virtual keys, the master key, open mode", "[identity]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  ManualClock clock;
  VirtualKeys keys(*store, {});
  const std::string secret = new_virtual_key_secret();
  REQUIRE(put_sync(keys, record_for("vk_c", secret, unix_now(clock))));

  SECTION("virtual-keys mode") {
    Authenticator auth(AuthMode::kVirtualKeys, std::string("master-secret-123"), keys, clock);
    auto caller = auth.client(secret);
    REQUIRE(caller.has_value());
    CHECK(caller->kind == Caller::Kind::kVirtualKey);
    CHECK(caller->id() == "vk_c");
    CHECK(auth.client("master-secret-123")->kind == Caller::Kind::kMaster);
    auto missing = auth.client("");
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().message.find("didn't provide an API key") != std::string::npos);
    auto wrong = auth.client("sk-not-ours");
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error().message.find("sk-not-ours") == std::string::npos);
    CHECK_FALSE(auth.client("tg-unknown").has_value());
    // A virtual key never opens the admin API.
    CHECK_FALSE(auth.admin(secret).has_value());
    CHECK_FALSE(auth.admin("").has_value());
    CHECK_FALSE(auth.admin("master-secret-12").has_value());
    CHECK(auth.admin("master-secret-123")->kind == Caller::Kind::kMaster);
    // Expiry is read from the injected clock.
    auto r = *keys.find("vk_c");
    r.expires_at = unix_now(clock) + 60'000;
    REQUIRE(put_sync(keys, r));
    CHECK(auth.client(secret).has_value());
    clock.advance(std::chrono::minutes(1));
    CHECK_FALSE(auth.client(secret).has_value());
  }
  SECTION("a master key that looks like a virtual key is still the master key") {
    Authenticator auth(AuthMode::kVirtualKeys, std::string("tg-operator-master"), keys, clock);
    CHECK(auth.client("tg-operator-master")->kind == Caller::Kind::kMaster);
    CHECK(auth.client(secret)->id() == "vk_c");
    CHECK_FALSE(auth.client("tg-operator-masterX").has_value());
  }
  SECTION("virtual-keys mode without a master key disables the admin API") {
    Authenticator auth(AuthMode::kVirtualKeys, std::nullopt, keys, clock);
    auto admin = auth.admin("anything");
    REQUIRE_FALSE(admin.has_value());
    CHECK(admin.error().message.find("disabled") != std::string::npos);
  }
  SECTION("open mode: anything goes on the client API, a valid virtual key still identifies") {
    Authenticator auth(AuthMode::kOpen, std::nullopt, keys, clock);
    CHECK(auth.client("")->kind == Caller::Kind::kAnonymous);
    CHECK(auth.client("sk-whatever")->kind == Caller::Kind::kAnonymous);
    CHECK(auth.client(secret)->id() == "vk_c");
    CHECK(auth.admin("")->kind == Caller::Kind::kMaster);
  }
  SECTION("open mode with a master key still guards the admin API") {
    Authenticator auth(AuthMode::kOpen, std::string("m-key-456"), keys, clock);
    CHECK(auth.client("")->kind == Caller::Kind::kAnonymous);
    CHECK_FALSE(auth.admin("").has_value());
    CHECK(auth.admin("m-key-456").has_value());
  }
}
