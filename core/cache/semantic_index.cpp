// SemanticIndex: flat exact scan for small partitions, an hnswlib HNSW graph for large ones, oldest-first eviction.
#include "core/cache/semantic_index.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <utility>

// hnswlib 0.6.2's SSE path prefetches one neighbour id past the end of a link list (nmslib/hnswlib
// issue 107, still open): a read within malloc's rounding that AddressSanitizer reports. Sanitizer
// builds use its plain loops instead.
#if defined(__SANITIZE_ADDRESS__) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif
// hnswlib 0.6.2 defines non-inline functions (cpuid, xgetbv, AVXCapable) in hnswlib.h, so this
// must stay the only translation unit of the program that includes it.
#include <hnswlib/hnswlib.h>

namespace tollgate::core {

namespace {
// hnswlib's default, fixed so graphs are the same from run to run.
constexpr std::size_t kHnswSeed = 100;
}  // namespace

/// The vectors of one partition: a flat array while small, an HNSW graph once large. `live`
/// counts vectors not removed; a graph also holds removed ones, marked deleted.
struct SemanticIndex::Partition {
  explicit Partition(const SemanticIndexOptions& o)
      : options(o), space(o.dimensions), distance(space.get_dist_func()), distance_param(space.get_dist_func_param()) {}

  const SemanticIndexOptions& options;
  hnswlib::InnerProductSpace space;  // the graph points into it: declared before `graph`
  hnswlib::DISTFUNC<float> distance;
  void* distance_param;
  std::vector<float> flat;  // flat_ids.size() vectors of options.dimensions floats, back to back
  std::vector<std::uint64_t> flat_ids;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
  std::size_t live = 0;

  float similarity(const float* a, const float* b) const { return 1.0f - distance(a, b, distance_param); }

  std::unique_ptr<hnswlib::HierarchicalNSW<float>> new_graph(std::size_t capacity) {
    auto g = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, capacity, options.hnsw_m,
                                                               options.hnsw_ef_construction, kHnswSeed);
    g->setEf(options.hnsw_ef_search);
    return g;
  }

  void add(std::uint64_t id, const std::vector<float>& vec) {
    if (!graph && flat_ids.size() < options.exact_scan_limit) {
      flat.insert(flat.end(), vec.begin(), vec.end());
      flat_ids.push_back(id);
      ++live;
      return;
    }
    if (!graph) {
      auto g = new_graph(std::max<std::size_t>(2 * (flat_ids.size() + 1), 16));
      for (std::size_t i = 0; i < flat_ids.size(); ++i) g->addPoint(flat.data() + i * options.dimensions, flat_ids[i]);
      graph = std::move(g);
      flat = {};
      flat_ids = {};
    }
    if (graph->cur_element_count == graph->max_elements_) graph->resizeIndex(2 * graph->max_elements_);
    graph->addPoint(vec.data(), id);
    ++live;
  }

  void remove(std::uint64_t id) {
    if (!graph) {
      const auto it = std::find(flat_ids.begin(), flat_ids.end(), id);
      if (it == flat_ids.end()) return;
      const auto index = static_cast<std::size_t>(it - flat_ids.begin());
      const std::size_t last = flat_ids.size() - 1;
      if (index != last) {
        flat_ids[index] = flat_ids[last];
        std::copy_n(flat.begin() + last * options.dimensions, options.dimensions, flat.begin() + index * options.dimensions);
      }
      flat_ids.pop_back();
      flat.resize(flat_ids.size() * options.dimensions);
      --live;
      return;
    }
    graph->markDelete(id);
    --live;
    if (live > 0 && graph->num_deleted_ > live) {
      // Best effort: when there is no memory to rebuild, the dead slots stay until the next try.
      try {
        compact();
      } catch (const std::exception&) {
      }
    }
  }

  /// Drops the slots of removed vectors: back to a flat array when few are left, else a new graph.
  void compact() {
    std::vector<std::pair<std::uint64_t, const float*>> kept;
    kept.reserve(live);
    for (hnswlib::tableint i = 0; i < graph->cur_element_count; ++i)
      if (!graph->isMarkedDeleted(i))
        kept.emplace_back(graph->getExternalLabel(i), reinterpret_cast<const float*>(graph->getDataByInternalId(i)));
    if (kept.size() <= options.exact_scan_limit) {
      std::vector<float> new_flat;
      std::vector<std::uint64_t> new_ids;
      new_flat.reserve(kept.size() * options.dimensions);
      new_ids.reserve(kept.size());
      for (const auto& [id, data] : kept) {
        new_flat.insert(new_flat.end(), data, data + options.dimensions);
        new_ids.push_back(id);
      }
      flat = std::move(new_flat);
      flat_ids = std::move(new_ids);
      graph.reset();
      return;
    }
    auto g = new_graph(2 * kept.size());
    for (const auto& [id, data] : kept) g->addPoint(data, id);
    graph = std::move(g);
  }

  /// The id and similarity of the most similar vector (approximately, in a graph).
  std::optional<std::pair<std::uint64_t, float>> nearest(const float* query) const {
    if (graph) {
      auto found = graph->searchKnn(query, 1);
      if (found.empty()) return std::nullopt;
      return std::pair<std::uint64_t, float>(found.top().second, 1.0f - found.top().first);
    }
    std::optional<std::pair<std::uint64_t, float>> best;
    for (std::size_t i = 0; i < flat_ids.size(); ++i) {
      const float s = similarity(query, flat.data() + i * options.dimensions);
      if (!best || s > best->second) best.emplace(flat_ids[i], s);
    }
    return best;
  }
};

SemanticIndex::SemanticIndex(SemanticIndexOptions options) : options_(options) {}

SemanticIndex::~SemanticIndex() = default;

void SemanticIndex::add(std::string_view partition, std::string key, std::vector<float> vec) {
  if (vec.size() != options_.dimensions || options_.max_vectors == 0) return;
  std::vector<std::unique_ptr<Partition>> graveyard;  // destroyed after the lock is released
  std::unique_lock lock(mutex_);
  if (const auto old = ids_.find(key); old != ids_.end()) remove_locked(old->second, graveyard);
  while (entries_.size() >= options_.max_vectors) remove_locked(entries_.begin()->first, graveyard);

  auto it = partitions_.find(partition);
  if (it == partitions_.end()) it = partitions_.emplace(std::string(partition), std::make_unique<Partition>(options_)).first;
  const std::uint64_t id = next_id_++;
  try {
    it->second->add(id, vec);
  } catch (...) {
    if (it->second->live == 0) {
      graveyard.push_back(std::move(it->second));
      partitions_.erase(it);
    }
    throw;
  }
  ids_.emplace(key, id);
  entries_.emplace(id, Entry{std::move(key), it});
}

std::optional<SemanticIndex::Match> SemanticIndex::nearest(std::string_view partition, const std::vector<float>& vec,
                                                            double threshold) const {
  if (vec.size() != options_.dimensions) return std::nullopt;
  std::shared_lock lock(mutex_);
  const auto it = partitions_.find(partition);
  if (it == partitions_.end()) return std::nullopt;
  const auto best = it->second->nearest(vec.data());
  // Written so that a NaN similarity (a NaN in the query) is no match.
  if (!best || !(best->second >= threshold)) return std::nullopt;
  const auto entry = entries_.find(best->first);
  if (entry == entries_.end()) return std::nullopt;
  return Match{entry->second.key, best->second};
}

void SemanticIndex::remove(std::string_view key) {
  std::vector<std::unique_ptr<Partition>> graveyard;
  std::unique_lock lock(mutex_);
  const auto it = ids_.find(key);
  if (it == ids_.end()) return;
  remove_locked(it->second, graveyard);
}

void SemanticIndex::remove_locked(std::uint64_t id, std::vector<std::unique_ptr<Partition>>& graveyard) {
  const auto entry = entries_.find(id);
  if (entry == entries_.end()) return;
  const auto partition = entry->second.partition;
  partition->second->remove(id);
  if (partition->second->live == 0) {
    graveyard.push_back(std::move(partition->second));
    partitions_.erase(partition);
  }
  ids_.erase(entry->second.key);
  entries_.erase(entry);
}

std::size_t SemanticIndex::size() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

std::size_t SemanticIndex::partitions() const {
  std::shared_lock lock(mutex_);
  return partitions_.size();
}

}  // namespace tollgate::core
