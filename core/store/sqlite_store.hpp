// SQLite store: one database file under the data directory, written by one thread in group commits.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/store/store.hpp"

namespace tollgate::core {

/// Tuning and observation hooks of the SQLite store; the defaults are what tollgate runs with.
/// The hooks run on the writer thread, must be quick and must not throw.
struct SqliteStoreOptions {
  /// How long one statement waits for a lock held by another connection before SQLITE_BUSY.
  std::chrono::milliseconds busy_timeout{5000};
  /// Writes nobody waits for (audit entries) are held up to this long after the first one arrives,
  /// so that a busy server commits (and fsyncs) once per window rather than once per request. A
  /// job with a Done callback (a load, flush(), an admin write) ends the window at once.
  std::chrono::milliseconds commit_window{2};
  /// A batch that fails transiently (busy, locked, disk full, I/O error) is rolled back and retried
  /// after `first_backoff`, doubling up to `max_backoff`, until it commits.
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  /// Once the store is being destroyed, a batch still failing transiently after this long is given
  /// up: every job in it is logged as an error and its Done called with false.
  std::chrono::milliseconds shutdown_retry_limit{10000};
  /// After each committed write transaction, with the number of operations it held (group-commit size;
  /// flush barriers are not counted).
  std::function<void(std::size_t jobs)> on_commit;
  /// Before each retry of a batch that failed transiently, with the SQLite extended result code.
  std::function<void(int sqlite_code)> on_retry;
};

/// Opens (creating when absent) `<data_dir>/tollgate.db` (and `data_dir` itself), sets WAL mode,
/// synchronous=FULL, foreign keys on, busy_timeout, runs forward migrations, starts the writer thread.
/// Throws std::runtime_error naming the file and the reason when it cannot (unwritable dir, not a
/// database, schema newer than this binary: "…/tollgate.db has schema version 7 but this tollgate
/// knows up to 2: upgrade tollgate or point --data-dir elsewhere").
///
/// query_audit merges the audit table and the ledger: an entry's `id` is its row id in the table it
/// comes from (ids are counted per table, so an admin entry and a request entry may share one);
/// entries come in (at, id) order, audit rows before ledger rows on a full tie.
///
/// Every operation, reads included, is a job on the writer thread's FIFO queue. The destructor
/// drains the queue (everything queued before the writer sees it empty is committed), then closes.
/// A job that arrives after that point — only possible when a member is called concurrently with
/// destruction, which is a caller bug — is refused: logged as an error, its Done called with false
/// (a load throws, query_audit gets no entries) on the calling thread. Never call flush(), a load or
/// the destructor from a Done callback: they would wait for the writer thread they are running on.
std::unique_ptr<Store> open_sqlite_store(const std::string& data_dir, SqliteStoreOptions options = {});

}  // namespace tollgate::core
