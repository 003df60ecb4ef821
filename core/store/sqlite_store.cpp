// SQLite store: one connection owned by one writer thread that runs every job in FIFO order and commits in groups.
#include "core/store/sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace tollgate::core {
namespace {

/// Forward migrations: entry i brings the schema from version i to i + 1, in its own transaction.
/// Append new versions; never edit a released entry.
constexpr std::array<const char*, 2> kMigrations = {
    // 1: the first schema.
    R"sql(
CREATE TABLE meta (
  name  TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE upstream_keys (
  id           TEXT PRIMARY KEY NOT NULL,
  provider_id  TEXT NOT NULL,
  sealed       TEXT NOT NULL,
  fingerprint  TEXT NOT NULL,
  state        TEXT NOT NULL,
  state_reason TEXT NOT NULL,
  metadata     TEXT NOT NULL,
  rpm          INTEGER,
  tpm          INTEGER,
  weight       REAL NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
) STRICT;
CREATE TABLE virtual_keys (
  id         TEXT PRIMARY KEY NOT NULL,
  name       TEXT NOT NULL,
  key_hash   TEXT NOT NULL,
  hint       TEXT NOT NULL,
  models     TEXT NOT NULL,
  rpm        INTEGER,
  tpm        INTEGER,
  budget     TEXT NOT NULL,
  team       TEXT NOT NULL,
  project    TEXT NOT NULL,
  customer   TEXT NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX virtual_keys_key_hash ON virtual_keys (key_hash);
CREATE TABLE audit (
  id     INTEGER PRIMARY KEY,  -- the rowid: increasing, and cheaper than AUTOINCREMENT per insert
  at     INTEGER NOT NULL,
  kind   TEXT NOT NULL,
  actor  TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  status INTEGER NOT NULL,
  detail TEXT NOT NULL
) STRICT;
CREATE INDEX audit_at ON audit (at);
)sql",
    // 2: the ledger (one row per request that reached the pipeline) and budgets made through the API.
    // Every request inserts a ledger row, so it carries one index: each query reads a range of `at`
    // (usage, spend recovery, the audit merge) and groups by any of ten columns, which no small set
    // of column indexes would cover; no query filters on one virtual key, so (virtual_key, at) would
    // only cost inserts. Measured on 500k rows: spend by virtual key over everything ~0.26 s.
    R"sql(
CREATE TABLE ledger (
  id                INTEGER PRIMARY KEY,  -- the rowid, as in audit
  request_id        TEXT NOT NULL,
  at                INTEGER NOT NULL,
  route             TEXT NOT NULL,
  caller            TEXT NOT NULL,
  virtual_key       TEXT NOT NULL,
  team              TEXT NOT NULL,
  project           TEXT NOT NULL,
  customer          TEXT NOT NULL,
  feature           TEXT NOT NULL,
  tags              TEXT NOT NULL,
  model             TEXT NOT NULL,
  served_model      TEXT NOT NULL,
  provider          TEXT NOT NULL,
  deployment        TEXT NOT NULL,
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens     INTEGER NOT NULL,
  reasoning_tokens  INTEGER NOT NULL,
  usage_source      TEXT NOT NULL,
  cost_nanos        INTEGER NOT NULL,
  saved_nanos       INTEGER NOT NULL,
  saved_source      TEXT NOT NULL,
  cache             TEXT NOT NULL,
  dedup             TEXT NOT NULL,
  routing_reason    TEXT NOT NULL,
  attempts          INTEGER NOT NULL,
  latency_ms        REAL NOT NULL,
  status            INTEGER NOT NULL,
  error             TEXT NOT NULL
) STRICT;
CREATE INDEX ledger_at ON ledger (at);
CREATE TABLE budgets (
  id           TEXT PRIMARY KEY NOT NULL,
  scope        TEXT NOT NULL,
  scope_id     TEXT NOT NULL,
  period       TEXT NOT NULL,
  timezone     TEXT NOT NULL,
  limit_nanos  INTEGER NOT NULL,
  enforcement  TEXT NOT NULL,
  downgrade_to TEXT NOT NULL,
  alerts       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
) STRICT;
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

/// Most jobs committed in one transaction.
constexpr std::size_t kMaxBatch = 1000;

// Upserts rather than INSERT OR REPLACE: REPLACE would also delete another row that clashes on a
// unique index (a virtual key with the same hash) instead of failing the job.
constexpr const char* kPutMeta =
    "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value";
constexpr const char* kLoadMeta = "SELECT value FROM meta WHERE name = ?1";
constexpr const char* kPutUpstreamKey =
    "INSERT INTO upstream_keys (id, provider_id, sealed, fingerprint, state, state_reason, metadata, rpm, tpm, "
    "weight, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
    "ON CONFLICT (id) DO UPDATE SET provider_id = excluded.provider_id, sealed = excluded.sealed, "
    "fingerprint = excluded.fingerprint, state = excluded.state, state_reason = excluded.state_reason, "
    "metadata = excluded.metadata, rpm = excluded.rpm, tpm = excluded.tpm, weight = excluded.weight, "
    "created_at = excluded.created_at, updated_at = excluded.updated_at";
constexpr const char* kLoadUpstreamKeys =
    "SELECT id, provider_id, sealed, fingerprint, state, state_reason, metadata, rpm, tpm, weight, created_at, "
    "updated_at FROM upstream_keys ORDER BY id";
constexpr const char* kDeleteUpstreamKey = "DELETE FROM upstream_keys WHERE id = ?1";
constexpr const char* kPutVirtualKey =
    "INSERT INTO virtual_keys (id, name, key_hash, hint, models, rpm, tpm, budget, team, project, customer, "
    "expires_at, revoked_at, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, key_hash = excluded.key_hash, hint = excluded.hint, "
    "models = excluded.models, rpm = excluded.rpm, tpm = excluded.tpm, budget = excluded.budget, "
    "team = excluded.team, project = excluded.project, customer = excluded.customer, "
    "expires_at = excluded.expires_at, revoked_at = excluded.revoked_at, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at";
constexpr const char* kLoadVirtualKeys =
    "SELECT id, name, key_hash, hint, models, rpm, tpm, budget, team, project, customer, expires_at, revoked_at, "
    "created_at, updated_at FROM virtual_keys ORDER BY id";
constexpr const char* kAppendAudit =
    "INSERT INTO audit (at, kind, actor, action, target, status, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kPutBudget =
    "INSERT INTO budgets (id, scope, scope_id, period, timezone, limit_nanos, enforcement, downgrade_to, alerts, "
    "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
    "ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, scope_id = excluded.scope_id, period = excluded.period, "
    "timezone = excluded.timezone, limit_nanos = excluded.limit_nanos, enforcement = excluded.enforcement, "
    "downgrade_to = excluded.downgrade_to, alerts = excluded.alerts, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at";
constexpr const char* kLoadBudgets =
    "SELECT id, scope, scope_id, period, timezone, limit_nanos, enforcement, downgrade_to, alerts, created_at, "
    "updated_at FROM budgets ORDER BY id";
constexpr const char* kDeleteBudget = "DELETE FROM budgets WHERE id = ?1";
constexpr const char* kAppendLedger =
    "INSERT INTO ledger (request_id, at, route, caller, virtual_key, team, project, customer, feature, tags, model, "
    "served_model, provider, deployment, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, "
    "usage_source, cost_nanos, saved_nanos, saved_source, cache, dedup, routing_reason, attempts, latency_ms, status, "
    "error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
    "?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)";

/// Nano-dollars in column {0} as an exact decimal USD string without trailing zeros ("0", "0.000045",
/// "12.5"), the same text as format_usd() gives, in SQL. (abs(INT64_MIN) fails the read: no amount is that.)
constexpr const char* kSqlUsd =
    "rtrim(rtrim(CASE WHEN {0} < 0 THEN '-' ELSE '' END || (abs({0}) / 1000000000) || '.' || "
    "printf('%09d', abs({0}) % 1000000000), '0'), '.')";

/// The audit view of the ledger: a request entry whose detail is built in SQL. json_patch onto '{{}}'
/// drops the members whose value is NULL (a JSON merge patch deletes them): that is how empty strings
/// and a served_model equal to the model are left out.
constexpr const char* kLedgerAsAudit =
    "SELECT id, at, 'request' AS kind, caller AS actor, route AS action, request_id AS target, status, "
    "json_patch('{{}}', json_object("
    "'model', NULLIF(model, ''), "
    "'served_model', CASE WHEN served_model <> model THEN NULLIF(served_model, '') END, "
    "'provider', NULLIF(provider, ''), "
    "'deployment', NULLIF(deployment, ''), "
    "'prompt_tokens', prompt_tokens, "
    "'completion_tokens', completion_tokens, "
    "'usage_source', NULLIF(usage_source, ''), "
    "'cost_usd', {0}, "
    "'saved_usd', {1}, "
    "'saved_source', NULLIF(saved_source, ''), "
    "'cache', NULLIF(cache, ''), "
    "'dedup', NULLIF(dedup, ''), "
    "'routing_reason', NULLIF(routing_reason, ''), "
    "'attempts', attempts, "
    "'latency_ms', latency_ms, "
    "'error', NULLIF(error, ''))) AS detail, 1 AS source FROM ledger";
constexpr const char* kAuditAsAudit =
    "SELECT id, at, kind, actor, action, target, status, detail, 0 AS source FROM audit";

/// The audit queries over both tables, merged in (at, id) order; `source` (0 audit, 1 ledger) only
/// breaks ties between the two tables, whose ids are counted separately. Both sides read their `at`
/// index in order and SQLite merges them (EXPLAIN QUERY PLAN: MERGE (UNION ALL), no temp B-tree), so
/// LIMIT stops both scans early and only the rows returned have their detail built.
struct AuditSql {
  std::string since;  // ?1 since, ?2 limit: the first `limit` entries at or after `since`
  std::string last;   // ?1 limit: the last `limit` entries
};
const AuditSql& audit_sql() {
  static const AuditSql sql = [] {
    const std::string ledger =
        fmt::format(kLedgerAsAudit, fmt::format(kSqlUsd, "cost_nanos"), fmt::format(kSqlUsd, "saved_nanos"));
    AuditSql out;
    out.since = fmt::format("{} WHERE at >= ?1 UNION ALL {} WHERE at >= ?1 ORDER BY at, id, source LIMIT ?2",
                            kAuditAsAudit, ledger);
    out.last = fmt::format(
        "SELECT id, at, kind, actor, action, target, status, detail FROM ({} UNION ALL {} "
        "ORDER BY at DESC, id DESC, source DESC LIMIT ?1) ORDER BY at, id, source",
        kAuditAsAudit, ledger);
    return out;
  }();
  return sql;
}

/// A column (or expression over the ledger's columns) that usage and spend group by. The SQL below
/// is made from this fixed table only: a caller's text selects an entry, it never enters the SQL.
struct LedgerGroup {
  std::string_view name;
  const char* expression;
};
constexpr std::array<LedgerGroup, 10> kLedgerGroups = {{
    {"model", "model"},
    {"provider", "provider"},
    {"deployment", "deployment"},
    {"virtual_key", "virtual_key"},
    {"team", "team"},
    {"project", "project"},
    {"customer", "customer"},
    {"feature", "feature"},
    {"day", "strftime('%Y-%m-%d', at / 1000, 'unixepoch')"},
    {"hour", "strftime('%Y-%m-%dT%H', at / 1000, 'unixepoch')"},
}};
/// Spend recovery groups by the budget scopes only, not by time.
bool is_spend_column(std::string_view name) { return name != "day" && name != "hour"; }

/// The usage and spend statements of each entry of kLedgerGroups, built once.
struct LedgerGroupSql {
  std::string usage;  // ?1 from, ?2 to, ?3 limit (-1: none)
  std::string spend;  // ?1 from, ?2 to
};
const std::array<LedgerGroupSql, kLedgerGroups.size()>& ledger_group_sql() {
  static const auto sql = [] {
    std::array<LedgerGroupSql, kLedgerGroups.size()> out;
    for (std::size_t i = 0; i < kLedgerGroups.size(); ++i) {
      const char* expression = kLedgerGroups[i].expression;
      out[i].usage = fmt::format(
          "SELECT COALESCE({}, '') AS grp, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos) AS "
          "cost, SUM(saved_nanos) FROM ledger WHERE at >= ?1 AND at < ?2 GROUP BY grp ORDER BY cost DESC, grp LIMIT ?3",
          expression);
      out[i].spend = fmt::format(
          "SELECT COALESCE({}, '') AS grp, SUM(cost_nanos) FROM ledger WHERE at >= ?1 AND at < ?2 GROUP BY grp",
          expression);
    }
    return out;
  }();
  return sql;
}
/// nullptr when `name` is not in kLedgerGroups.
const LedgerGroupSql* find_ledger_group(std::string_view name) {
  for (std::size_t i = 0; i < kLedgerGroups.size(); ++i)
    if (kLedgerGroups[i].name == name) return &ledger_group_sql()[i];
  return nullptr;
}
constexpr const char* kUsageTotal =
    "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
    "COALESCE(SUM(cost_nanos), 0), COALESCE(SUM(saved_nanos), 0) FROM ledger WHERE at >= ?1 AND at < ?2";
constexpr const char* kSpendTotal = "SELECT COALESCE(SUM(cost_nanos), 0) FROM ledger WHERE at >= ?1 AND at < ?2";

/// A failed SQLite call, with its extended result code.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// Errors that say nothing about the job itself: the whole batch is rolled back and retried.
bool is_transient(int code) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return true;
    default:
      return false;
  }
}

/// A cached prepared statement borrowed for one use; bindings and state are reset when it goes.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  Statement& bind_text(int index, std::string_view text) {
    check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
  }
  /// Binds without a copy: `text` must stay alive and unchanged until this Statement is gone (it
  /// resets the statement). For the per-request inserts, whose record outlives the statement: a
  /// copied bind costs an allocation and a free per column.
  Statement& bind_borrowed_text(int index, std::string_view text) {
    check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  Statement& bind_int(int index, std::int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  Statement& bind_real(int index, double value) {
    check(sqlite3_bind_double(stmt_, index, value));
    return *this;
  }
  Statement& bind_optional(int index, const std::optional<std::int64_t>& value) {
    check(value ? sqlite3_bind_int64(stmt_, index, *value) : sqlite3_bind_null(stmt_, index));
    return *this;
  }

  /// True when a row is ready, false when the statement has finished; throws SqliteError.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SqliteError(rc, sqlite3_errmsg(db_));
  }
  void run() {
    while (step()) {
    }
  }

  std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (data == nullptr) return {};
    return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  std::optional<std::int64_t> optional_integer(int column) const {
    if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(stmt_, column);
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw SqliteError(rc, sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

/// The one connection, with its statement cache. Used by one thread at a time (the writer).
class Connection {
 public:
  Connection(const std::string& file, std::chrono::milliseconds busy_timeout) {
    const int rc =
        sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw SqliteError(rc, message);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  /// `sql` is one fixed statement; every value goes through a bind.
  Statement statement(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* stmt = nullptr;
      const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) throw SqliteError(rc, sqlite3_errmsg(db_));
      it = cache_.emplace(sql, stmt).first;
    }
    return Statement(db_, it->second);
  }
  void run(const char* sql) { statement(sql).run(); }

  /// Runs a fixed script of several statements (migrations).
  void run_script(const char* sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      std::string message = error != nullptr ? error : sqlite3_errstr(rc);
      sqlite3_free(error);
      throw SqliteError(rc, message);
    }
  }

  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  /// Rolls back whatever is open; used on paths that are already failing, so it never throws.
  void rollback() noexcept {
    if (in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

void migrate(Connection& db, const std::string& file) {
  std::int64_t version = 0;
  {
    auto stmt = db.statement("PRAGMA user_version");
    if (stmt.step()) version = stmt.integer(0);
  }
  if (version < 0 || version > kSchemaVersion)
    throw std::runtime_error(fmt::format(
        "{} has schema version {} but this tollgate knows up to {}: upgrade tollgate or point --data-dir elsewhere",
        file, version, kSchemaVersion));
  for (auto next = version + 1; next <= kSchemaVersion; ++next) {
    try {
      db.run_script("BEGIN IMMEDIATE");
      db.run_script(kMigrations[static_cast<std::size_t>(next - 1)]);
      // PRAGMA takes no bound parameters; the number is our own constant, never input.
      db.run_script(fmt::format("PRAGMA user_version = {}", next).c_str());
      db.run_script("COMMIT");
    } catch (const SqliteError& e) {
      db.rollback();
      throw std::runtime_error(fmt::format("{}: migration to schema version {} failed: {}", file, next, e.what()));
    }
    spdlog::info("store: {} migrated to schema version {}", file, next);
  }
}

std::unique_ptr<Connection> open_database(const std::string& file, const SqliteStoreOptions& options) {
  try {
    auto db = std::make_unique<Connection>(file, options.busy_timeout);
    {
      // The first statement that reads the file: "file is not a database" shows up here.
      auto mode = db->statement("PRAGMA journal_mode = WAL");
      const std::string journal = mode.step() ? mode.text(0) : std::string();
      if (journal != "wal")
        throw std::runtime_error(fmt::format("{}: cannot switch to WAL mode (journal mode is '{}')", file, journal));
    }
    db->run("PRAGMA synchronous = FULL");
    db->run("PRAGMA foreign_keys = ON");
    migrate(*db, file);
    return db;
  } catch (const SqliteError& e) {
    throw std::runtime_error(fmt::format("{}: cannot open the store: {}", file, e.what()));
  }
}

UpstreamKeyRecord read_upstream_key(const Statement& row) {
  UpstreamKeyRecord record;
  record.id = row.text(0);
  record.provider_id = row.text(1);
  record.sealed = row.text(2);
  record.fingerprint = row.text(3);
  record.state = row.text(4);
  record.state_reason = row.text(5);
  record.metadata = row.text(6);
  record.rpm = row.optional_integer(7);
  record.tpm = row.optional_integer(8);
  record.weight = row.real(9);
  record.created_at = row.integer(10);
  record.updated_at = row.integer(11);
  return record;
}

/// nullopt when the stored model list is not a JSON array of strings.
std::optional<VirtualKeyRecord> read_virtual_key(const Statement& row) {
  VirtualKeyRecord record;
  record.id = row.text(0);
  record.name = row.text(1);
  record.key_hash = row.text(2);
  record.hint = row.text(3);
  const auto models = nlohmann::json::parse(row.text(4), nullptr, false);
  if (models.is_discarded() || !models.is_array()) return std::nullopt;
  for (const auto& model : models) {
    if (!model.is_string()) return std::nullopt;
    record.models.push_back(model.get<std::string>());
  }
  record.rpm = row.optional_integer(5);
  record.tpm = row.optional_integer(6);
  record.budget = row.text(7);
  record.team = row.text(8);
  record.project = row.text(9);
  record.customer = row.text(10);
  record.expires_at = row.optional_integer(11);
  record.revoked_at = row.optional_integer(12);
  record.created_at = row.integer(13);
  record.updated_at = row.integer(14);
  return record;
}

AuditRecord read_audit(const Statement& row) {
  AuditRecord record;
  record.id = row.integer(0);
  record.at = row.integer(1);
  record.kind = row.text(2);
  record.actor = row.text(3);
  record.action = row.text(4);
  record.target = row.text(5);
  record.status = static_cast<int>(row.integer(6));
  record.detail = row.text(7);
  return record;
}

BudgetRecord read_budget(const Statement& row) {
  BudgetRecord record;
  record.id = row.text(0);
  record.scope = row.text(1);
  record.scope_id = row.text(2);
  record.period = row.text(3);
  record.timezone = row.text(4);
  record.limit_nanos = row.integer(5);
  record.enforcement = row.text(6);
  record.downgrade_to = row.text(7);
  record.alerts = row.text(8);
  record.created_at = row.integer(9);
  record.updated_at = row.integer(10);
  return record;
}

/// Throws std::invalid_argument for a column that is not a spend column.
SpendRows read_spend(Connection& db, const SpendQuery& query) {
  SpendRows rows;
  if (query.column.empty()) {
    auto stmt = db.statement(kSpendTotal);
    stmt.bind_int(1, query.from).bind_int(2, query.to);
    rows.emplace_back(std::string(), stmt.step() ? stmt.integer(0) : 0);
    return rows;
  }
  const LedgerGroupSql* group = is_spend_column(query.column) ? find_ledger_group(query.column) : nullptr;
  if (group == nullptr) throw std::invalid_argument(fmt::format("no spend column '{}'", query.column));
  auto stmt = db.statement(group->spend.c_str());
  stmt.bind_int(1, query.from).bind_int(2, query.to);
  while (stmt.step()) rows.emplace_back(stmt.text(0), stmt.integer(1));
  return rows;
}

UsageRow read_usage_row(const Statement& row, int first) {
  UsageRow out;
  out.requests = row.integer(first);
  out.prompt_tokens = row.integer(first + 1);
  out.completion_tokens = row.integer(first + 2);
  out.cost_nanos = row.integer(first + 3);
  out.saved_nanos = row.integer(first + 4);
  return out;
}

/// Throws std::invalid_argument for an unknown group_by.
UsageReport read_usage(Connection& db, const UsageQuery& query) {
  UsageReport report;
  if (!query.group_by.empty()) {
    const LedgerGroupSql* group = find_ledger_group(query.group_by);
    if (group == nullptr) throw std::invalid_argument(fmt::format("no usage group '{}'", query.group_by));
    // SQLite's LIMIT is a signed 64-bit value, and a negative one means none.
    const auto limit = query.limit == 0 ? std::int64_t{-1}
                                        : static_cast<std::int64_t>(std::min<std::size_t>(
                                              query.limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
    auto stmt = db.statement(group->usage.c_str());
    stmt.bind_int(1, query.from).bind_int(2, query.to).bind_int(3, limit);
    while (stmt.step()) {
      UsageRow row = read_usage_row(stmt, 1);
      row.group = stmt.text(0);
      report.rows.push_back(std::move(row));
    }
  }
  // A second read of the same range, in the same transaction: the total covers the groups a limit left out.
  auto total = db.statement(kUsageTotal);
  total.bind_int(1, query.from).bind_int(2, query.to);
  if (total.step()) report.total = read_usage_row(total, 0);
  return report;
}

/// Store over one SQLite connection that only the writer thread touches (it opens, migrates, runs every job
/// and closes it). Callers enqueue jobs under `mutex_`; the writer takes up to kMaxBatch at a time in FIFO order.
class SqliteStore final : public Store {
 public:
  SqliteStore(std::string file, SqliteStoreOptions options) : file_(std::move(file)), options_(std::move(options)) {
    std::promise<void> opened;
    auto ready = opened.get_future();
    writer_ = std::thread(&SqliteStore::writer_main, this, std::move(opened));
    try {
      ready.get();
    } catch (...) {
      writer_.join();
      throw;
    }
  }

  ~SqliteStore() override {
    assert(!on_writer_thread() && "the store must not be destroyed from a Done callback");
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      stop_requested_at_ = std::chrono::steady_clock::now();
    }
    wake_.notify_all();
    writer_.join();
  }

  std::vector<UpstreamKeyRecord> load_upstream_keys() override {
    return read_blocking<std::vector<UpstreamKeyRecord>>("load_upstream_keys", [](Connection& db) {
      std::vector<UpstreamKeyRecord> records;
      auto stmt = db.statement(kLoadUpstreamKeys);
      while (stmt.step()) records.push_back(read_upstream_key(stmt));
      return records;
    });
  }

  std::vector<VirtualKeyRecord> load_virtual_keys() override {
    return read_blocking<std::vector<VirtualKeyRecord>>("load_virtual_keys", [](Connection& db) {
      std::vector<VirtualKeyRecord> records;
      auto stmt = db.statement(kLoadVirtualKeys);
      while (stmt.step()) {
        if (auto record = read_virtual_key(stmt)) {
          records.push_back(std::move(*record));
        } else {
          // Leaving the key out fails closed (its caller gets 401) where an empty list would allow every model.
          spdlog::error("store: virtual key {} has a malformed model list; left out", stmt.text(0));
        }
      }
      return records;
    });
  }

  std::optional<std::string> load_meta(std::string_view name) override {
    return read_blocking<std::optional<std::string>>(
        fmt::format("load_meta {}", name), [name = std::string(name)](Connection& db) -> std::optional<std::string> {
          auto stmt = db.statement(kLoadMeta);
          stmt.bind_text(1, name);
          if (!stmt.step()) return std::nullopt;
          return stmt.text(0);
        });
  }

  std::vector<BudgetRecord> load_budgets() override {
    return read_blocking<std::vector<BudgetRecord>>("load_budgets", [](Connection& db) {
      std::vector<BudgetRecord> records;
      auto stmt = db.statement(kLoadBudgets);
      while (stmt.step()) records.push_back(read_budget(stmt));
      return records;
    });
  }

  SpendRows load_spend(const SpendQuery& query) override {
    return read_blocking<SpendRows>(fmt::format("load_spend {}", query.column),
                                    [query](Connection& db) { return read_spend(db, query); });
  }

  void put_meta(std::string name, std::string value, Done done) override {
    std::string what = fmt::format("put_meta {}", name);
    enqueue_write(std::move(what), [name = std::move(name), value = std::move(value)](Connection& db) {
      db.statement(kPutMeta).bind_text(1, name).bind_text(2, value).run();
    }, std::move(done));
  }

  void put_upstream_key(UpstreamKeyRecord record, Done done) override {
    std::string what = fmt::format("put_upstream_key {}", record.id);
    enqueue_write(std::move(what), [record = std::move(record)](Connection& db) {
      db.statement(kPutUpstreamKey)
          .bind_text(1, record.id)
          .bind_text(2, record.provider_id)
          .bind_text(3, record.sealed)
          .bind_text(4, record.fingerprint)
          .bind_text(5, record.state)
          .bind_text(6, record.state_reason)
          .bind_text(7, record.metadata)
          .bind_optional(8, record.rpm)
          .bind_optional(9, record.tpm)
          .bind_real(10, record.weight)
          .bind_int(11, record.created_at)
          .bind_int(12, record.updated_at)
          .run();
    }, std::move(done));
  }

  void delete_upstream_key(std::string id, Done done) override {
    std::string what = fmt::format("delete_upstream_key {}", id);
    enqueue_write(
        std::move(what), [id = std::move(id)](Connection& db) { db.statement(kDeleteUpstreamKey).bind_text(1, id).run(); },
        std::move(done));
  }

  void put_virtual_key(VirtualKeyRecord record, Done done) override {
    std::string what = fmt::format("put_virtual_key {}", record.id);
    enqueue_write(std::move(what), [record = std::move(record)](Connection& db) {
      const std::string models = nlohmann::json(record.models).dump();
      db.statement(kPutVirtualKey)
          .bind_text(1, record.id)
          .bind_text(2, record.name)
          .bind_text(3, record.key_hash)
          .bind_text(4, record.hint)
          .bind_text(5, models)
          .bind_optional(6, record.rpm)
          .bind_optional(7, record.tpm)
          .bind_text(8, record.budget)
          .bind_text(9, record.team)
          .bind_text(10, record.project)
          .bind_text(11, record.customer)
          .bind_optional(12, record.expires_at)
          .bind_optional(13, record.revoked_at)
          .bind_int(14, record.created_at)
          .bind_int(15, record.updated_at)
          .run();
    }, std::move(done));
  }

  void put_budget(BudgetRecord record, Done done) override {
    std::string what = fmt::format("put_budget {}", record.id);
    enqueue_write(std::move(what), [record = std::move(record)](Connection& db) {
      db.statement(kPutBudget)
          .bind_text(1, record.id)
          .bind_text(2, record.scope)
          .bind_text(3, record.scope_id)
          .bind_text(4, record.period)
          .bind_text(5, record.timezone)
          .bind_int(6, record.limit_nanos)
          .bind_text(7, record.enforcement)
          .bind_text(8, record.downgrade_to)
          .bind_text(9, record.alerts)
          .bind_int(10, record.created_at)
          .bind_int(11, record.updated_at)
          .run();
    }, std::move(done));
  }

  void delete_budget(std::string id, Done done) override {
    std::string what = fmt::format("delete_budget {}", id);
    enqueue_write(
        std::move(what), [id = std::move(id)](Connection& db) { db.statement(kDeleteBudget).bind_text(1, id).run(); },
        std::move(done));
  }

  void append_ledger(LedgerRecord record) override {
    // Once per request, like append_audit: a short name (no allocation), no Done (the commit window
    // gathers it with its neighbours), a cached statement, text bound without copies (the record
    // outlives the statement's use).
    enqueue_write("append_ledger", [record = std::move(record)](Connection& db) {
      db.statement(kAppendLedger)
          .bind_borrowed_text(1, record.request_id)
          .bind_int(2, record.at)
          .bind_borrowed_text(3, record.route)
          .bind_borrowed_text(4, record.caller)
          .bind_borrowed_text(5, record.virtual_key)
          .bind_borrowed_text(6, record.team)
          .bind_borrowed_text(7, record.project)
          .bind_borrowed_text(8, record.customer)
          .bind_borrowed_text(9, record.feature)
          .bind_borrowed_text(10, record.tags)
          .bind_borrowed_text(11, record.model)
          .bind_borrowed_text(12, record.served_model)
          .bind_borrowed_text(13, record.provider)
          .bind_borrowed_text(14, record.deployment)
          .bind_int(15, record.prompt_tokens)
          .bind_int(16, record.completion_tokens)
          .bind_int(17, record.cached_tokens)
          .bind_int(18, record.reasoning_tokens)
          .bind_borrowed_text(19, record.usage_source)
          .bind_int(20, record.cost_nanos)
          .bind_int(21, record.saved_nanos)
          .bind_borrowed_text(22, record.saved_source)
          .bind_borrowed_text(23, record.cache)
          .bind_borrowed_text(24, record.dedup)
          .bind_borrowed_text(25, record.routing_reason)
          .bind_int(26, record.attempts)
          .bind_real(27, record.latency_ms)
          .bind_int(28, record.status)
          .bind_borrowed_text(29, record.error)
          .run();
    });
  }

  void append_audit(AuditRecord record) override {
    // A name short enough for no allocation: this runs once per request.
    enqueue_write("append_audit", [record = std::move(record)](Connection& db) {
      db.statement(kAppendAudit)
          .bind_int(1, record.at)
          .bind_borrowed_text(2, record.kind)
          .bind_borrowed_text(3, record.actor)
          .bind_borrowed_text(4, record.action)
          .bind_borrowed_text(5, record.target)
          .bind_int(6, record.status)
          .bind_borrowed_text(7, record.detail)
          .run();
    });
  }

  void query_audit(AuditQuery query, std::function<void(std::vector<AuditRecord>)> done) override {
    auto entries = std::make_shared<std::vector<AuditRecord>>();
    Job job;
    job.what = "query_audit";
    job.run = [entries, query](Connection& db) {
      entries->clear();
      // SQLite's LIMIT is a signed 64-bit value.
      const auto limit = static_cast<std::int64_t>(
          std::min<std::size_t>(query.limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
      if (query.since) {
        auto stmt = db.statement(audit_sql().since.c_str());
        stmt.bind_int(1, *query.since).bind_int(2, limit);
        while (stmt.step()) entries->push_back(read_audit(stmt));
      } else {
        auto stmt = db.statement(audit_sql().last.c_str());
        stmt.bind_int(1, limit);
        while (stmt.step()) entries->push_back(read_audit(stmt));
      }
    };
    job.finish = [entries, done = std::move(done)](bool ok) {
      if (!ok) entries->clear();
      if (done) done(std::move(*entries));
    };
    enqueue(std::move(job));
  }

  void query_usage(UsageQuery query, std::function<void(std::optional<UsageReport>)> done) override {
    std::string what = fmt::format("query_usage {}", query.group_by);
    enqueue_read<UsageReport>(std::move(what), [query = std::move(query)](Connection& db) { return read_usage(db, query); },
                              std::move(done));
  }

  void query_spend(SpendQuery query, std::function<void(std::optional<SpendRows>)> done) override {
    std::string what = fmt::format("query_spend {}", query.column);
    enqueue_read<SpendRows>(std::move(what), [query = std::move(query)](Connection& db) { return read_spend(db, query); },
                            std::move(done));
  }

  /// A read queued behind every write before it: `read` runs on the writer thread, `done` gets its
  /// result there, or nullopt when it failed.
  template <class T>
  void enqueue_read(std::string what, std::function<T(Connection&)> read, std::function<void(std::optional<T>)> done) {
    auto result = std::make_shared<std::optional<T>>();
    Job job;
    job.what = std::move(what);
    job.run = [result, read = std::move(read)](Connection& db) {
      result->reset();
      *result = read(db);
    };
    job.finish = [result, done = std::move(done)](bool ok) {
      if (!ok) result->reset();
      if (done) done(std::move(*result));
    };
    enqueue(std::move(job));
  }

  void flush() override {
    if (on_writer_thread()) {
      assert(false && "flush() from a Done callback would wait for itself");
      spdlog::error("store: flush called on the writer thread; ignored");
      return;
    }
    auto flushed = std::make_shared<std::promise<void>>();
    auto future = flushed->get_future();
    Job job;
    job.what = "flush";
    job.finish = [flushed](bool) { flushed->set_value(); };
    enqueue(std::move(job));
    future.wait();
  }

 private:
  struct Job {
    std::string what;                      // operation and id, for logs; never record content
    bool writes = false;
    std::function<void(Connection&)> run;  // empty: a barrier (flush)
    std::function<void(bool ok)> finish;   // after the commit, on the writer thread
  };

  bool on_writer_thread() const { return std::this_thread::get_id() == writer_.get_id(); }

  template <typename T>
  T read_blocking(std::string what, std::function<T(Connection&)> read) {
    if (on_writer_thread()) throw std::logic_error("store: " + what + " called on the writer thread");
    auto value = std::make_shared<T>();
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    Job job;
    job.what = what;
    job.run = [value, read = std::move(read)](Connection& db) { *value = read(db); };
    job.finish = [value, promise, message = fmt::format("{}: {} failed (see the log)", file_, what)](bool ok) {
      if (ok) {
        promise->set_value(std::move(*value));
      } else {
        promise->set_exception(std::make_exception_ptr(std::runtime_error(message)));
      }
    };
    enqueue(std::move(job));
    return future.get();
  }

  /// Queues a write. Callers build `what` in a statement of its own: `run` usually moves from the
  /// record `what` names, and the order in which call arguments are evaluated is unspecified.
  void enqueue_write(std::string what, std::function<void(Connection&)> run, Done done = {}) {
    Job job;
    job.what = std::move(what);
    job.writes = true;
    job.run = std::move(run);
    job.finish = std::move(done);
    enqueue(std::move(job));
  }

  void enqueue(Job job) {
    {
      std::lock_guard lock(mutex_);
      if (!closed_) {
        // Someone waits for a job with a callback (a load, a flush, an admin write): it ends the
        // commit window. Fire-and-forget writes (audit entries) wait for company.
        const bool urgent = bool(job.finish);
        urgent_queued_ += urgent;
        queue_.push_back(std::move(job));
        // Only a writer that sleeps needs a wake-up, and in its commit window only for a reason to
        // end it: one futex call per batch, not per job. Notified under the lock so that a store
        // being destroyed cannot vanish between the two.
        if (writer_waiting_ && (queue_.size() == 1 || urgent || queue_.size() >= kMaxBatch)) wake_.notify_one();
        return;
      }
    }
    spdlog::error("store: {} refused: the store is closed", job.what);
    if (job.finish) job.finish(false);
  }

  void writer_main(std::promise<void> opened) {
    std::unique_ptr<Connection> db;
    try {
      db = open_database(file_, options_);
    } catch (...) {
      opened.set_exception(std::current_exception());
      return;
    }
    opened.set_value();
    for (;;) {
      std::vector<Job> batch;
      {
        std::unique_lock lock(mutex_);
        writer_waiting_ = true;
        wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
        // Group commit: gather what arrives within the commit window into the same transaction
        // (one fsync), unless someone is waiting for a result.
        if (options_.commit_window.count() > 0 && urgent_queued_ == 0 && !stopping_ && queue_.size() < kMaxBatch)
          wake_.wait_for(lock, options_.commit_window,
                         [this] { return urgent_queued_ > 0 || stopping_ || queue_.size() >= kMaxBatch; });
        writer_waiting_ = false;
        if (queue_.empty()) {
          closed_ = true;
          break;
        }
        const auto count = static_cast<std::ptrdiff_t>(std::min(queue_.size(), kMaxBatch));
        batch.reserve(static_cast<std::size_t>(count));
        std::move(queue_.begin(), queue_.begin() + count, std::back_inserter(batch));
        queue_.erase(queue_.begin(), queue_.begin() + count);
        for (const auto& job : batch) urgent_queued_ -= bool(job.finish);
      }
      run_batch(*db, batch);
    }
  }

  /// Runs the batch in one transaction until it commits (transient failures are retried), then
  /// reports every job's outcome in queue order.
  void run_batch(Connection& db, std::vector<Job>& batch) {
    std::vector<char> ok(batch.size(), 0);
    const auto statements =
        static_cast<std::size_t>(std::count_if(batch.begin(), batch.end(), [](const Job& job) { return bool(job.run); }));
    const bool any_run = statements > 0;
    const bool writes = std::any_of(batch.begin(), batch.end(), [](const Job& job) { return job.writes; });
    auto backoff = options_.first_backoff;
    while (any_run) {
      try {
        execute(db, batch, writes, ok);
        if (writes && options_.on_commit) options_.on_commit(statements);
        break;
      } catch (const SqliteError& e) {
        db.rollback();
        if (!is_transient(e.code())) {
          fail_batch(batch, ok, fmt::format("{} (sqlite code {})", e.what(), e.code()));
          break;
        }
        if (shutdown_retry_exhausted()) {
          fail_batch(batch, ok, fmt::format("{} (sqlite code {}), still failing at shutdown", e.what(), e.code()));
          break;
        }
        spdlog::error("store: a batch of {} jobs failed: {} (sqlite code {}); rolled back, retrying in {} ms",
                      batch.size(), e.what(), e.code(), backoff.count());
        if (options_.on_retry) options_.on_retry(e.code());
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
    }
    if (!any_run) ok.assign(batch.size(), 1);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!batch[i].finish) continue;
      try {
        batch[i].finish(ok[i] != 0);
      } catch (const std::exception& e) {
        spdlog::error("store: the callback of {} threw: {}", batch[i].what, e.what());
      } catch (...) {
        spdlog::error("store: the callback of {} threw", batch[i].what);
      }
    }
  }

  /// One attempt: every job under its own savepoint, so a job that fails for a reason of its own
  /// (a constraint, a malformed value) is undone alone and the rest still commit.
  void execute(Connection& db, std::vector<Job>& batch, bool writes, std::vector<char>& ok) {
    ok.assign(batch.size(), 0);
    db.run(writes ? "BEGIN IMMEDIATE" : "BEGIN");
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& job = batch[i];
      if (!job.run) {
        ok[i] = 1;
        continue;
      }
      db.run("SAVEPOINT job");
      try {
        job.run(db);
        db.run("RELEASE job");
        ok[i] = 1;
      } catch (const SqliteError& e) {
        // A transient error, or one after which SQLite has already rolled the transaction back,
        // concerns the whole batch.
        if (is_transient(e.code()) || !db.in_transaction()) throw;
        undo_job(db);
        spdlog::error("store: {} failed: {} (sqlite code {})", job.what, e.what(), e.code());
      } catch (const std::exception& e) {
        undo_job(db);
        spdlog::error("store: {} failed: {}", job.what, e.what());
      }
    }
    db.run("COMMIT");
  }

  static void undo_job(Connection& db) {
    db.run("ROLLBACK TO job");
    db.run("RELEASE job");
  }

  static void fail_batch(const std::vector<Job>& batch, std::vector<char>& ok, const std::string& reason) {
    spdlog::error("store: a batch of {} jobs failed for good: {}", batch.size(), reason);
    for (const auto& job : batch)
      if (job.run) spdlog::error("store: {} not done", job.what);
    ok.assign(batch.size(), 0);
  }

  bool shutdown_retry_exhausted() {
    std::lock_guard lock(mutex_);
    return stopping_ && std::chrono::steady_clock::now() - stop_requested_at_ >= options_.shutdown_retry_limit;
  }

  const std::string file_;
  const SqliteStoreOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;  // the destructor has started: drain, then close
  bool closed_ = false;    // the writer has seen the queue empty after stopping_: refuse new jobs
  bool writer_waiting_ = false;   // the writer sleeps (for work, or in its commit window)
  std::size_t urgent_queued_ = 0; // queued jobs with a callback someone waits for
  std::chrono::steady_clock::time_point stop_requested_at_;
  std::thread writer_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& data_dir, SqliteStoreOptions options) {
  const std::filesystem::path dir(data_dir);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw std::runtime_error(fmt::format("{}: cannot create the data directory: {}", data_dir, error.message()));
  return std::make_unique<SqliteStore>((dir / "tollgate.db").string(), std::move(options));
}

}  // namespace tollgate::core
