// ResponseCache: byte-bounded LRU of complete upstream answers with per-entry TTL and compression.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/money/money.hpp"
#include "core/openai/usage.hpp"

namespace tollgate::core {

/// One cached answer: a buffered body (chat.completion JSON) or a stream transcript (the chunk
/// data strings in order), with the usage it reported and what it cost when it was made.
struct CachedAnswer {
  std::string body;                 // non-stream answer, or empty
  std::vector<std::string> chunks;  // stream transcript (SSE data payloads), or empty
  std::optional<Usage> usage;
  std::optional<std::size_t> usage_chunk;  // transcript: the index of the chunk that reported `usage`
  bool usage_only = false;                 // transcript: that chunk has no choices
  std::string model;                // resolved model name (for erase_model and per-model stats)
  std::string provider, upstream_model;
  Nanos cost = 0;                   // what the original request cost
  std::chrono::nanoseconds compute_time{0};  // how long the upstream took to make it (early refresh)
};

/// Entries and bytes currently held for one resolved model name.
struct ModelCacheStats {
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;
};

/// A snapshot of the cache. Counters are cumulative since construction; clear() and erase_model()
/// do not reset them.
struct CacheStats {
  std::uint64_t entries = 0;             // held now (expired ones not yet removed included)
  std::uint64_t bytes = 0;               // charged now, see ResponseCache::kEntryOverhead
  std::uint64_t max_bytes = 0;
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;              // absent or expired
  std::uint64_t insertions = 0;          // accepted puts (a replacement counts too)
  std::uint64_t replacements = 0;        // accepted puts whose key was already held
  std::uint64_t rejected = 0;            // puts refused: over max_bytes / 8, or a TTL <= 0
  std::uint64_t evictions = 0;           // live entries dropped, least recently used first, for room
  std::uint64_t expirations = 0;         // expired entries removed (by get, put or purge_expired)
  std::uint64_t compressed_entries = 0;  // held now in compressed form
  std::map<std::string, ModelCacheStats> models;  // by CachedAnswer::model, only models with entries
};

struct ResponseCacheOptions {
  std::uint64_t max_bytes = 256ull << 20;
  std::chrono::nanoseconds default_ttl = std::chrono::hours(1);  // when put() is given no TTL
  std::size_t compress_threshold = 2048;  // payloads of at least this many bytes are tried with zlib
  int compression_level = 6;              // zlib level 1..9
};

/// An in-process cache of complete, successful answers, keyed by the caller's cache key (the hash
/// of the canonical request, model and tenant). Thread-safe: one mutex guards the index and is
/// held only for a hash lookup and a list splice; compression on put and decompression on get
/// happen outside it.
///
/// Bytes charged per entry = key size + payload + the sizes of model, provider and upstream_model
/// + kEntryOverhead (+ sizeof(std::string) per chunk when a transcript is held uncompressed). The
/// payload is body + chunk bytes, or the zlib stream when the raw payload is at least
/// compress_threshold and compressing made it smaller. kEntryOverhead approximates the index
/// node, LRU node, shared answer and allocator headers, so `bytes` follows real memory use.
///
/// An entry lives for [stored_at, stored_at + ttl) on the injected clock's steady time: at
/// stored_at + ttl exactly it is expired. A get of an expired entry removes it and is a miss.
class ResponseCache {
 public:
  /// Fixed bytes charged to every entry besides its key, strings and payload.
  static const std::uint64_t kEntryOverhead;

  /// What a hit returns: the answer, and when it was stored and expires (for probabilistic early
  /// refresh). `answer` is null on a miss.
  struct Lookup {
    std::shared_ptr<const CachedAnswer> answer;
    Clock::Steady::time_point stored_at{};
    Clock::Steady::time_point expires_at{};
    explicit operator bool() const noexcept { return answer != nullptr; }
  };

  enum class PutOutcome { kStored, kTooLarge, kNoTtl };

  /// `clock` must outlive the cache.
  ResponseCache(const Clock& clock, ResponseCacheOptions options = {});
  ResponseCache(const ResponseCache&) = delete;
  ResponseCache& operator=(const ResponseCache&) = delete;
  ~ResponseCache();

  /// The live entry for `key`, marked most recently used; decompressed on this call when it is
  /// held compressed. An expired entry is removed and reported as a miss.
  Lookup get(std::string_view key);

  /// Stores `answer` under `key` for `ttl` (default_ttl when absent), replacing any entry held
  /// for the key, then evicts least recently used entries until the total fits max_bytes. Refused
  /// (nothing changes, the old entry stays) when the entry would be charged more than
  /// max_bytes / 8 or when ttl <= 0. The caller stores only complete successful answers.
  PutOutcome put(std::string key, CachedAnswer answer, std::optional<std::chrono::nanoseconds> ttl = std::nullopt);

  /// Stampede protection: claims the refresh of the live entry for `key` until `until`, so that
  /// one caller refreshes it while the others keep being served. False when the entry is absent
  /// or expired, or its refresh is claimed already and `until` of that claim has not passed. A
  /// put for the key (the refreshed answer) replaces the entry and its claim.
  bool claim_refresh(std::string_view key, Clock::Steady::time_point until);

  /// Removes every entry whose answer's model is `model`; returns how many. O(entries).
  std::size_t erase_model(std::string_view model);
  /// Removes every entry; returns how many.
  std::size_t clear();
  /// Removes every expired entry; returns how many. O(entries): for a periodic sweep.
  std::size_t purge_expired();

  CacheStats stats() const;

 private:
  struct Entry;
  using Lru = std::list<Entry>;  // front: most recently used
  // std::hash<string_view> makes libstdc++ keep each node's hash, so a lookup compares other
  // entries' keys (a cache miss each) only on a full hash collision.
  using Index = std::unordered_map<std::string_view, Lru::iterator>;

  /// Unlinks `it` from the index and the totals and moves its node to `graveyard`, which the
  /// caller destroys after releasing the lock. mutex_ held.
  void remove_locked(Lru::iterator it, Lru& graveyard);

  const Clock& clock_;
  const ResponseCacheOptions options_;
  mutable std::mutex mutex_;
  Lru lru_;
  Index index_;  // views into the keys held by lru_ nodes, which never move
  CacheStats stats_;
};

}  // namespace tollgate::core
