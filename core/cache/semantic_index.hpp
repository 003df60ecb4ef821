// SemanticIndex: nearest-neighbour search over unit vectors, one hnswlib graph per partition, bounded in size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tollgate::core {

/// One request as semantic matching sees it: the partition only interchangeable requests share
/// and the embedding of its text (see core/pipeline/semantic_probe.hpp).
struct SemanticProbe {
  std::string partition;
  std::vector<float> vector;
};

struct SemanticIndexOptions {
  std::size_t dimensions = 512;     // every vector added or searched must have exactly this many floats
  std::size_t max_vectors = 100'000;  // over all partitions; adding beyond it removes the oldest first
  /// Up to this many vectors a partition is a flat array scanned exactly (hnswlib's SIMD inner
  /// product); at this many it becomes an HNSW graph. An hnswlib graph costs ~2.6 MB on its own
  /// (65,536 std::mutex it allocates per index), as much as ~1,200 vectors of 512 floats, and most
  /// partitions (model + tenant + params + guard) hold a handful of vectors.
  std::size_t exact_scan_limit = 1024;
  std::size_t hnsw_m = 16;                 // graph degree
  std::size_t hnsw_ef_construction = 100;  // candidate list while inserting
  std::size_t hnsw_ef_search = 64;         // candidate list while searching
};

/// Finds, within one partition, the stored vector most similar to a query: the lookup of the
/// semantic cache and of semantic dedup. Vectors are L2-normalised (Embedder), so similarity is
/// the inner product (hnswlib's InnerProductSpace, whose distance is 1 - dot).
///
/// - A partition is an opaque string the caller builds so that only interchangeable requests
///   meet: embedder name + resolved model + tenant + SemanticRequest::params + guard. It is
///   created by the first add() and removes itself when its last vector is removed.
/// - A key names one vector (the exact-cache key, or an in-flight request's id) and is unique
///   over the whole index: adding a key again replaces its vector (and moves it to the newest).
/// - At most max_vectors are held; add() removes the oldest (first added) to make room, so
///   memory stays bounded whatever the traffic. Removed vectors of an HNSW partition are marked
///   deleted (hnswlib cannot free them) and the partition is rebuilt once they outnumber the live
///   ones, so dead slots stay bounded too.
/// - Search is approximate above exact_scan_limit (HNSW may miss the best neighbour; a miss is
///   a cache miss, never a wrong hit) and exact below it.
///
/// Thread-safe: searches share a lock and run concurrently; add() and remove() take it alone.
/// A vector whose size is not `dimensions` is ignored by add() and matches nothing in nearest().
/// Throws only what allocation throws (std::bad_alloc, or hnswlib's std::runtime_error when it
/// cannot allocate).
class SemanticIndex {
 public:
  struct Match {
    std::string key;
    double similarity = 0;  // inner product, in [-1, 1] up to float rounding
  };

  explicit SemanticIndex(SemanticIndexOptions options = {});
  SemanticIndex(const SemanticIndex&) = delete;
  SemanticIndex& operator=(const SemanticIndex&) = delete;
  ~SemanticIndex();

  /// Stores `vec` under `key` in `partition` (replacing any vector held for `key`, in whatever
  /// partition), removing the oldest vectors first when the index is full.
  void add(std::string_view partition, std::string key, std::vector<float> vec);

  /// The most similar vector of `partition` when its similarity is at least `threshold`;
  /// nullopt when there is none, the partition does not exist, or `vec` has the wrong size.
  std::optional<Match> nearest(std::string_view partition, const std::vector<float>& vec, double threshold) const;

  /// Removes the vector held for `key`, if any.
  void remove(std::string_view key);

  /// Vectors held (live ones: removed vectors are not counted).
  std::size_t size() const;
  /// Partitions held, each with at least one vector.
  std::size_t partitions() const;

 private:
  struct Partition;
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept { return std::hash<std::string_view>{}(key); }
  };
  using Partitions = std::map<std::string, std::unique_ptr<Partition>, std::less<>>;
  struct Entry {
    std::string key;
    Partitions::iterator partition;
  };

  /// Removes vector `id`; an emptied partition is moved to `graveyard`, which the caller destroys
  /// after releasing the lock (an HNSW graph takes a while to free). mutex_ held alone.
  void remove_locked(std::uint64_t id, std::vector<std::unique_ptr<Partition>>& graveyard);

  const SemanticIndexOptions options_;
  mutable std::shared_mutex mutex_;
  Partitions partitions_;
  std::map<std::uint64_t, Entry> entries_;  // by id, which grows with every add: oldest first
  std::unordered_map<std::string, std::uint64_t, KeyHash, std::equal_to<>> ids_;  // key -> id
  std::uint64_t next_id_ = 0;
};

}  // namespace tollgate::core
