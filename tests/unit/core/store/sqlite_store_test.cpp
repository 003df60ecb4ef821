// SQLite store: round trips, reopen, migrations, audit, ledger, usage, spend and budgets, ordering, group commit and failures on a real file.
#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/store/sqlite_store.hpp"
#include "support/temp_dir.hpp"

using namespace tollgate::core;
namespace fs = std::filesystem;

namespace {

/// A fresh directory per test, removed afterwards.
class TempDir : public tollgate::testing::TempDir {
 public:
  TempDir() : tollgate::testing::TempDir("tollgate-store-test-") {}
  fs::path db() const { return path() / "tollgate.db"; }
};

/// A second, independent connection, as another process would open the file.
class RawDb {
 public:
  explicit RawDb(const fs::path& file) { REQUIRE(sqlite3_open(file.c_str(), &db_) == SQLITE_OK); }
  ~RawDb() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    INFO(sql << ": " << (error ? error : ""));
    sqlite3_free(error);
    REQUIRE(rc == SQLITE_OK);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    std::string value;
    if (sqlite3_step(stmt) == SQLITE_ROW) value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return value;
  }
  std::int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

/// Holds the writer thread inside a Done callback, so that every job queued meanwhile is waiting
/// when it is released: the test decides what one batch holds.
class WriterBlock {
 public:
  explicit WriterBlock(Store& store) {
    auto entered = std::make_shared<std::promise<void>>();
    auto in_callback = entered->get_future();
    store.put_meta("block", "1", [entered, released = release_.get_future().share()](bool) {
      entered->set_value();
      released.wait();
    });
    in_callback.wait();
  }
  ~WriterBlock() { release(); }
  void release() {
    if (!released_) release_.set_value();
    released_ = true;
  }

 private:
  std::promise<void> release_;
  bool released_ = false;
};

/// Records how each Done callback was called; read only after flush().
struct DoneLog {
  std::vector<int> calls;
  std::vector<int> committed;
  explicit DoneLog(std::size_t n) : calls(n, 0), committed(n, 0) {}
  Store::Done callback(std::size_t i) {
    return [this, i](bool ok) {
      ++calls[i];
      committed[i] = ok ? 1 : 0;
    };
  }
};

std::vector<AuditRecord> query(Store& store, AuditQuery q) {
  std::promise<std::vector<AuditRecord>> promise;
  auto future = promise.get_future();
  store.query_audit(q, [&promise](std::vector<AuditRecord> entries) { promise.set_value(std::move(entries)); });
  return future.get();
}

AuditRecord audit(UnixMillis at, std::string target) {
  AuditRecord record;
  record.at = at;
  record.kind = "request";
  record.actor = "vk_1";
  record.action = "chat.completions";
  record.target = std::move(target);
  record.status = 200;
  record.detail = R"({"model":"mock-1"})";
  return record;
}

std::vector<std::int64_t> ids(const std::vector<AuditRecord>& entries) {
  std::vector<std::int64_t> out;
  for (const auto& entry : entries) out.push_back(entry.id);
  return out;
}

UpstreamKeyRecord full_upstream_key() {
  UpstreamKeyRecord record;
  record.id = "key_full";
  record.provider_id = "openai";
  record.sealed = "bm9uY2U=Y2lwaGVy+/dGFn==";
  record.fingerprint = "sk-…a1b2";
  record.state = "disabled";
  record.state_reason = "401 from upstream";
  record.metadata = R"({"owner":"ops","note":"ünïcode"})";
  record.rpm = 600;
  record.tpm = 9'000'000'000LL;
  record.weight = 2.75;
  record.created_at = 1'700'000'000'123;
  record.updated_at = 1'700'000'999'456;
  return record;
}

UpstreamKeyRecord bare_upstream_key() {
  UpstreamKeyRecord record;
  record.id = "key_bare";
  record.provider_id = "anthropic";
  record.sealed = "c2VhbGVk";
  record.fingerprint = "sk-…zz99";
  record.created_at = 5;
  record.updated_at = 6;
  return record;
}

VirtualKeyRecord full_virtual_key() {
  VirtualKeyRecord record;
  record.id = "vk_full";
  record.name = "checkout service";
  record.key_hash = std::string(64, 'a');
  record.hint = "tg-…Ab3x";
  record.models = {"gpt-4o-mini", "smart", "name with \"quotes\""};
  record.rpm = 60;
  record.tpm = 100'000;
  record.budget = R"({"limit_usd":12.5,"period":"monthly","enforcement":"soft"})";
  record.team = "payments";
  record.project = "checkout";
  record.customer = "acme";
  record.expires_at = 1'800'000'000'000;
  record.revoked_at = 1'750'000'000'000;
  record.created_at = 1'700'000'000'000;
  record.updated_at = 1'700'000'000'001;
  return record;
}

VirtualKeyRecord bare_virtual_key() {
  VirtualKeyRecord record;
  record.id = "vk_bare";
  record.name = "bare";
  record.key_hash = std::string(64, 'b');
  record.hint = "tg-…0000";
  record.created_at = 1;
  record.updated_at = 2;
  return record;
}

void check_same(const UpstreamKeyRecord& got, const UpstreamKeyRecord& want) {
  INFO("upstream key " << want.id);
  CHECK(got.id == want.id);
  CHECK(got.provider_id == want.provider_id);
  CHECK(got.sealed == want.sealed);
  CHECK(got.fingerprint == want.fingerprint);
  CHECK(got.state == want.state);
  CHECK(got.state_reason == want.state_reason);
  CHECK(got.metadata == want.metadata);
  CHECK(got.rpm == want.rpm);
  CHECK(got.tpm == want.tpm);
  CHECK(got.weight == want.weight);
  CHECK(got.created_at == want.created_at);
  CHECK(got.updated_at == want.updated_at);
}

void check_same(const VirtualKeyRecord& got, const VirtualKeyRecord& want) {
  INFO("virtual key " << want.id);
  CHECK(got.id == want.id);
  CHECK(got.name == want.name);
  CHECK(got.key_hash == want.key_hash);
  CHECK(got.hint == want.hint);
  CHECK(got.models == want.models);
  CHECK(got.rpm == want.rpm);
  CHECK(got.tpm == want.tpm);
  CHECK(got.budget == want.budget);
  CHECK(got.team == want.team);
  CHECK(got.project == want.project);
  CHECK(got.customer == want.customer);
  CHECK(got.expires_at == want.expires_at);
  CHECK(got.revoked_at == want.revoked_at);
  CHECK(got.created_at == want.created_at);
  CHECK(got.updated_at == want.updated_at);
}

void check_same(const AuditRecord& got, const AuditRecord& want) {
  CHECK(got.at == want.at);
  CHECK(got.kind == want.kind);
  CHECK(got.actor == want.actor);
  CHECK(got.action == want.action);
  CHECK(got.target == want.target);
  CHECK(got.status == want.status);
  CHECK(got.detail == want.detail);
}

}  // namespace

TEST_CASE("store: every field of every record survives a round trip, set and unset", "[store]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  store->put_upstream_key(full_upstream_key());
  store->put_upstream_key(bare_upstream_key());
  store->put_virtual_key(full_virtual_key());
  store->put_virtual_key(bare_virtual_key());
  store->put_meta("secret_check", "v1:abc");
  AuditRecord entry = audit(1234, "req_1");
  entry.kind = "admin";
  entry.actor = "master";
  entry.action = "keys.create";
  entry.status = 201;
  store->append_audit(entry);

  // Loads are queued behind the writes: no flush needed to see them.
  const auto upstream = store->load_upstream_keys();
  REQUIRE(upstream.size() == 2);
  check_same(upstream[0], bare_upstream_key());  // ordered by id
  check_same(upstream[1], full_upstream_key());
  CHECK_FALSE(upstream[0].rpm.has_value());
  CHECK(upstream[0].state == "active");
  CHECK(upstream[0].metadata == "{}");
  CHECK(upstream[0].weight == 1.0);

  const auto virtual_keys = store->load_virtual_keys();
  REQUIRE(virtual_keys.size() == 2);
  check_same(virtual_keys[0], bare_virtual_key());
  check_same(virtual_keys[1], full_virtual_key());
  CHECK(virtual_keys[0].models.empty());
  CHECK_FALSE(virtual_keys[0].expires_at.has_value());
  CHECK_FALSE(virtual_keys[0].revoked_at.has_value());

  CHECK(store->load_meta("secret_check") == std::optional<std::string>("v1:abc"));
  CHECK(store->load_meta("never_set") == std::nullopt);

  const auto entries = query(*store, AuditQuery{});
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].id == 1);
  check_same(entries[0], entry);

  // The model list is stored as a JSON array, as the brief's schema says.
  store.reset();
  RawDb raw(dir.db());
  CHECK(raw.text("SELECT models FROM virtual_keys WHERE id = 'vk_full'") ==
        R"(["gpt-4o-mini","smart","name with \"quotes\""])");
  CHECK(raw.text("SELECT models FROM virtual_keys WHERE id = 'vk_bare'") == "[]");
}

TEST_CASE("store: put replaces by id, delete removes, meta is overwritten", "[store]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  store->put_upstream_key(full_upstream_key());
  store->put_upstream_key(bare_upstream_key());
  auto changed = full_upstream_key();
  changed.state = "active";
  changed.state_reason.clear();
  changed.rpm.reset();
  changed.weight = 0.5;
  changed.updated_at += 1000;
  store->put_upstream_key(changed);

  auto rotated = full_virtual_key();
  store->put_virtual_key(rotated);
  rotated.key_hash = std::string(64, 'c');
  rotated.hint = "tg-…new1";
  rotated.models.clear();
  rotated.revoked_at.reset();
  store->put_virtual_key(rotated);

  store->put_meta("m", "1");
  store->put_meta("m", "2");

  DoneLog log(2);
  store->delete_upstream_key("key_bare", log.callback(0));
  store->delete_upstream_key("key_never_existed", log.callback(1));

  const auto upstream = store->load_upstream_keys();
  REQUIRE(upstream.size() == 1);
  check_same(upstream[0], changed);
  const auto virtual_keys = store->load_virtual_keys();
  REQUIRE(virtual_keys.size() == 1);
  check_same(virtual_keys[0], rotated);
  CHECK(store->load_meta("m") == std::optional<std::string>("2"));
  CHECK(log.calls == std::vector<int>{1, 1});
  CHECK(log.committed == std::vector<int>{1, 1});  // deleting an absent id is not a failure
}

TEST_CASE("store: reopening the same directory finds everything", "[store]") {
  TempDir dir;
  {
    auto store = open_sqlite_store(dir.str());
    store->put_upstream_key(full_upstream_key());
    store->put_virtual_key(full_virtual_key());
    store->put_virtual_key(bare_virtual_key());
    store->put_meta("k", "v");
    for (int i = 0; i < 100; ++i) store->append_audit(audit(i, "req_" + std::to_string(i)));
    // No flush: the destructor drains the queue.
  }
  auto store = open_sqlite_store(dir.str());
  const auto upstream = store->load_upstream_keys();
  REQUIRE(upstream.size() == 1);
  check_same(upstream[0], full_upstream_key());
  const auto virtual_keys = store->load_virtual_keys();
  REQUIRE(virtual_keys.size() == 2);
  check_same(virtual_keys[1], full_virtual_key());
  CHECK(store->load_meta("k") == std::optional<std::string>("v"));
  const auto entries = query(*store, AuditQuery{std::nullopt, 1000});
  REQUIRE(entries.size() == 100);
  CHECK(entries.front().target == "req_0");
  CHECK(entries.back().target == "req_99");
  CHECK(entries.back().id == 100);

  // Ids keep increasing after a reopen.
  store->append_audit(audit(1000, "after_reopen"));
  const auto last = query(*store, AuditQuery{std::nullopt, 1});
  REQUIRE(last.size() == 1);
  CHECK(last[0].id == 101);
  CHECK(last[0].target == "after_reopen");
}

TEST_CASE("store: the file is in WAL mode at schema version 2", "[store]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  RawDb raw(dir.db());
  CHECK(raw.text("PRAGMA journal_mode") == "wal");
  CHECK(raw.integer("PRAGMA user_version") == 2);
  CHECK(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                    "('meta', 'upstream_keys', 'virtual_keys', 'audit', 'ledger', 'budgets')") == 6);
  CHECK(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'audit_at'") == 1);
  // Every request inserts a ledger row: it keeps to one index.
  CHECK(raw.text("SELECT group_concat(name) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger' "
                 "AND sql IS NOT NULL") == "ledger_at");
  CHECK(raw.integer("SELECT \"unique\" FROM pragma_index_list('virtual_keys') WHERE name = 'virtual_keys_key_hash'") ==
        1);
}

TEST_CASE("store: the data directory is created when absent", "[store]") {
  TempDir dir;
  const auto nested = dir.str() + "/a/b/data";
  auto store = open_sqlite_store(nested);
  store->put_meta("k", "v");
  store->flush();
  CHECK(fs::exists(fs::path(nested) / "tollgate.db"));
}

TEST_CASE("store: a schema newer than this binary refuses to open", "[store]") {
  TempDir dir;
  open_sqlite_store(dir.str()).reset();
  {
    RawDb raw(dir.db());
    raw.exec("PRAGMA user_version = 7");
  }
  try {
    open_sqlite_store(dir.str());
    FAIL("open succeeded");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains(dir.db().string()));
    CHECK_THAT(message, Catch::Contains("has schema version 7 but this tollgate knows up to 2"));
    CHECK_THAT(message, Catch::Contains("--data-dir"));
  }
  RawDb raw(dir.db());
  CHECK(raw.integer("PRAGMA user_version") == 7);  // left alone
}

TEST_CASE("store: a file that is not a database refuses to open, naming the file", "[store]") {
  TempDir dir;
  {
    std::ofstream out(dir.db(), std::ios::binary);
    for (int i = 0; i < 200; ++i) out << "this is not an SQLite database, just some text\n";
  }
  try {
    open_sqlite_store(dir.str());
    FAIL("open succeeded");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains(dir.db().string()));
    CHECK_THAT(message, Catch::Contains("not a database"));
  }
}

TEST_CASE("store: a data directory that cannot be created refuses to open, naming it", "[store]") {
  TempDir dir;
  { std::ofstream(dir.db()) << "a plain file"; }
  // A directory below a regular file cannot exist, even for root.
  const auto impossible = (dir.db() / "data").string();
  try {
    open_sqlite_store(impossible);
    FAIL("open succeeded");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains(impossible));
  }
}

TEST_CASE("store: query_audit since and limit", "[store]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  // `at` is deliberately not in id order: results and the filter follow `at`.
  const std::vector<UnixMillis> ats = {500, 100, 300, 200, 400};
  for (std::size_t i = 0; i < ats.size(); ++i) store->append_audit(audit(ats[i], "t" + std::to_string(i)));

  // No flush anywhere below: each query is queued behind the appends (read-your-writes).
  CHECK(ids(query(*store, AuditQuery{300, 10})) == std::vector<std::int64_t>{3, 5, 1});
  CHECK(ids(query(*store, AuditQuery{300, 2})) == std::vector<std::int64_t>{3, 5});
  CHECK(ids(query(*store, AuditQuery{100, 100})) == std::vector<std::int64_t>{2, 4, 3, 5, 1});
  CHECK(ids(query(*store, AuditQuery{501, 10})).empty());
  CHECK(ids(query(*store, AuditQuery{std::nullopt, 2})) == std::vector<std::int64_t>{5, 1});
  CHECK(ids(query(*store, AuditQuery{std::nullopt, 100})) == std::vector<std::int64_t>{2, 4, 3, 5, 1});
  CHECK(ids(query(*store, AuditQuery{std::nullopt, 0})).empty());
  CHECK(ids(query(*store, AuditQuery{300, 0})).empty());

  // Appended last but earliest in time: first in the list, and not among the last entries.
  store->append_audit(audit(50, "late"));
  const auto all = query(*store, AuditQuery{std::nullopt, 100});
  REQUIRE(all.size() == 6);
  CHECK(all[0].id == 6);
  CHECK(all[0].target == "late");
  CHECK(ids(query(*store, AuditQuery{std::nullopt, 1})) == std::vector<std::int64_t>{1});
  // Equal times keep id order.
  store->append_audit(audit(300, "same_time"));
  CHECK(ids(query(*store, AuditQuery{300, 10})) == std::vector<std::int64_t>{3, 7, 5, 1});
}

TEST_CASE("store: 10k audit appends from many threads are all kept, in each thread's order", "[store]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 1250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kPerThread; ++i) store->append_audit(audit(i, std::to_string(t) + ":" + std::to_string(i)));
    });
  }
  for (auto& thread : threads) thread.join();
  store->flush();

  RawDb raw(dir.db());
  CHECK(raw.integer("SELECT count(*) FROM audit") == kThreads * kPerThread);

  const auto entries = query(*store, AuditQuery{std::nullopt, 20'000});
  REQUIRE(entries.size() == kThreads * kPerThread);
  bool increasing = true;  // in (at, id) order
  bool per_thread_order = true;
  std::map<int, int> next_seq;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0 && std::pair(entries[i].at, entries[i].id) <= std::pair(entries[i - 1].at, entries[i - 1].id))
      increasing = false;
    const auto colon = entries[i].target.find(':');
    const int thread = std::stoi(entries[i].target.substr(0, colon));
    const int seq = std::stoi(entries[i].target.substr(colon + 1));
    if (seq != next_seq[thread]) per_thread_order = false;
    next_seq[thread] = seq + 1;
  }
  CHECK(increasing);
  CHECK(per_thread_order);
  CHECK(entries.front().id == 1);
  CHECK(entries.back().id == kThreads * kPerThread);
}

TEST_CASE("store: every Done is called exactly once, with true, on the writer thread", "[store]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  constexpr std::size_t kJobs = 300;
  DoneLog log(kJobs);
  std::vector<std::thread::id> threads(kJobs);
  for (std::size_t i = 0; i < kJobs; ++i) {
    auto record = bare_upstream_key();
    record.id = "key_" + std::to_string(i);
    auto counted = log.callback(i);
    auto done = [counted, &threads, i](bool ok) {
      threads[i] = std::this_thread::get_id();
      counted(ok);
    };
    switch (i % 3) {
      case 0: store->put_upstream_key(record, done); break;
      case 1: store->put_meta("m" + std::to_string(i), "v", done); break;
      default: store->delete_upstream_key("key_" + std::to_string(i - 2), done); break;
    }
  }
  store->flush();
  CHECK(log.calls == std::vector<int>(kJobs, 1));
  CHECK(log.committed == std::vector<int>(kJobs, 1));
  for (const auto& id : threads) CHECK(id != std::this_thread::get_id());
  CHECK(store->load_upstream_keys().empty());  // each put was followed by its delete

  // Nothing is called twice later on either (the destructor drains nothing new).
  store.reset();
  CHECK(log.calls == std::vector<int>(kJobs, 1));
}

TEST_CASE("store: queued writes are committed in groups, at most 1000 jobs per transaction", "[store]") {
  TempDir dir;
  std::vector<std::size_t> commits;  // written on the writer thread, read after flush()
  SqliteStoreOptions options;
  options.on_commit = [&commits](std::size_t jobs) { commits.push_back(jobs); };
  auto store = open_sqlite_store(dir.str(), options);
  std::size_t before = 0;
  {
    WriterBlock block(*store);
    before = commits.size();
    for (int i = 0; i < 2500; ++i) store->append_audit(audit(i, "g" + std::to_string(i)));
    block.release();
  }
  store->flush();
  CHECK(std::vector<std::size_t>(commits.begin() + static_cast<std::ptrdiff_t>(before), commits.end()) ==
        std::vector<std::size_t>{1000, 1000, 500});
  RawDb raw(dir.db());
  CHECK(raw.integer("SELECT count(*) FROM audit") == 2500);
}

TEST_CASE("store: a job that fails on its own is undone alone; the rest of its batch commits", "[store]") {
  TempDir dir;
  std::vector<std::size_t> commits;
  SqliteStoreOptions options;
  options.on_commit = [&commits](std::size_t jobs) { commits.push_back(jobs); };
  auto store = open_sqlite_store(dir.str(), options);
  DoneLog log(4);
  std::size_t before = 0;
  {
    WriterBlock block(*store);
    before = commits.size();
    auto first = bare_virtual_key();
    auto clash = full_virtual_key();
    clash.key_hash = first.key_hash;  // unique index on key_hash
    store->put_virtual_key(first, log.callback(0));
    store->put_meta("before_clash", "1", log.callback(1));
    store->put_virtual_key(clash, log.callback(2));
    store->put_meta("after_clash", "2", log.callback(3));
    store->append_audit(audit(1, "after_clash"));
    block.release();
  }
  store->flush();
  CHECK(log.calls == std::vector<int>{1, 1, 1, 1});
  CHECK(log.committed == std::vector<int>{1, 1, 0, 1});
  CHECK(std::vector<std::size_t>(commits.begin() + static_cast<std::ptrdiff_t>(before), commits.end()) ==
        std::vector<std::size_t>{5});
  const auto keys = store->load_virtual_keys();
  REQUIRE(keys.size() == 1);
  check_same(keys[0], bare_virtual_key());  // the clash did not replace or delete it
  CHECK(store->load_meta("before_clash") == std::optional<std::string>("1"));
  CHECK(store->load_meta("after_clash") == std::optional<std::string>("2"));
  CHECK(query(*store, AuditQuery{}).size() == 1);
}

TEST_CASE("store: a batch that meets a busy database is retried until it commits", "[store]") {
  TempDir dir;
  auto first_retry = std::make_shared<std::promise<int>>();
  auto retried = first_retry->get_future();
  std::atomic<int> retries{0};
  SqliteStoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(0);
  options.first_backoff = std::chrono::milliseconds(1);
  options.max_backoff = std::chrono::milliseconds(4);
  options.on_retry = [first_retry, &retries](int code) {
    if (retries++ == 0) first_retry->set_value(code);
  };
  auto store = open_sqlite_store(dir.str(), options);
  RawDb other(dir.db());
  other.exec("BEGIN IMMEDIATE");  // another process holds the write lock

  DoneLog log(1);
  store->put_meta("k", "v", log.callback(0));
  store->append_audit(audit(1, "waits"));
  CHECK((retried.get() & 0xff) == SQLITE_BUSY);
  other.exec("COMMIT");
  store->flush();

  CHECK(retries.load() >= 1);
  CHECK(log.calls == std::vector<int>{1});
  CHECK(log.committed == std::vector<int>{1});
  CHECK(store->load_meta("k") == std::optional<std::string>("v"));
  CHECK(query(*store, AuditQuery{}).size() == 1);
}

TEST_CASE("store: a virtual key whose stored model list is corrupt is left out, not opened to every model", "[store]") {
  TempDir dir;
  {
    auto store = open_sqlite_store(dir.str());
    store->put_virtual_key(full_virtual_key());
    store->put_virtual_key(bare_virtual_key());
  }
  {
    RawDb raw(dir.db());
    raw.exec("UPDATE virtual_keys SET models = 'not json' WHERE id = 'vk_full'");
  }
  auto store = open_sqlite_store(dir.str());
  const auto keys = store->load_virtual_keys();
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].id == "vk_bare");
}

namespace {

/// 2026-11-22T00:00:00Z.
constexpr UnixMillis kDay0 = 1'795'305'600'000;
constexpr UnixMillis kHour = 3'600'000;
constexpr UnixMillis kDayMs = 24 * kHour;

LedgerRecord full_ledger() {
  LedgerRecord record;
  record.request_id = "req_full";
  record.at = kDay0 + 1234;
  record.route = "/v1/chat/completions";
  record.caller = "vk_a";
  record.virtual_key = "vk_a";
  record.team = "ml";
  record.project = "search";
  record.customer = "acme";
  record.feature = "chat";
  record.tags = R"({"feature":"chat","env":"prod"})";
  record.model = "smart";
  record.served_model = "gpt-4o-mini";
  record.provider = "openai";
  record.deployment = "gpt-4o-mini";
  record.prompt_tokens = 1200;
  record.completion_tokens = 345;
  record.cached_tokens = 1000;
  record.reasoning_tokens = 40;
  record.usage_source = "provider";
  record.cost_nanos = 1'234'567'890'123;
  record.saved_nanos = 12'500'000'000;
  record.saved_source = "routing";
  record.cache = "miss";
  record.dedup = "leader";
  record.routing_reason = "budget downgrade \"soft\"";
  record.attempts = 2;
  record.latency_ms = 12.5;
  record.status = 200;
  return record;
}

/// A request refused before any upstream answered: most fields empty.
LedgerRecord bare_ledger() {
  LedgerRecord record;
  record.request_id = "req_bare";
  record.at = kDay0 + 5;
  record.route = "/v1/embeddings";
  record.caller = "master";
  record.model = "gpt-4o-mini";
  record.served_model = "gpt-4o-mini";
  record.usage_source = "none";
  record.status = 429;
  record.error = "budget_exceeded";
  return record;
}

LedgerRecord priced(UnixMillis at, std::string model, std::string provider, std::string virtual_key, std::string team,
                    std::int64_t prompt, std::int64_t completion, std::int64_t cost, std::int64_t saved) {
  LedgerRecord record;
  record.request_id = "req_" + std::to_string(at);
  record.at = at;
  record.route = "/v1/chat/completions";
  record.caller = virtual_key.empty() ? "master" : virtual_key;
  record.virtual_key = std::move(virtual_key);
  record.team = std::move(team);
  record.model = model;
  record.served_model = std::move(model);
  record.provider = provider;
  record.deployment = provider + "-model";
  record.prompt_tokens = prompt;
  record.completion_tokens = completion;
  record.cost_nanos = cost;
  record.saved_nanos = saved;
  record.usage_source = "provider";
  record.status = 200;
  return record;
}

/// Five requests over two days, with ties in cost and empty values.
std::vector<LedgerRecord> usage_fixture() {
  std::vector<LedgerRecord> rows = {
      priced(kDay0, "gpt-4o-mini", "openai", "vk_a", "ml", 100, 50, 1000, 0),
      priced(kDay0 + kHour / 2, "gpt-4o-mini", "openai", "vk_b", "ml", 200, 20, 3000, 500),
      priced(kDay0 + kHour, "smart", "anthropic", "vk_a", "", 10, 5, 2000, 0),
      priced(kDay0 + kDayMs + 5 * kHour, "smart", "openai", "", "", 1, 1, 2000, 7),
      priced(kDay0 + kDayMs + 5 * kHour + 1, "mock-1", "mock", "vk_b", "web", 0, 0, 0, 1),
  };
  rows[0].project = "p1";
  rows[0].customer = "acme";
  rows[0].feature = "chat";
  rows[1].project = "p2";
  rows[2].project = "p1";
  rows[2].customer = "acme";
  rows[2].feature = "search";
  rows[3].customer = "globex";
  rows[3].feature = "chat";
  return rows;
}

std::optional<UsageReport> usage(Store& store, UsageQuery q) {
  std::promise<std::optional<UsageReport>> promise;
  auto future = promise.get_future();
  store.query_usage(std::move(q), [&promise](std::optional<UsageReport> report) { promise.set_value(std::move(report)); });
  return future.get();
}

std::optional<SpendRows> spend(Store& store, SpendQuery q) {
  std::promise<std::optional<SpendRows>> promise;
  auto future = promise.get_future();
  store.query_spend(std::move(q), [&promise](std::optional<SpendRows> rows) { promise.set_value(std::move(rows)); });
  return future.get();
}

using SpendMap = std::map<std::string, std::int64_t>;
SpendMap as_map(const SpendRows& rows) { return SpendMap(rows.begin(), rows.end()); }

UsageRow row(std::string group, std::int64_t requests, std::int64_t prompt, std::int64_t completion, std::int64_t cost,
             std::int64_t saved) {
  return UsageRow{std::move(group), requests, prompt, completion, cost, saved};
}

std::string describe(const std::vector<UsageRow>& rows) {
  std::string out;
  for (const auto& r : rows)
    out += fmt::format("[{} req={} p={} c={} cost={} saved={}] ", r.group, r.requests, r.prompt_tokens,
                       r.completion_tokens, r.cost_nanos, r.saved_nanos);
  return out;
}

bool same_rows(const std::vector<UsageRow>& got, const std::vector<UsageRow>& want) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto& a = got[i];
    const auto& b = want[i];
    if (a.group != b.group || a.requests != b.requests || a.prompt_tokens != b.prompt_tokens ||
        a.completion_tokens != b.completion_tokens || a.cost_nanos != b.cost_nanos || a.saved_nanos != b.saved_nanos)
      return false;
  }
  return true;
}

/// The value a ledger row has for `group_by`, computed here independently of the SQL.
std::string group_of(const LedgerRecord& r, const std::string& group_by) {
  if (group_by == "model") return r.model;
  if (group_by == "provider") return r.provider;
  if (group_by == "deployment") return r.deployment;
  if (group_by == "virtual_key") return r.virtual_key;
  if (group_by == "team") return r.team;
  if (group_by == "project") return r.project;
  if (group_by == "customer") return r.customer;
  if (group_by == "feature") return r.feature;
  const bool first_day = r.at < kDay0 + kDayMs;
  const std::string day = first_day ? "2026-11-22" : "2026-11-23";
  if (group_by == "day") return day;
  if (group_by == "hour") return day + fmt::format("T{:02}", ((r.at - kDay0) % kDayMs) / kHour);
  throw std::logic_error("unknown group_by " + group_by);
}

/// What query_usage must answer for `rows` without a limit: by cost descending, then group ascending.
std::vector<UsageRow> expected_usage(const std::vector<LedgerRecord>& rows, const std::string& group_by) {
  std::map<std::string, UsageRow> groups;
  for (const auto& r : rows) {
    auto& g = groups[group_of(r, group_by)];
    g.group = group_of(r, group_by);
    g.requests += 1;
    g.prompt_tokens += r.prompt_tokens;
    g.completion_tokens += r.completion_tokens;
    g.cost_nanos += r.cost_nanos;
    g.saved_nanos += r.saved_nanos;
  }
  std::vector<UsageRow> out;
  for (auto& [name, g] : groups) out.push_back(g);
  std::stable_sort(out.begin(), out.end(), [](const UsageRow& a, const UsageRow& b) { return a.cost_nanos > b.cost_nanos; });
  return out;
}

BudgetRecord full_budget() {
  BudgetRecord record;
  record.id = "bud_full";
  record.scope = "team";
  record.scope_id = "ml";
  record.period = "monthly";
  record.timezone = "Europe/Berlin";
  record.limit_nanos = 500'000'000'001;
  record.enforcement = "soft";
  record.downgrade_to = "gpt-4o-mini";
  record.alerts = "[0.5,0.75,0.9]";
  record.created_at = 1'700'000'000'000;
  record.updated_at = 1'700'000'000'002;
  return record;
}

BudgetRecord bare_budget() {
  BudgetRecord record;
  record.id = "bud_bare";
  record.scope = "global";
  record.period = "total";
  record.limit_nanos = 1;
  record.created_at = 3;
  record.updated_at = 4;
  return record;
}

void check_same(const BudgetRecord& got, const BudgetRecord& want) {
  INFO("budget " << want.id);
  CHECK(got.id == want.id);
  CHECK(got.scope == want.scope);
  CHECK(got.scope_id == want.scope_id);
  CHECK(got.period == want.period);
  CHECK(got.timezone == want.timezone);
  CHECK(got.limit_nanos == want.limit_nanos);
  CHECK(got.enforcement == want.enforcement);
  CHECK(got.downgrade_to == want.downgrade_to);
  CHECK(got.alerts == want.alerts);
  CHECK(got.created_at == want.created_at);
  CHECK(got.updated_at == want.updated_at);
}

/// The schema version 1 script as released, to build a file an older tollgate wrote.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT;
CREATE TABLE upstream_keys (
  id TEXT PRIMARY KEY NOT NULL, provider_id TEXT NOT NULL, sealed TEXT NOT NULL, fingerprint TEXT NOT NULL,
  state TEXT NOT NULL, state_reason TEXT NOT NULL, metadata TEXT NOT NULL, rpm INTEGER, tpm INTEGER,
  weight REAL NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;
CREATE TABLE virtual_keys (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, key_hash TEXT NOT NULL, hint TEXT NOT NULL,
  models TEXT NOT NULL, rpm INTEGER, tpm INTEGER, budget TEXT NOT NULL, team TEXT NOT NULL,
  project TEXT NOT NULL, customer TEXT NOT NULL, expires_at INTEGER, revoked_at INTEGER,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;
CREATE UNIQUE INDEX virtual_keys_key_hash ON virtual_keys (key_hash);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL, status INTEGER NOT NULL, detail TEXT NOT NULL) STRICT;
CREATE INDEX audit_at ON audit (at);
PRAGMA user_version = 1;
)sql";

std::vector<std::string> kinds_and_targets(const std::vector<AuditRecord>& entries) {
  std::vector<std::string> out;
  for (const auto& entry : entries) out.push_back(entry.kind + ":" + entry.target);
  return out;
}

}  // namespace

TEST_CASE("store: a version 1 file migrates to version 2 and keeps its data", "[store][ledger]") {
  TempDir dir;
  {
    RawDb raw(dir.db());
    raw.exec("PRAGMA journal_mode = WAL");
    raw.exec(kSchemaV1);
    raw.exec("INSERT INTO virtual_keys VALUES ('vk_old', 'old key', '" + std::string(64, 'd') +
             "', 'tg-…old1', '[\"smart\"]', 5, NULL, '', 'ml', '', '', NULL, NULL, 10, 11)");
    raw.exec("INSERT INTO audit (at, kind, actor, action, target, status, detail) "
             "VALUES (77, 'admin', 'master', 'virtual_keys.create', 'vk_old', 201, '{}')");
    raw.exec("INSERT INTO meta VALUES ('secret_check', 'v1:old')");
  }
  auto store = open_sqlite_store(dir.str());
  {
    RawDb raw(dir.db());
    CHECK(raw.integer("PRAGMA user_version") == 2);
    CHECK(raw.integer("SELECT count(*) FROM sqlite_master WHERE name IN ('ledger', 'budgets', 'ledger_at')") == 3);
  }
  const auto keys = store->load_virtual_keys();
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].id == "vk_old");
  CHECK(keys[0].models == std::vector<std::string>{"smart"});
  CHECK(keys[0].rpm == std::optional<std::int64_t>(5));
  CHECK(store->load_meta("secret_check") == std::optional<std::string>("v1:old"));
  CHECK(store->load_budgets().empty());

  // The new tables work, beside the old audit row.
  store->append_ledger(bare_ledger());
  const auto entries = query(*store, AuditQuery{});
  CHECK(kinds_and_targets(entries) == std::vector<std::string>{"admin:vk_old", "request:req_bare"});
  const auto report = usage(*store, UsageQuery{0, kDay0 + kDayMs, "model", 0});
  REQUIRE(report);
  CHECK(report->total.requests == 1);

  // Opening again runs no migration twice.
  store.reset();
  store = open_sqlite_store(dir.str());
  CHECK(query(*store, AuditQuery{}).size() == 2);
}

TEST_CASE("store: every field of a ledger record is stored in its own column", "[store][ledger]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  store->append_ledger(bare_ledger());
  store->append_ledger(full_ledger());
  store->flush();
  RawDb raw(dir.db());
  const auto field = [&raw](const std::string& column) {
    return raw.text("SELECT " + column + " FROM ledger WHERE request_id = 'req_full'");
  };
  const auto want = full_ledger();
  CHECK(field("id") == "2");
  CHECK(field("at") == std::to_string(want.at));
  CHECK(field("route") == want.route);
  CHECK(field("caller") == want.caller);
  CHECK(field("virtual_key") == want.virtual_key);
  CHECK(field("team") == want.team);
  CHECK(field("project") == want.project);
  CHECK(field("customer") == want.customer);
  CHECK(field("feature") == want.feature);
  CHECK(field("tags") == want.tags);
  CHECK(field("model") == want.model);
  CHECK(field("served_model") == want.served_model);
  CHECK(field("provider") == want.provider);
  CHECK(field("deployment") == want.deployment);
  CHECK(field("prompt_tokens") == "1200");
  CHECK(field("completion_tokens") == "345");
  CHECK(field("cached_tokens") == "1000");
  CHECK(field("reasoning_tokens") == "40");
  CHECK(field("usage_source") == want.usage_source);
  CHECK(field("typeof(cost_nanos) || ':' || cost_nanos") == "integer:1234567890123");
  CHECK(field("typeof(saved_nanos) || ':' || saved_nanos") == "integer:12500000000");
  CHECK(field("saved_source") == want.saved_source);
  CHECK(field("cache") == want.cache);
  CHECK(field("dedup") == want.dedup);
  CHECK(field("routing_reason") == want.routing_reason);
  CHECK(field("attempts") == "2");
  CHECK(field("typeof(latency_ms) || ':' || latency_ms") == "real:12.5");
  CHECK(field("status") == "200");
  CHECK(field("error").empty());
  CHECK(raw.text("SELECT error FROM ledger WHERE request_id = 'req_bare'") == "budget_exceeded");
}

TEST_CASE("store: query_usage groups the ledger by every column, total over all rows", "[store][ledger]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  const auto rows = usage_fixture();
  for (const auto& r : rows) store->append_ledger(r);
  const UsageRow want_total = row("", 5, 311, 76, 8000, 508);
  const UnixMillis from = kDay0;
  const UnixMillis to = kDay0 + 2 * kDayMs;

  SECTION("concrete groups, ties in cost by group ascending, empty values as \"\"") {
    const std::map<std::string, std::vector<UsageRow>> cases = {
        {"model", {row("gpt-4o-mini", 2, 300, 70, 4000, 500), row("smart", 2, 11, 6, 4000, 7),
                   row("mock-1", 1, 0, 0, 0, 1)}},
        {"team", {row("", 2, 11, 6, 4000, 7), row("ml", 2, 300, 70, 4000, 500), row("web", 1, 0, 0, 0, 1)}},
        {"virtual_key", {row("vk_a", 2, 110, 55, 3000, 0), row("vk_b", 2, 200, 20, 3000, 501),
                         row("", 1, 1, 1, 2000, 7)}},
        {"day", {row("2026-11-22", 3, 310, 75, 6000, 500), row("2026-11-23", 2, 1, 1, 2000, 8)}},
        {"hour", {row("2026-11-22T00", 2, 300, 70, 4000, 500), row("2026-11-22T01", 1, 10, 5, 2000, 0),
                  row("2026-11-23T05", 2, 1, 1, 2000, 8)}},
    };
    for (const auto& [group_by, want] : cases) {
      INFO("group_by " << group_by);
      const auto report = usage(*store, UsageQuery{from, to, group_by, 0});
      REQUIRE(report);
      INFO("got " << describe(report->rows));
      CHECK(same_rows(report->rows, want));
      CHECK(same_rows({report->total}, {want_total}));
    }
  }

  SECTION("every group_by matches an independent sum, and its rows add up to the total") {
    for (const std::string group_by : {"model", "provider", "deployment", "virtual_key", "team", "project", "customer",
                                       "feature", "day", "hour"}) {
      INFO("group_by " << group_by);
      const auto report = usage(*store, UsageQuery{from, to, group_by, 0});
      REQUIRE(report);
      INFO("got " << describe(report->rows));
      CHECK(same_rows(report->rows, expected_usage(rows, group_by)));
      UsageRow sum;
      for (const auto& r : report->rows) {
        sum.requests += r.requests;
        sum.prompt_tokens += r.prompt_tokens;
        sum.completion_tokens += r.completion_tokens;
        sum.cost_nanos += r.cost_nanos;
        sum.saved_nanos += r.saved_nanos;
      }
      CHECK(same_rows({sum}, {want_total}));
      CHECK(same_rows({report->total}, {want_total}));
    }
  }

  SECTION("no group_by: the total only") {
    const auto report = usage(*store, UsageQuery{from, to, "", 0});
    REQUIRE(report);
    CHECK(report->rows.empty());
    CHECK(same_rows({report->total}, {want_total}));
  }

  SECTION("limit keeps the top groups by cost; the total still covers every row") {
    auto report = usage(*store, UsageQuery{from, to, "model", 1});
    REQUIRE(report);
    CHECK(same_rows(report->rows, {row("gpt-4o-mini", 2, 300, 70, 4000, 500)}));
    CHECK(same_rows({report->total}, {want_total}));
    report = usage(*store, UsageQuery{from, to, "provider", 2});
    REQUIRE(report);
    CHECK(same_rows(report->rows, {row("openai", 3, 301, 71, 6000, 507), row("anthropic", 1, 10, 5, 2000, 0)}));
    report = usage(*store, UsageQuery{from, to, "provider", 100});
    REQUIRE(report);
    CHECK(report->rows.size() == 3);
  }

  SECTION("from is inclusive, to exclusive") {
    // From the third request's instant to the fifth's: the third and fourth only.
    auto report = usage(*store, UsageQuery{kDay0 + kHour, kDay0 + kDayMs + 5 * kHour + 1, "model", 0});
    REQUIRE(report);
    CHECK(same_rows(report->rows, {row("smart", 2, 11, 6, 4000, 7)}));
    CHECK(same_rows({report->total}, {row("", 2, 11, 6, 4000, 7)}));
    report = usage(*store, UsageQuery{kDay0 + 1, kDay0 + kHour, "model", 0});
    REQUIRE(report);
    CHECK(same_rows(report->rows, {row("gpt-4o-mini", 1, 200, 20, 3000, 500)}));
    report = usage(*store, UsageQuery{from, from, "model", 0});
    REQUIRE(report);
    CHECK(report->rows.empty());
    CHECK(same_rows({report->total}, {row("", 0, 0, 0, 0, 0)}));
  }

  SECTION("an unknown group_by is a failed read, not SQL") {
    CHECK_FALSE(usage(*store, UsageQuery{from, to, "model; DROP TABLE ledger", 0}).has_value());
    CHECK_FALSE(usage(*store, UsageQuery{from, to, "tags", 0}).has_value());
    const auto report = usage(*store, UsageQuery{from, to, "model", 0});
    REQUIRE(report);
    CHECK(report->total.requests == 5);
  }
}

TEST_CASE("store: spend per column over [from, to), at start-up and queued", "[store][ledger]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  for (const auto& r : usage_fixture()) store->append_ledger(r);
  const UnixMillis from = kDay0;
  const UnixMillis to = kDay0 + 2 * kDayMs;

  CHECK(store->load_spend(SpendQuery{"", from, to}) == SpendRows{{"", 8000}});
  CHECK(store->load_spend(SpendQuery{"", to, to + kDayMs}) == SpendRows{{"", 0}});  // always one row
  CHECK(as_map(store->load_spend(SpendQuery{"model", from, to})) ==
        SpendMap{{"gpt-4o-mini", 4000}, {"smart", 4000}, {"mock-1", 0}});
  CHECK(as_map(store->load_spend(SpendQuery{"virtual_key", from, to})) ==
        SpendMap{{"vk_a", 3000}, {"vk_b", 3000}, {"", 2000}});
  CHECK(as_map(store->load_spend(SpendQuery{"provider", from, to})) ==
        SpendMap{{"openai", 6000}, {"anthropic", 2000}, {"mock", 0}});
  CHECK(as_map(store->load_spend(SpendQuery{"team", from, to})) == SpendMap{{"ml", 4000}, {"", 4000}, {"web", 0}});
  CHECK(as_map(store->load_spend(SpendQuery{"project", from, to})) ==
        SpendMap{{"p1", 3000}, {"p2", 3000}, {"", 2000}});
  CHECK(as_map(store->load_spend(SpendQuery{"customer", from, to})) ==
        SpendMap{{"acme", 3000}, {"globex", 2000}, {"", 3000}});
  CHECK(as_map(store->load_spend(SpendQuery{"feature", from, to})) ==
        SpendMap{{"chat", 3000}, {"search", 2000}, {"", 3000}});
  // The first day only, its last instant excluded: the second day's rows are left out.
  CHECK(as_map(store->load_spend(SpendQuery{"model", kDay0, kDay0 + kDayMs})) ==
        SpendMap{{"gpt-4o-mini", 4000}, {"smart", 2000}});
  CHECK(as_map(store->load_spend(SpendQuery{"model", kDay0 + 1, kDay0 + kHour})) == SpendMap{{"gpt-4o-mini", 3000}});

  // Queued: the same answers, read after the writes queued before.
  store->append_ledger(priced(kDay0 + 2, "smart", "openai", "vk_c", "", 1, 1, 11, 0));
  const auto queued = spend(*store, SpendQuery{"virtual_key", from, to});
  REQUIRE(queued);
  CHECK(as_map(*queued) == SpendMap{{"vk_a", 3000}, {"vk_b", 3000}, {"vk_c", 11}, {"", 2000}});
  CHECK(spend(*store, SpendQuery{"", from, to}) == std::optional<SpendRows>(SpendRows{{"", 8011}}));

  // Not a spend column: refused without touching SQL.
  CHECK_FALSE(spend(*store, SpendQuery{"day", from, to}).has_value());
  CHECK_FALSE(spend(*store, SpendQuery{"model'--", from, to}).has_value());
  CHECK_THROWS(store->load_spend(SpendQuery{"hour", from, to}));
}

TEST_CASE("store: budgets are put, replaced and deleted by id, and survive a reopen", "[store][ledger]") {
  TempDir dir;
  auto changed = full_budget();
  changed.limit_nanos = 7;
  changed.enforcement = "hard";
  changed.downgrade_to.clear();
  changed.alerts = "[]";
  changed.updated_at += 10;
  {
    auto store = open_sqlite_store(dir.str());
    DoneLog log(5);
    store->put_budget(full_budget(), log.callback(0));
    store->put_budget(bare_budget(), log.callback(1));
    auto other = bare_budget();
    other.id = "bud_other";
    store->put_budget(other, log.callback(2));
    store->delete_budget("bud_other", log.callback(3));
    store->delete_budget("bud_never_existed", log.callback(4));
    const auto budgets = store->load_budgets();
    REQUIRE(budgets.size() == 2);
    check_same(budgets[0], bare_budget());  // ordered by id
    check_same(budgets[1], full_budget());
    CHECK(budgets[0].timezone == "UTC");
    CHECK(budgets[0].alerts == "[]");
    CHECK(log.calls == std::vector<int>{1, 1, 1, 1, 1});
    CHECK(log.committed == std::vector<int>{1, 1, 1, 1, 1});
    store->put_budget(changed);
  }
  auto store = open_sqlite_store(dir.str());
  const auto budgets = store->load_budgets();
  REQUIRE(budgets.size() == 2);
  check_same(budgets[0], bare_budget());
  check_same(budgets[1], changed);
}

TEST_CASE("store: query_audit merges audit and ledger rows in (at, id) order; since and limit apply to the merge",
          "[store][ledger]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  const auto admin = [](UnixMillis at, std::string target) {
    auto record = audit(at, std::move(target));
    record.kind = "admin";
    record.actor = "master";
    record.action = "budgets.create";
    return record;
  };
  const auto request = [](UnixMillis at, std::string id) {
    auto record = bare_ledger();
    record.at = at;
    record.request_id = std::move(id);
    return record;
  };
  store->append_audit(admin(100, "a1"));            // audit id 1
  store->append_ledger(request(200, "l1"));         // ledger id 1
  store->append_audit(admin(300, "a2"));            // audit id 2
  store->append_ledger(request(300, "l2"));         // ledger id 2
  store->append_audit(audit(300, "a3_unauthorized"));  // audit id 3: a request that never reached the pipeline
  store->append_ledger(request(50, "l3"));          // ledger id 3

  const std::vector<std::string> all = {"request:l3", "admin:a1", "request:l1", "admin:a2", "request:l2",
                                        "request:a3_unauthorized"};
  const auto entries = query(*store, AuditQuery{std::nullopt, 100});
  CHECK(kinds_and_targets(entries) == all);
  CHECK(ids(entries) == std::vector<std::int64_t>{3, 1, 1, 2, 2, 3});  // ids are per table
  CHECK(kinds_and_targets(query(*store, AuditQuery{0, 100})) == all);
  CHECK(kinds_and_targets(query(*store, AuditQuery{200, 100})) ==
        std::vector<std::string>{"request:l1", "admin:a2", "request:l2", "request:a3_unauthorized"});
  CHECK(kinds_and_targets(query(*store, AuditQuery{200, 2})) == std::vector<std::string>{"request:l1", "admin:a2"});
  CHECK(kinds_and_targets(query(*store, AuditQuery{301, 2})).empty());
  CHECK(kinds_and_targets(query(*store, AuditQuery{std::nullopt, 2})) ==
        std::vector<std::string>{"request:l2", "request:a3_unauthorized"});
  CHECK(kinds_and_targets(query(*store, AuditQuery{std::nullopt, 4})) ==
        std::vector<std::string>{"request:l1", "admin:a2", "request:l2", "request:a3_unauthorized"});
  CHECK(query(*store, AuditQuery{std::nullopt, 0}).empty());
  CHECK(query(*store, AuditQuery{100, 0}).empty());
}

TEST_CASE("store: a ledger row reads as a request audit entry with its detail built in SQL", "[store][ledger]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  store->append_ledger(bare_ledger());  // at kDay0 + 5
  store->append_ledger(full_ledger());  // at kDay0 + 1234
  const auto entries = query(*store, AuditQuery{});
  REQUIRE(entries.size() == 2);

  CHECK(entries[1].id == 2);
  CHECK(entries[1].at == kDay0 + 1234);
  CHECK(entries[1].kind == "request");
  CHECK(entries[1].actor == "vk_a");
  CHECK(entries[1].action == "/v1/chat/completions");
  CHECK(entries[1].target == "req_full");
  CHECK(entries[1].status == 200);
  const auto full = nlohmann::json::parse(entries[1].detail, nullptr, false);
  REQUIRE_FALSE(full.is_discarded());
  CHECK(full == nlohmann::json::parse(R"({"model":"smart","served_model":"gpt-4o-mini","provider":"openai",
      "deployment":"gpt-4o-mini","prompt_tokens":1200,"completion_tokens":345,"usage_source":"provider",
      "cost_usd":"1234.567890123","saved_usd":"12.5","saved_source":"routing","cache":"miss","dedup":"leader",
      "routing_reason":"budget downgrade \"soft\"","attempts":2,"latency_ms":12.5})"));

  CHECK(entries[0].actor == "master");
  CHECK(entries[0].action == "/v1/embeddings");
  CHECK(entries[0].target == "req_bare");
  CHECK(entries[0].status == 429);
  // Empty strings and a served model equal to the requested one are left out.
  const auto bare = nlohmann::json::parse(entries[0].detail, nullptr, false);
  CHECK(bare == nlohmann::json::parse(R"({"model":"gpt-4o-mini","prompt_tokens":0,"completion_tokens":0,
      "usage_source":"none","cost_usd":"0","saved_usd":"0","attempts":0,"latency_ms":0.0,
      "error":"budget_exceeded"})"));
}

TEST_CASE("store: audit detail amounts are exact decimal USD strings", "[store][ledger]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  const std::vector<std::pair<std::int64_t, std::string>> cases = {
      {0, "0"},
      {1, "0.000000001"},
      {45'000, "0.000045"},
      {1'000'000'000, "1"},
      {10'000'000'000, "10"},
      {12'500'000'000, "12.5"},
      {999'999'999, "0.999999999"},
      {9'223'372'036'854'775'807, "9223372036.854775807"},
      {-100'000'000, "-0.1"},
      {-1'000'000'001, "-1.000000001"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto record = bare_ledger();
    record.at = static_cast<UnixMillis>(i);
    record.cost_nanos = cases[i].first;
    record.saved_nanos = cases[i].first;
    store->append_ledger(record);
  }
  const auto entries = query(*store, AuditQuery{std::nullopt, 100});
  REQUIRE(entries.size() == cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].first << " nanos");
    const auto detail = nlohmann::json::parse(entries[i].detail, nullptr, false);
    REQUIRE(detail.is_object());
    CHECK(detail.value("cost_usd", std::string("absent")) == cases[i].second);
    CHECK(detail.value("saved_usd", std::string("absent")) == cases[i].second);
  }
}

TEST_CASE("store: 10k appended ledger rows are all present after flush()", "[store][ledger]") {
  TempDir dir;
  // The writer thread's CPU time at each commit (written on the writer, read after flush()): its
  // cost per row without the time it waits for fsync.
  std::vector<std::pair<std::size_t, std::chrono::nanoseconds>> commits;
  SqliteStoreOptions options;
  options.on_commit = [&commits](std::size_t jobs) {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    commits.emplace_back(jobs, std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec));
  };
  auto store = open_sqlite_store(dir.str(), options);
  constexpr int kRows = 10'000;
  std::vector<LedgerRecord> records;
  records.reserve(kRows);
  std::int64_t want_cost = 0;
  for (int i = 0; i < kRows; ++i) {
    auto record = full_ledger();
    record.request_id = "req_" + std::to_string(i);
    record.at = kDay0 + i;
    record.cost_nanos = 1'000 + i;
    want_cost += record.cost_nanos;
    records.push_back(std::move(record));
  }

  // Queued while the writer is held, then timed from the release: the writer's own cost per row,
  // commits (one per 1000 rows, fsync included) and all.
  std::chrono::steady_clock::duration enqueue_time{};
  std::chrono::steady_clock::time_point released;
  std::size_t before = 0;
  {
    WriterBlock block(*store);
    before = commits.size();  // the block's own commit is the last one before the rows
    const auto start = std::chrono::steady_clock::now();
    for (auto& record : records) store->append_ledger(std::move(record));
    enqueue_time = std::chrono::steady_clock::now() - start;
    released = std::chrono::steady_clock::now();
    block.release();
  }
  store->flush();
  const auto writer_time = std::chrono::steady_clock::now() - released;
  REQUIRE(before >= 1);
  REQUIRE(commits.size() == before + kRows / 1000);
  std::size_t committed_rows = 0;
  for (std::size_t i = before; i < commits.size(); ++i) committed_rows += commits[i].first;
  CHECK(committed_rows == kRows);
  const double seconds = std::chrono::duration<double>(writer_time).count();
  const double cpu_us = std::chrono::duration<double, std::micro>(commits.back().second - commits[before - 1].second).count();
  std::printf("store: 10k ledger rows: %.0f rows/s (%.2f us/row wall, %.2f us/row writer CPU), enqueue %.2f us/row\n",
              kRows / seconds, seconds * 1e6 / kRows, cpu_us / kRows,
              std::chrono::duration<double, std::micro>(enqueue_time).count() / kRows);

  RawDb raw(dir.db());
  CHECK(raw.integer("SELECT count(*) FROM ledger") == kRows);
  CHECK(raw.integer("SELECT count(DISTINCT request_id) FROM ledger") == kRows);
  CHECK(raw.integer("SELECT max(id) FROM ledger") == kRows);
  const auto report = usage(*store, UsageQuery{kDay0, kDay0 + kDayMs, "model", 0});
  REQUIRE(report);
  CHECK(report->total.requests == kRows);
  CHECK(report->total.cost_nanos == want_cost);
  CHECK(store->load_spend(SpendQuery{"", kDay0, kDay0 + kDayMs}) == SpendRows{{"", want_cost}});
}
