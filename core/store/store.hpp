// Store: the durable state behind one small interface (SQLite by default).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tollgate::core {

/// Times in records are Unix milliseconds (UTC wall clock).
using UnixMillis = std::int64_t;

/// An upstream provider key registered through the admin API. The material is sealed
/// (AES-256-GCM, see security/sealer.hpp): the store never sees it in clear text.
struct UpstreamKeyRecord {
  std::string id;           // "key_…", stable
  std::string provider_id;  // a configured provider id
  std::string sealed;       // nonce ‖ ciphertext ‖ tag, base64
  std::string fingerprint;  // "sk-…a1b2": safe to show
  std::string state = "active";  // active|disabled
  std::string state_reason;      // why disabled; empty otherwise
  std::string metadata = "{}";   // a JSON object, as text
  std::optional<std::int64_t> rpm;
  std::optional<std::int64_t> tpm;
  double weight = 1.0;
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
};

/// A caller key. Only the SHA-256 of the secret is stored; `hint` shows its last characters.
struct VirtualKeyRecord {
  std::string id;        // "vk_…", stable across rotations
  std::string name;
  std::string key_hash;  // lowercase hex SHA-256 of the secret
  std::string hint;      // "tg-…Ab3x": safe to show
  std::vector<std::string> models;  // empty: every model
  std::optional<std::int64_t> rpm;
  std::optional<std::int64_t> tpm;
  std::string budget;    // a JSON object as text ({limit_usd, period, enforcement}), empty: none
  std::string team;
  std::string project;
  std::string customer;
  std::optional<UnixMillis> expires_at;
  std::optional<UnixMillis> revoked_at;
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
};

/// One audit entry: an admin action or a client request. Never holds a secret.
struct AuditRecord {
  std::int64_t id = 0;       // assigned by the store, increasing
  UnixMillis at = 0;
  std::string kind;          // "admin" | "request"
  std::string actor;         // "master", a virtual key id, or "anonymous"
  std::string action;        // e.g. "keys.create", "virtual_keys.rotate", "chat.completions"
  std::string target;        // the id acted on (key id, virtual key id, request id), may be empty
  int status = 0;            // HTTP status answered
  std::string detail = "{}"; // a JSON object as text: model, deployment, latency_ms, …
};

/// One client request as priced and attributed: the ledger row. Every request that reached the
/// pipeline has exactly one, served or not. Never holds a secret or a prompt.
struct LedgerRecord {
  std::int64_t id = 0;          // assigned by the store, increasing
  std::string request_id;
  UnixMillis at = 0;            // when the request was received
  std::string route;            // e.g. "/v1/chat/completions"
  std::string caller;           // a virtual key id, "master" or "anonymous"
  std::string virtual_key;      // the virtual key id; empty for other callers
  std::string team;
  std::string project;
  std::string customer;
  std::string feature;          // the `feature` tag
  std::string tags = "{}";      // every x-tollgate-tags pair, a JSON object as text
  std::string model;            // the model name requested
  std::string served_model;     // the model name served (differs after a budget downgrade)
  std::string provider;         // the provider id that answered; empty when none did
  std::string deployment;       // the upstream model that answered
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::string usage_source;     // provider|estimated|cache|none
  std::int64_t cost_nanos = 0;  // what the caller is charged
  std::int64_t saved_nanos = 0; // what tollgate saved against the requested model
  std::string saved_source;     // cache|dedup|routing; empty when nothing was saved
  std::string cache;            // hit|semantic-hit|miss|bypass; empty when the cache did not run
  std::string dedup;            // leader|joined; empty when dedup did not run
  std::string routing_reason;
  int attempts = 0;
  double latency_ms = 0;
  int status = 0;               // HTTP status answered
  std::string error;            // a short code when not served in full (budget_exceeded, stream_error…)
};

/// Columns the usage API groups by and the budgets scope on.
/// group_by: "" (total only) | model | provider | deployment | virtual_key | team | project |
/// customer | feature | day | hour (UTC, "2026-11-22" / "2026-11-22T13").
struct UsageQuery {
  UnixMillis from = 0;  // at >= from
  UnixMillis to = 0;    // at < to
  std::string group_by;
  std::size_t limit = 0;  // 0: every group; else the top `limit` groups by cost
};

struct UsageRow {
  std::string group;  // the group's value; empty for the total, and for rows with no value
  std::int64_t requests = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cost_nanos = 0;
  std::int64_t saved_nanos = 0;
};

struct UsageReport {
  std::vector<UsageRow> rows;  // by cost descending, then group ascending
  UsageRow total;              // over every row in [from, to), not only the top `limit`
};

/// Spend per value of one ledger column in [from, to), for recovering budget spend.
/// column: "" (one row, group empty: everything) | provider | model | virtual_key | team |
/// project | customer | feature.
struct SpendQuery {
  std::string column;
  UnixMillis from = 0;
  UnixMillis to = 0;
};
using SpendRows = std::vector<std::pair<std::string, std::int64_t>>;  // (value, cost nanos)

/// A budget created through the admin API (config budgets are not stored).
struct BudgetRecord {
  std::string id;  // "bud_…"
  std::string scope;
  std::string scope_id;
  std::string period;
  std::string timezone = "UTC";
  std::int64_t limit_nanos = 0;
  std::string enforcement = "hard";
  std::string downgrade_to;
  std::string alerts = "[]";  // a JSON array of fractions, as text
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
};

struct AuditQuery {
  std::optional<UnixMillis> since;  // entries at or after this time
  std::size_t limit = 100;
};

/// The durable store. Start-up reads block (they run before the server accepts); every write
/// is queued to one writer thread that commits in groups, so a request never waits on disk.
/// Writes are applied in the order they were queued. `Done` callbacks run on the writer thread
/// once the write is committed (true) or has failed for good (false); they must be quick and must
/// never block (post to an executor). Thread-safe: any thread may call any member.
class Store {
 public:
  using Done = std::function<void(bool committed)>;
  virtual ~Store() = default;

  // Start-up reads.
  virtual std::vector<UpstreamKeyRecord> load_upstream_keys() = 0;
  virtual std::vector<VirtualKeyRecord> load_virtual_keys() = 0;
  /// A small named value (e.g. the secret key's check value); nullopt when never set.
  virtual std::optional<std::string> load_meta(std::string_view name) = 0;
  virtual std::vector<BudgetRecord> load_budgets() = 0;
  /// Spend per column value, read before start-up completes (budget recovery); throws on failure.
  virtual SpendRows load_spend(const SpendQuery& query) = 0;

  // Queued writes.
  virtual void put_meta(std::string name, std::string value, Done done = {}) = 0;
  virtual void put_upstream_key(UpstreamKeyRecord record, Done done = {}) = 0;  // insert or replace by id
  virtual void delete_upstream_key(std::string id, Done done = {}) = 0;
  virtual void put_virtual_key(VirtualKeyRecord record, Done done = {}) = 0;    // insert or replace by id
  virtual void put_budget(BudgetRecord record, Done done = {}) = 0;  // insert or replace by id
  virtual void delete_budget(std::string id, Done done = {}) = 0;
  virtual void append_audit(AuditRecord record) = 0;
  virtual void append_ledger(LedgerRecord record) = 0;

  /// Reads audit entries in time order (admin entries, and request entries: the audit rows of
  /// requests that never reached the pipeline and the ledger rows of those that did), after every write queued before the call (read-your-writes);
  /// `done` runs on the writer thread with the entries.
  virtual void query_audit(AuditQuery query, std::function<void(std::vector<AuditRecord>)> done) = 0;

  /// Usage totals from the ledger (after every queued write); nullopt when the read failed.
  virtual void query_usage(UsageQuery query, std::function<void(std::optional<UsageReport>)> done) = 0;
  /// Spend per column value (after every queued write); nullopt when the read failed.
  virtual void query_spend(SpendQuery query, std::function<void(std::optional<SpendRows>)> done) = 0;

  /// Blocks until everything queued so far is committed (or has failed for good).
  virtual void flush() = 0;
};

}  // namespace tollgate::core
