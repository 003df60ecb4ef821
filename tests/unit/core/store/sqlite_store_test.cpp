// SQLite store: round trips, reopen, schema checks, audit queries, ordering, group commit and failures on a real file.
#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/store/sqlite_store.hpp"

using namespace tollgate::core;
namespace fs = std::filesystem;

namespace {

/// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tollgate-store-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string str() const { return path_.string(); }
  fs::path db() const { return path_ / "tollgate.db"; }

 private:
  fs::path path_;
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
  store->append_audit(audit(7, "after_reopen"));
  const auto last = query(*store, AuditQuery{std::nullopt, 1});
  REQUIRE(last.size() == 1);
  CHECK(last[0].id == 101);
  CHECK(last[0].target == "after_reopen");
}

TEST_CASE("store: the file is in WAL mode at schema version 1", "[store]") {
  TempDir dir;
  auto store = open_sqlite_store(dir.str());
  RawDb raw(dir.db());
  CHECK(raw.text("PRAGMA journal_mode") == "wal");
  CHECK(raw.integer("PRAGMA user_version") == 1);
  CHECK(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                    "('meta', 'upstream_keys', 'virtual_keys', 'audit')") == 4);
  CHECK(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'audit_at'") == 1);
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
    CHECK_THAT(message, Catch::Contains("has schema version 7 but this tollgate knows up to 1"));
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
  // `at` is deliberately not in id order: results follow ids, the filter follows `at`.
  const std::vector<UnixMillis> ats = {500, 100, 300, 200, 400};
  for (std::size_t i = 0; i < ats.size(); ++i) store->append_audit(audit(ats[i], "t" + std::to_string(i)));

  // No flush anywhere below: each query is queued behind the appends (read-your-writes).
  CHECK(ids(query(*store, AuditQuery{300, 10})) == std::vector<std::int64_t>{1, 3, 5});
  CHECK(ids(query(*store, AuditQuery{300, 2})) == std::vector<std::int64_t>{1, 3});
  CHECK(ids(query(*store, AuditQuery{100, 100})) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  CHECK(ids(query(*store, AuditQuery{501, 10})).empty());
  CHECK(ids(query(*store, AuditQuery{std::nullopt, 2})) == std::vector<std::int64_t>{4, 5});
  CHECK(ids(query(*store, AuditQuery{std::nullopt, 100})) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  CHECK(ids(query(*store, AuditQuery{std::nullopt, 0})).empty());
  CHECK(ids(query(*store, AuditQuery{300, 0})).empty());

  store->append_audit(audit(50, "late"));
  const auto last = query(*store, AuditQuery{std::nullopt, 1});
  REQUIRE(last.size() == 1);
  CHECK(last[0].id == 6);
  CHECK(last[0].target == "late");
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
  bool increasing = true;
  bool per_thread_order = true;
  std::map<int, int> next_seq;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0 && entries[i].id <= entries[i - 1].id) increasing = false;
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
