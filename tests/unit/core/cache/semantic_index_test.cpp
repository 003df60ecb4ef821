// SemanticIndex: thresholds, partitions, removal, replacement, the size bound, the HNSW path, threads.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/cache/semantic_index.hpp"

using namespace tollgate::core;

namespace {

constexpr std::size_t kDims = 64;

std::vector<float> unit(std::vector<float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

/// A random unit vector; two of them in 64+ dimensions are nearly orthogonal.
std::vector<float> random_unit(std::mt19937& rng, std::size_t dims = kDims) {
  std::normal_distribution<float> normal;
  std::vector<float> v(dims);
  for (float& x : v) x = normal(rng);
  return unit(std::move(v));
}

/// `base` turned towards `other` until their cosine is about `cosine` (both unit, near-orthogonal).
std::vector<float> blend(const std::vector<float>& base, const std::vector<float>& other, double cosine) {
  const double sine = std::sqrt(1 - cosine * cosine);
  std::vector<float> v(base.size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(cosine * base[i] + sine * other[i]);
  return unit(std::move(v));
}

std::chrono::nanoseconds thread_cpu_time() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

TEST_CASE("SemanticIndex returns the nearest vector at or above the threshold", "[semantic]") {
  std::mt19937 rng(1);
  SemanticIndex index({.dimensions = kDims});
  const auto a = random_unit(rng);
  const auto b = random_unit(rng);
  const auto noise = random_unit(rng);
  index.add("p", "key-a", a);
  index.add("p", "key-b", b);
  CHECK(index.size() == 2);
  CHECK(index.partitions() == 1);

  const auto exact = index.nearest("p", a, 0.95);
  REQUIRE(exact);
  CHECK(exact->key == "key-a");
  CHECK(exact->similarity == Approx(1.0).margin(1e-5));

  const auto close = blend(b, noise, 0.96);
  const auto near_b = index.nearest("p", close, 0.95);
  REQUIRE(near_b);
  CHECK(near_b->key == "key-b");
  CHECK(near_b->similarity == Approx(0.96).margin(0.02));
  CHECK_FALSE(index.nearest("p", close, 0.99));  // the best is below the threshold

  CHECK_FALSE(index.nearest("p", noise, 0.5));
  CHECK_FALSE(index.nearest("p", std::vector<float>(kDims, 0.0f), 0.5));
  CHECK_FALSE(index.nearest("p", std::vector<float>(kDims, std::nanf("")), -2.0));
}

TEST_CASE("SemanticIndex never matches across partitions", "[semantic]") {
  std::mt19937 rng(2);
  SemanticIndex index({.dimensions = kDims});
  const auto v = random_unit(rng);
  index.add("gpt-4o|key:vk_1|params|guard", "k1", v);
  CHECK(index.nearest("gpt-4o|key:vk_1|params|guard", v, 0.9));
  CHECK_FALSE(index.nearest("gpt-4o|key:vk_2|params|guard", v, 0.9));
  CHECK_FALSE(index.nearest("gpt-4o|key:vk_1|params|other-guard", v, 0.9));
  CHECK_FALSE(index.nearest("", v, 0.9));
}

TEST_CASE("SemanticIndex ignores vectors of the wrong size", "[semantic]") {
  std::mt19937 rng(3);
  SemanticIndex index({.dimensions = kDims});
  index.add("p", "short", random_unit(rng, kDims - 1));
  CHECK(index.size() == 0);
  CHECK(index.partitions() == 0);
  index.add("p", "ok", random_unit(rng));
  CHECK_FALSE(index.nearest("p", random_unit(rng, kDims + 1), -1.0));
}

TEST_CASE("SemanticIndex removes by key, and an emptied partition goes away", "[semantic]") {
  std::mt19937 rng(4);
  SemanticIndex index({.dimensions = kDims});
  const auto a = random_unit(rng);
  const auto b = random_unit(rng);
  index.add("p1", "a", a);
  index.add("p1", "b", b);
  index.add("p2", "c", a);
  CHECK(index.partitions() == 2);

  index.remove("a");
  CHECK(index.size() == 2);
  const auto after = index.nearest("p1", a, -1.0);
  REQUIRE(after);
  CHECK(after->key == "b");  // the only one left in p1
  index.remove("b");
  CHECK(index.partitions() == 1);
  CHECK_FALSE(index.nearest("p1", b, -1.0));

  index.remove("no-such-key");
  CHECK(index.size() == 1);
  index.remove("c");
  CHECK(index.size() == 0);
  CHECK(index.partitions() == 0);
}

TEST_CASE("SemanticIndex replaces the vector of a key added again", "[semantic]") {
  std::mt19937 rng(5);
  SemanticIndex index({.dimensions = kDims});
  const auto first = random_unit(rng);
  const auto second = random_unit(rng);
  index.add("p1", "k", first);
  index.add("p2", "k", second);  // another partition too
  CHECK(index.size() == 1);
  CHECK(index.partitions() == 1);
  CHECK_FALSE(index.nearest("p1", first, -1.0));
  const auto found = index.nearest("p2", second, 0.99);
  REQUIRE(found);
  CHECK(found->key == "k");
}

TEST_CASE("SemanticIndex holds at most max_vectors, removing the oldest first", "[semantic]") {
  std::mt19937 rng(6);
  SemanticIndex index({.dimensions = kDims, .max_vectors = 3});
  std::vector<std::vector<float>> vectors;
  for (int i = 0; i < 5; ++i) {
    vectors.push_back(random_unit(rng));
    index.add(i % 2 == 0 ? "even" : "odd", "k" + std::to_string(i), vectors.back());
    CHECK(index.size() == static_cast<std::size_t>(std::min(i + 1, 3)));
  }
  // k0 and k1 were the oldest; k1 was alone in "odd" with k3, so "odd" keeps k3.
  CHECK_FALSE(index.nearest("even", vectors[0], 0.99));
  CHECK_FALSE(index.nearest("odd", vectors[1], 0.99));
  for (int i = 2; i < 5; ++i) {
    const auto found = index.nearest(i % 2 == 0 ? "even" : "odd", vectors[static_cast<std::size_t>(i)], 0.99);
    REQUIRE(found);
    CHECK(found->key == "k" + std::to_string(i));
  }

  // Re-adding a key makes it the newest: k2 now outlives k3.
  index.add("even", "k2", vectors[2]);
  index.add("odd", "k5", random_unit(rng));
  CHECK(index.nearest("even", vectors[2], 0.99));
  CHECK_FALSE(index.nearest("odd", vectors[3], 0.99));

  SemanticIndex none({.dimensions = kDims, .max_vectors = 0});
  none.add("p", "k", vectors[0]);
  CHECK(none.size() == 0);
}

TEST_CASE("SemanticIndex switches a large partition to an HNSW graph that grows and compacts", "[semantic]") {
  std::mt19937 rng(7);
  SemanticIndex index({.dimensions = kDims, .exact_scan_limit = 4});
  std::vector<std::vector<float>> vectors;
  constexpr int kCount = 300;  // past the graph's first capacity (16) several times
  for (int i = 0; i < kCount; ++i) {
    vectors.push_back(random_unit(rng));
    index.add("big", "k" + std::to_string(i), vectors.back());
  }
  CHECK(index.size() == static_cast<std::size_t>(kCount));
  const auto noise = random_unit(rng);
  int found_self = 0;
  int found_near = 0;
  for (int i = 0; i < kCount; ++i) {
    const auto& v = vectors[static_cast<std::size_t>(i)];
    const auto self = index.nearest("big", v, 0.99);
    found_self += self && self->key == "k" + std::to_string(i);
    const auto near = index.nearest("big", blend(v, noise, 0.97), 0.95);
    found_near += near && near->key == "k" + std::to_string(i);
  }
  CHECK(found_self == kCount);
  CHECK(found_near >= kCount - 3);  // approximate search may miss, never returns a wrong key

  // Remove 5 of every 6: removed ones never match, and the rebuilds keep the rest findable.
  for (int i = 0; i < kCount; ++i)
    if (i % 6 != 0) index.remove("k" + std::to_string(i));
  CHECK(index.size() == static_cast<std::size_t>(kCount / 6));
  for (int i = 0; i < kCount; ++i) {
    const auto& v = vectors[static_cast<std::size_t>(i)];
    const auto found = index.nearest("big", v, 0.99);
    if (i % 6 == 0) {
      REQUIRE(found);
      CHECK(found->key == "k" + std::to_string(i));
    } else {
      CHECK_FALSE(found);
    }
  }

  // Down to the exact-scan size and to nothing: the partition disappears.
  for (int i = 0; i < kCount; i += 6) index.remove("k" + std::to_string(i));
  CHECK(index.size() == 0);
  CHECK(index.partitions() == 0);
}

TEST_CASE("SemanticIndex takes concurrent searches, adds and removes", "[semantic]") {
  SemanticIndex index({.dimensions = kDims, .max_vectors = 500, .exact_scan_limit = 32});
  std::mt19937 seed_rng(8);
  const auto anchor = random_unit(seed_rng);
  index.add("shared", "anchor", anchor);

  std::atomic<int> anchor_misses{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&index, t] {
      std::mt19937 rng(100 + static_cast<unsigned>(t));
      for (int i = 0; i < 400; ++i) {
        const std::string key = "w" + std::to_string(t) + "-" + std::to_string(i);
        index.add(i % 3 == 0 ? "shared" : "p" + std::to_string(i % 7), key, random_unit(rng));
        if (i % 2 == 0) index.remove(key);
      }
    });
  }
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&index, &anchor, &anchor_misses] {
      for (int i = 0; i < 400; ++i) {
        const auto found = index.nearest("shared", anchor, 0.99);
        if (!found || found->key != "anchor") ++anchor_misses;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(anchor_misses == 0);
  CHECK(index.size() == std::size_t{1 + 2 * 200});  // every odd-numbered key of both writers, and the anchor
}

TEST_CASE("SemanticIndex search time, exact scan vs HNSW (printed, not asserted)", "[semantic]") {
  std::mt19937 rng(9);
  constexpr std::size_t kDims512 = 512;
  constexpr std::size_t kVectors = 1024;
  SemanticIndex flat({.dimensions = kDims512, .exact_scan_limit = kVectors});
  SemanticIndex graph({.dimensions = kDims512, .exact_scan_limit = 16});
  std::vector<std::vector<float>> queries;
  for (std::size_t i = 0; i < kVectors; ++i) {
    auto v = random_unit(rng, kDims512);
    flat.add("p", "k" + std::to_string(i), v);
    graph.add("p", "k" + std::to_string(i), v);
    if (i % 64 == 0) queries.push_back(std::move(v));
  }
  const auto time_per_search = [&](const SemanticIndex& index) {
    constexpr int kRounds = 20;
    int hits = 0;
    const auto start = thread_cpu_time();
    for (int r = 0; r < kRounds; ++r)
      for (const auto& q : queries) hits += index.nearest("p", q, 0.99).has_value();
    const auto elapsed = thread_cpu_time() - start;
    CHECK(hits == kRounds * static_cast<int>(queries.size()));
    return std::chrono::duration<double, std::micro>(elapsed).count() / (kRounds * queries.size());
  };
  const double flat_us = time_per_search(flat);
  const double graph_us = time_per_search(graph);
  WARN("SemanticIndex nearest() over " << kVectors << " vectors of " << kDims512 << " floats: exact scan " << flat_us
                                       << " us, HNSW " << graph_us << " us (CPU per search)");
}
