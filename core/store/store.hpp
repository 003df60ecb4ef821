// Store: the durable state behind one small interface (SQLite by default).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
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

  // Queued writes.
  virtual void put_meta(std::string name, std::string value, Done done = {}) = 0;
  virtual void put_upstream_key(UpstreamKeyRecord record, Done done = {}) = 0;  // insert or replace by id
  virtual void delete_upstream_key(std::string id, Done done = {}) = 0;
  virtual void put_virtual_key(VirtualKeyRecord record, Done done = {}) = 0;    // insert or replace by id
  virtual void append_audit(AuditRecord record) = 0;

  /// Reads audit entries in id order, after every write queued before the call (read-your-writes);
  /// `done` runs on the writer thread with the entries.
  virtual void query_audit(AuditQuery query, std::function<void(std::vector<AuditRecord>)> done) = 0;

  /// Blocks until everything queued so far is committed (or has failed for good).
  virtual void flush() = 0;
};

}  // namespace tollgate::core
