// ResponseCache: one mutex-guarded LRU list and hash index; zlib packing done outside the lock.
#include "core/cache/response_cache.hpp"

#include <zlib.h>

#include <cstring>
#include <iterator>
#include <limits>
#include <utility>

namespace tollgate::core {

namespace {

/// What one entry holds, in one allocation shared with the callers that got it. When `compressed`,
/// `answer` has empty body and chunks and `packed` holds them as a zlib stream of
/// `raw_size` bytes in the frame layout of serialize_payload().
struct Stored {
  CachedAnswer answer;
  std::string packed;
  std::size_t raw_size = 0;
  bool compressed = false;
};

// glibc malloc: 8 bytes of header, 16-byte granularity; charge a round 16 per allocation.
constexpr std::uint64_t kMallocHeader = 16;

std::uint64_t payload_bytes(const CachedAnswer& answer) {
  std::uint64_t bytes = answer.body.size();
  for (const auto& chunk : answer.chunks) bytes += chunk.size();
  return bytes;
}

void put_u32(std::string& out, std::uint32_t value) {
  char raw[sizeof value];
  std::memcpy(raw, &value, sizeof value);
  out.append(raw, sizeof value);
}

bool get_u32(std::string_view& in, std::uint32_t& value) {
  if (in.size() < sizeof value) return false;
  std::memcpy(&value, in.data(), sizeof value);
  in.remove_prefix(sizeof value);
  return true;
}

/// Frame layout: u32 body size, body, u32 chunk count, then per chunk u32 size and bytes (host
/// byte order: the frames never leave this process).
std::string serialize_payload(const CachedAnswer& answer) {
  std::string out;
  out.reserve(8 + 4 * answer.chunks.size() + payload_bytes(answer));
  put_u32(out, static_cast<std::uint32_t>(answer.body.size()));
  out += answer.body;
  put_u32(out, static_cast<std::uint32_t>(answer.chunks.size()));
  for (const auto& chunk : answer.chunks) {
    put_u32(out, static_cast<std::uint32_t>(chunk.size()));
    out += chunk;
  }
  return out;
}

bool deserialize_payload(std::string_view in, CachedAnswer& answer) {
  std::uint32_t size = 0;
  if (!get_u32(in, size) || in.size() < size) return false;
  answer.body.assign(in.substr(0, size));
  in.remove_prefix(size);
  std::uint32_t count = 0;
  if (!get_u32(in, count)) return false;
  answer.chunks.clear();
  answer.chunks.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (!get_u32(in, size) || in.size() < size) return false;
    answer.chunks.emplace_back(in.substr(0, size));
    in.remove_prefix(size);
  }
  return in.empty();
}

std::optional<std::string> deflate_payload(const std::string& raw, int level) {
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string out(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
                static_cast<uLong>(raw.size()), level) != Z_OK) {
    return std::nullopt;
  }
  out.resize(size);
  out.shrink_to_fit();
  return out;
}

bool inflate_payload(const Stored& stored, CachedAnswer& answer) {
  std::string raw(stored.raw_size, '\0');
  uLongf size = static_cast<uLongf>(raw.size());
  if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &size, reinterpret_cast<const Bytef*>(stored.packed.data()),
                 static_cast<uLong>(stored.packed.size())) != Z_OK ||
      size != raw.size()) {
    return false;
  }
  return deserialize_payload(raw, answer);
}

/// Bytes the held answer costs apart from the key and the fixed overhead.
std::uint64_t answer_bytes(const Stored& stored) {
  const auto& answer = stored.answer;
  std::uint64_t bytes = answer.model.size() + answer.provider.size() + answer.upstream_model.size();
  if (stored.compressed) return bytes + stored.packed.size();
  return bytes + payload_bytes(answer) + answer.chunks.size() * sizeof(std::string);
}

/// Takes the answer over, compressing its payload when that is allowed and saves bytes.
std::shared_ptr<const Stored> pack(CachedAnswer answer, const ResponseCacheOptions& options) {
  auto stored = std::make_shared<Stored>();
  const std::uint64_t raw_bytes = payload_bytes(answer);
  const std::uint64_t plain_bytes = raw_bytes + answer.chunks.size() * sizeof(std::string);
  // The frame sizes are u32; anything near that is far over any sane max_bytes / 8 anyway.
  if (raw_bytes >= options.compress_threshold && raw_bytes < std::numeric_limits<std::uint32_t>::max() / 2) {
    const std::string raw = serialize_payload(answer);
    if (auto packed = deflate_payload(raw, options.compression_level); packed && packed->size() < plain_bytes) {
      stored->packed = std::move(*packed);
      stored->raw_size = raw.size();
      stored->compressed = true;
      answer.body = std::string();
      answer.chunks = std::vector<std::string>();
    }
  }
  if (!stored->compressed) {
    // Answers are built by appending; spare capacity would be memory the byte count misses.
    answer.body.shrink_to_fit();
    for (auto& chunk : answer.chunks) chunk.shrink_to_fit();
    answer.chunks.shrink_to_fit();
  }
  stored->answer = std::move(answer);
  return stored;
}

}  // namespace

struct ResponseCache::Entry {
  std::string key;
  std::shared_ptr<const Stored> stored;
  Clock::Steady::time_point stored_at;
  Clock::Steady::time_point expires_at;
  std::uint64_t bytes = 0;
  bool compressed = false;  // stored->compressed, kept here so a hit reads no other cache line
  Clock::Steady::time_point refresh_claimed_until{};  // claim_refresh: one refresher until then
};

// The LRU list node (entry + two links), the index node (link, key view, iterator, cached hash)
// and its bucket slot, the shared Stored block (control block + Stored), and an allocator header
// for each of those and for a heap-allocated key.
const std::uint64_t ResponseCache::kEntryOverhead =
    (sizeof(Entry) + 2 * sizeof(void*) + kMallocHeader) +
    (sizeof(void*) + sizeof(Index::value_type) + sizeof(std::size_t) + kMallocHeader) + sizeof(void*) +
    (2 * sizeof(long) + sizeof(Stored) + kMallocHeader) + kMallocHeader;

ResponseCache::ResponseCache(const Clock& clock, ResponseCacheOptions options)
    : clock_(clock), options_(options) {
  stats_.max_bytes = options_.max_bytes;
}

ResponseCache::~ResponseCache() = default;

void ResponseCache::remove_locked(Lru::iterator it, Lru& graveyard) {
  const auto& model = it->stored->answer.model;
  if (auto found = stats_.models.find(model); found != stats_.models.end()) {
    found->second.entries -= 1;
    found->second.bytes -= it->bytes;
    if (found->second.entries == 0) stats_.models.erase(found);
  }
  stats_.entries -= 1;
  stats_.bytes -= it->bytes;
  if (it->compressed) stats_.compressed_entries -= 1;
  index_.erase(it->key);
  // Moved aside rather than destroyed so the memory is freed after the lock is released.
  graveyard.splice(graveyard.end(), lru_, it);
}

bool ResponseCache::claim_refresh(std::string_view key, Clock::Steady::time_point until) {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  const auto found = index_.find(key);
  if (found == index_.end()) return false;
  Entry& entry = *found->second;
  if (now >= entry.expires_at || now < entry.refresh_claimed_until) return false;
  entry.refresh_claimed_until = until;
  return true;
}

ResponseCache::Lookup ResponseCache::get(std::string_view key) {
  const auto now = clock_.now();
  Lookup out;
  std::shared_ptr<const Stored> stored;
  Lru graveyard;
  {
    std::lock_guard lock(mutex_);
    const auto found = index_.find(key);
    if (found == index_.end()) {
      ++stats_.misses;
      return out;
    }
    const auto it = found->second;
    if (now >= it->expires_at) {
      remove_locked(it, graveyard);
      ++stats_.expirations;
      ++stats_.misses;
      return out;
    }
    lru_.splice(lru_.begin(), lru_, it);
    ++stats_.hits;
    if (!it->compressed) {
      out.answer = std::shared_ptr<const CachedAnswer>(it->stored, &it->stored->answer);
      out.stored_at = it->stored_at;
      out.expires_at = it->expires_at;
      return out;
    }
    stored = it->stored;
    out.stored_at = it->stored_at;
    out.expires_at = it->expires_at;
  }
  auto answer = std::make_shared<CachedAnswer>(stored->answer);
  if (inflate_payload(*stored, *answer)) {
    out.answer = std::move(answer);
    return out;
  }
  // Only a bug can get here (we wrote the stream): drop the entry and answer a miss.
  std::lock_guard lock(mutex_);
  --stats_.hits;
  ++stats_.misses;
  if (const auto found = index_.find(key); found != index_.end() && found->second->stored == stored) {
    remove_locked(found->second, graveyard);
  }
  return out;
}

ResponseCache::PutOutcome ResponseCache::put(std::string key, CachedAnswer answer,
                                             std::optional<std::chrono::nanoseconds> ttl) {
  const auto life = ttl.value_or(options_.default_ttl);
  if (life <= std::chrono::nanoseconds::zero()) {
    std::lock_guard lock(mutex_);
    ++stats_.rejected;
    return PutOutcome::kNoTtl;
  }
  auto stored = pack(std::move(answer), options_);
  const std::uint64_t bytes = key.size() + answer_bytes(*stored) + kEntryOverhead;
  if (bytes > options_.max_bytes / 8) {
    std::lock_guard lock(mutex_);
    ++stats_.rejected;
    return PutOutcome::kTooLarge;
  }
  const auto now = clock_.now();
  const auto expires_at =
      life < Clock::Steady::time_point::max() - now ? now + life : Clock::Steady::time_point::max();

  Lru graveyard;
  // Built before the lock so the key's and node's allocations happen outside it.
  const bool compressed = stored->compressed;
  graveyard.push_front(Entry{std::move(key), std::move(stored), now, expires_at, bytes, compressed});
  std::lock_guard lock(mutex_);
  if (const auto found = index_.find(graveyard.front().key); found != index_.end()) {
    remove_locked(found->second, graveyard);
    ++stats_.replacements;
  }
  lru_.splice(lru_.begin(), graveyard, graveyard.begin());
  const auto& entry = lru_.front();
  index_.emplace(entry.key, lru_.begin());
  stats_.entries += 1;
  stats_.bytes += entry.bytes;
  if (entry.compressed) stats_.compressed_entries += 1;
  auto& model = stats_.models[entry.stored->answer.model];
  model.entries += 1;
  model.bytes += entry.bytes;
  ++stats_.insertions;

  // Expired entries at the cold end go first whether or not room is needed: they cost nothing to
  // find and would otherwise hold memory until pushed out.
  while (lru_.size() > 1 && now >= lru_.back().expires_at) {
    remove_locked(std::prev(lru_.end()), graveyard);
    ++stats_.expirations;
  }
  while (stats_.bytes > options_.max_bytes) {
    const auto victim = std::prev(lru_.end());
    if (now >= victim->expires_at) {
      ++stats_.expirations;
    } else {
      ++stats_.evictions;
    }
    remove_locked(victim, graveyard);
  }
  return PutOutcome::kStored;
}

std::size_t ResponseCache::erase_model(std::string_view model) {
  Lru graveyard;
  std::lock_guard lock(mutex_);
  std::size_t erased = 0;
  for (auto it = lru_.begin(); it != lru_.end();) {
    const auto next = std::next(it);
    if (it->stored->answer.model == model) {
      remove_locked(it, graveyard);
      ++erased;
    }
    it = next;
  }
  return erased;
}

std::size_t ResponseCache::clear() {
  Lru graveyard;
  std::lock_guard lock(mutex_);
  const std::size_t erased = lru_.size();
  index_.clear();
  graveyard.swap(lru_);
  stats_.entries = 0;
  stats_.bytes = 0;
  stats_.compressed_entries = 0;
  stats_.models.clear();
  return erased;
}

std::size_t ResponseCache::purge_expired() {
  const auto now = clock_.now();
  Lru graveyard;
  std::lock_guard lock(mutex_);
  std::size_t purged = 0;
  for (auto it = lru_.begin(); it != lru_.end();) {
    const auto next = std::next(it);
    if (now >= it->expires_at) {
      remove_locked(it, graveyard);
      ++stats_.expirations;
      ++purged;
    }
    it = next;
  }
  return purged;
}

CacheStats ResponseCache::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace tollgate::core
