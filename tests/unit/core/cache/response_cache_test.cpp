// ResponseCache: byte bound, LRU order, TTL on a manual clock, erasing, stats, compression, threads.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/cache/response_cache.hpp"
#include "core/clock.hpp"

using namespace tollgate::core;
using namespace std::chrono_literals;

namespace {

CachedAnswer answer_of(std::string model, std::string body) {
  CachedAnswer answer;
  answer.body = std::move(body);
  answer.model = std::move(model);
  answer.provider = "openai";
  answer.upstream_model = "gpt-4o-mini";
  answer.usage = Usage{.prompt_tokens = 12, .completion_tokens = 30, .total_tokens = 42};
  answer.cost = 45'000;
  return answer;
}

/// What an uncompressed body-only entry is charged, by the documented formula.
std::uint64_t plain_bytes(const std::string& key, const CachedAnswer& answer) {
  return key.size() + answer.model.size() + answer.provider.size() + answer.upstream_model.size() +
         answer.body.size() + ResponseCache::kEntryOverhead;
}

std::string chat_completion(int id, std::size_t content_size) {
  return R"({"id":"chatcmpl-)" + std::to_string(id) +
         R"(","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18",)"
         R"("choices":[{"index":0,"message":{"role":"assistant","content":")" +
         std::string(content_size, 'x') +
         R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42}})";
}

std::string big_json_body() {
  std::string body = R"({"id":"chatcmpl-big","object":"chat.completion","choices":[{"index":0,"message":{"content":")";
  for (int i = 0; i < 2000; ++i) body += "The quick brown fox jumps over the lazy dog " + std::to_string(i % 17) + ". ";
  body += R"("}}]})";
  return body;
}

std::string random_bytes(std::size_t size) {
  std::mt19937 rng(42);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

}  // namespace

TEST_CASE("a stored answer comes back whole with its times", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock, {.max_bytes = 1 << 20, .default_ttl = 60s});
  clock.advance(5s);
  REQUIRE(cache.put("k1", answer_of("gpt-4o-mini", "hello")) == ResponseCache::PutOutcome::kStored);
  clock.advance(1s);
  const auto hit = cache.get("k1");
  REQUIRE(hit);
  CHECK(hit.answer->body == "hello");
  CHECK(hit.answer->model == "gpt-4o-mini");
  CHECK(hit.answer->provider == "openai");
  CHECK(hit.answer->upstream_model == "gpt-4o-mini");
  REQUIRE(hit.answer->usage);
  CHECK(hit.answer->usage->total_tokens == 42);
  CHECK(hit.answer->cost == 45'000);
  CHECK(hit.stored_at == Clock::Steady::time_point{5s});
  CHECK(hit.expires_at == Clock::Steady::time_point{65s});
  CHECK_FALSE(cache.get("k2"));
}

TEST_CASE("the byte bound holds after many puts", "[response_cache]") {
  ManualClock clock;
  const std::uint64_t max_bytes = 64 * 1024;
  ResponseCache cache(clock, {.max_bytes = max_bytes});
  const auto one = plain_bytes("key-0000", answer_of("m", chat_completion(0, 900)));
  for (int i = 0; i < 1000; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "key-%04d", i);
    REQUIRE(cache.put(key, answer_of("m", chat_completion(i % 10, 900))) == ResponseCache::PutOutcome::kStored);
    const auto stats = cache.stats();
    REQUIRE(stats.bytes <= max_bytes);
    REQUIRE(stats.bytes == stats.entries * one);
  }
  const auto stats = cache.stats();
  CHECK(stats.entries == max_bytes / one);
  CHECK(stats.insertions == 1000);
  CHECK(stats.evictions == 1000 - max_bytes / one);
  // The newest entries are the ones kept.
  CHECK(cache.get("key-0999"));
  CHECK_FALSE(cache.get("key-0000"));
}

TEST_CASE("eviction takes the least recently used entry and a get refreshes", "[response_cache]") {
  ManualClock clock;
  const auto one = plain_bytes("k0", answer_of("m", "body"));
  ResponseCache cache(clock, {.max_bytes = 8 * one});
  for (int i = 0; i < 8; ++i) cache.put("k" + std::to_string(i), answer_of("m", "body"));
  REQUIRE(cache.stats().entries == 8);
  REQUIRE(cache.get("k0"));  // k0 becomes the most recent; k1 is now the least
  cache.put("k8", answer_of("m", "body"));
  CHECK(cache.stats().evictions == 1);
  CHECK_FALSE(cache.get("k1"));
  CHECK(cache.get("k0"));
  CHECK(cache.get("k2"));
  cache.put("k9", answer_of("m", "body"));  // k3 is the coldest now (k0 and k2 were read)
  CHECK_FALSE(cache.get("k3"));
  CHECK(cache.get("k4"));
}

TEST_CASE("an entry expires exactly at stored_at + ttl", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock, {.default_ttl = 10s});
  cache.put("k", answer_of("m", "body"));
  clock.advance(10s - 1ns);
  CHECK(cache.get("k"));
  clock.advance(1ns);
  CHECK_FALSE(cache.get("k"));
  const auto stats = cache.stats();
  CHECK(stats.entries == 0);
  CHECK(stats.bytes == 0);
  CHECK(stats.expirations == 1);
  CHECK(stats.hits == 1);
  CHECK(stats.misses == 1);
}

TEST_CASE("each entry keeps its own ttl, the default when none is given", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock, {.default_ttl = 1h});
  cache.put("short", answer_of("m", "a"), 5s);
  cache.put("long", answer_of("m", "b"), 2h);
  cache.put("default", answer_of("m", "c"));
  CHECK(cache.get("long").expires_at == Clock::Steady::time_point{2h});
  clock.advance(5s);
  CHECK_FALSE(cache.get("short"));
  CHECK(cache.get("default"));
  clock.advance(1h - 5s);
  CHECK_FALSE(cache.get("default"));
  CHECK(cache.get("long"));
  clock.advance(1h);
  CHECK_FALSE(cache.get("long"));
  CHECK(cache.stats().expirations == 3);
}

TEST_CASE("a put refreshes the ttl and the answer of an existing key", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock, {.default_ttl = 10s});
  cache.put("k", answer_of("m", "old"));
  clock.advance(8s);
  cache.put("k", answer_of("m", "new"));
  clock.advance(8s);
  const auto hit = cache.get("k");
  REQUIRE(hit);
  CHECK(hit.answer->body == "new");
  CHECK(hit.stored_at == Clock::Steady::time_point{8s});
  const auto stats = cache.stats();
  CHECK(stats.entries == 1);
  CHECK(stats.insertions == 2);
  CHECK(stats.replacements == 1);
  CHECK(stats.bytes == plain_bytes("k", answer_of("m", "new")));
}

TEST_CASE("a zero or negative ttl stores nothing", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock);
  CHECK(cache.put("k", answer_of("m", "a"), 0s) == ResponseCache::PutOutcome::kNoTtl);
  CHECK(cache.put("k", answer_of("m", "a"), -1s) == ResponseCache::PutOutcome::kNoTtl);
  CHECK_FALSE(cache.get("k"));
  CHECK(cache.stats().rejected == 2);
  CHECK(cache.stats().insertions == 0);
}

TEST_CASE("expired entries are purged by purge_expired and from the cold end by put", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock);
  cache.put("a", answer_of("m", "a"), 1s);
  cache.put("b", answer_of("m", "b"), 1h);
  cache.put("c", answer_of("m", "c"), 1s);
  clock.advance(1s);
  CHECK(cache.purge_expired() == 2);
  CHECK(cache.stats().entries == 1);
  CHECK(cache.stats().expirations == 2);

  cache.put("d", answer_of("m", "d"), 1s);  // order, coldest first: b, d
  clock.advance(1h);
  cache.put("e", answer_of("m", "e"));  // b and d have expired at the cold end
  const auto stats = cache.stats();
  CHECK(stats.entries == 1);
  CHECK(stats.expirations == 4);
  CHECK(stats.evictions == 0);
  CHECK(stats.bytes == plain_bytes("e", answer_of("m", "e")));
}

TEST_CASE("erase_model removes only that model's entries and updates per-model stats", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock);
  cache.put("a1", answer_of("alpha", "x"));
  cache.put("a2", answer_of("alpha", "y"));
  cache.put("b1", answer_of("beta", "z"));
  auto stats = cache.stats();
  REQUIRE(stats.models.size() == 2);
  CHECK(stats.models["alpha"].entries == 2);
  CHECK(stats.models["alpha"].bytes == plain_bytes("a1", answer_of("alpha", "x")) * 2);
  CHECK(stats.models["beta"].entries == 1);

  CHECK(cache.erase_model("alpha") == 2);
  CHECK(cache.erase_model("gamma") == 0);
  CHECK_FALSE(cache.get("a1"));
  CHECK_FALSE(cache.get("a2"));
  CHECK(cache.get("b1"));
  stats = cache.stats();
  CHECK(stats.entries == 1);
  CHECK(stats.bytes == plain_bytes("b1", answer_of("beta", "z")));
  CHECK(stats.models.size() == 1);
  CHECK(stats.models.count("alpha") == 0);
  CHECK(stats.evictions == 0);
}

TEST_CASE("clear empties the cache but keeps the counters", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock);
  cache.put("a", answer_of("alpha", "x"));
  cache.put("b", answer_of("beta", big_json_body()));
  CHECK(cache.get("a"));
  CHECK(cache.clear() == 2);
  CHECK_FALSE(cache.get("a"));
  CHECK_FALSE(cache.get("b"));
  const auto stats = cache.stats();
  CHECK(stats.entries == 0);
  CHECK(stats.bytes == 0);
  CHECK(stats.compressed_entries == 0);
  CHECK(stats.models.empty());
  CHECK(stats.insertions == 2);
  CHECK(stats.hits == 1);
  CHECK(stats.misses == 2);
  CHECK(stats.max_bytes == ResponseCacheOptions{}.max_bytes);
  // Still usable.
  cache.put("a", answer_of("alpha", "x"));
  CHECK(cache.get("a").answer->body == "x");
}

TEST_CASE("stats count hits, misses, insertions and evictions", "[response_cache]") {
  ManualClock clock;
  const auto one = plain_bytes("k0", answer_of("m", "body"));
  ResponseCache cache(clock, {.max_bytes = 8 * one});
  for (int i = 0; i < 10; ++i) cache.put("k" + std::to_string(i), answer_of("m", "body"));
  for (int i = 0; i < 10; ++i) cache.get("k" + std::to_string(i));
  cache.get("nope");
  const auto stats = cache.stats();
  CHECK(stats.entries == 8);
  CHECK(stats.bytes == 8 * one);
  CHECK(stats.max_bytes == 8 * one);
  CHECK(stats.insertions == 10);
  CHECK(stats.evictions == 2);
  CHECK(stats.hits == 8);
  CHECK(stats.misses == 3);
  CHECK(stats.expirations == 0);
  CHECK(stats.rejected == 0);
  CHECK(stats.compressed_entries == 0);
}

TEST_CASE("a large body is compressed, charged its compressed size and read back intact", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock);
  const auto body = big_json_body();
  REQUIRE(body.size() > 50'000);
  auto answer = answer_of("m", body);
  const auto uncompressed = plain_bytes("k", answer);
  cache.put("k", std::move(answer));
  const auto stats = cache.stats();
  CHECK(stats.compressed_entries == 1);
  const auto fixed = uncompressed - body.size();
  CHECK(stats.bytes > fixed);
  // Repetitive text shrinks well beyond 10x under zlib; the charge follows the compressed stream.
  CHECK(stats.bytes - fixed < body.size() / 10);
  const auto hit = cache.get("k");
  REQUIRE(hit);
  CHECK(hit.answer->body == body);
  CHECK(hit.answer->chunks.empty());
  CHECK(hit.answer->model == "m");
  CHECK(hit.answer->cost == 45'000);
  CHECK(cache.get("k").answer->body == body);  // a second decompression sees the same stream
}

TEST_CASE("a large stream transcript is compressed and read back chunk by chunk", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock);
  CachedAnswer answer = answer_of("m", "");
  std::uint64_t raw = 0;
  for (int i = 0; i < 300; ++i) {
    answer.chunks.push_back(R"({"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"word )" +
                            std::to_string(i) + R"( "}}]})");
    raw += answer.chunks.back().size();
  }
  answer.chunks.push_back("");  // an empty data payload survives too
  const auto chunks = answer.chunks;
  const auto fixed = plain_bytes("k", answer);  // body is empty: key, strings and overhead
  cache.put("k", std::move(answer));
  const auto stats = cache.stats();
  CHECK(stats.compressed_entries == 1);
  CHECK(stats.bytes > fixed);
  CHECK(stats.bytes - fixed < raw / 5);
  const auto hit = cache.get("k");
  REQUIRE(hit);
  CHECK(hit.answer->body.empty());
  CHECK(hit.answer->chunks == chunks);
}

TEST_CASE("a payload that does not shrink is stored plain", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock);
  auto answer = answer_of("m", random_bytes(10'000));
  const auto expected = plain_bytes("k", answer);
  const auto body = answer.body;
  cache.put("k", std::move(answer));
  CHECK(cache.stats().compressed_entries == 0);
  CHECK(cache.stats().bytes == expected);
  CHECK(cache.get("k").answer->body == body);
}

TEST_CASE("a small transcript is stored plain and charged per chunk", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock);
  auto answer = answer_of("m", "");
  answer.chunks = {"one", "two", "three"};
  const auto expected = plain_bytes("k", answer) + 11 + 3 * sizeof(std::string);
  cache.put("k", std::move(answer));
  CHECK(cache.stats().compressed_entries == 0);
  CHECK(cache.stats().bytes == expected);
  CHECK(cache.get("k").answer->chunks == std::vector<std::string>{"one", "two", "three"});
}

TEST_CASE("an entry over max_bytes / 8 is refused and leaves the old entry", "[response_cache]") {
  ManualClock clock;
  ResponseCache cache(clock, {.max_bytes = 64 * 1024});
  cache.put("k", answer_of("m", "small"));
  // 8 KiB of incompressible bytes plus overhead is over 64 KiB / 8.
  CHECK(cache.put("k", answer_of("m", random_bytes(8 * 1024))) == ResponseCache::PutOutcome::kTooLarge);
  CHECK(cache.get("k").answer->body == "small");
  const auto stats = cache.stats();
  CHECK(stats.rejected == 1);
  CHECK(stats.insertions == 1);
  // Right at the limit is accepted (incompressible, so it is charged exactly this).
  const auto fixed = plain_bytes("j", answer_of("m", ""));
  CHECK(cache.put("j", answer_of("m", random_bytes(64 * 1024 / 8 - fixed))) == ResponseCache::PutOutcome::kStored);
  CHECK(cache.stats().bytes == plain_bytes("k", answer_of("m", "small")) + 64 * 1024 / 8);
  CHECK(cache.put("j", answer_of("m", random_bytes(64 * 1024 / 8 - fixed + 1))) ==
        ResponseCache::PutOutcome::kTooLarge);
}

TEST_CASE("gets and puts from 8 threads keep the stats consistent", "[response_cache]") {
  ManualClock clock;
  const std::uint64_t max_bytes = 100 * plain_bytes("key-000", answer_of("m0", "body-000"));
  ResponseCache cache(clock, {.max_bytes = max_bytes});
  constexpr int kThreads = 8;
  constexpr int kRounds = 5000;
  std::atomic<std::uint64_t> gets{0}, puts{0}, hits{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kRounds; ++i) {
        char id[4];
        std::snprintf(id, sizeof id, "%03u", static_cast<unsigned>(rng() % 300));
        const std::string key = std::string("key-") + id;
        if (rng() % 3 == 0) {
          cache.put(key, answer_of("m" + std::string(1, id[2]), std::string("body-") + id));
          ++puts;
        } else {
          const auto hit = cache.get(key);
          ++gets;
          if (hit) {
            ++hits;
            if (hit.answer->body != std::string("body-") + id) ++wrong;
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto stats = cache.stats();
  CHECK(wrong == 0);
  CHECK(stats.hits == hits);
  CHECK(stats.hits + stats.misses == gets);
  CHECK(stats.insertions == puts);
  CHECK(stats.entries == stats.insertions - stats.replacements - stats.evictions - stats.expirations);
  CHECK(stats.entries <= 100);
  CHECK(stats.bytes <= max_bytes);
  std::uint64_t model_entries = 0, model_bytes = 0;
  for (const auto& [name, model] : stats.models) {
    model_entries += model.entries;
    model_bytes += model.bytes;
  }
  CHECK(model_entries == stats.entries);
  CHECK(model_bytes == stats.bytes);
  CHECK(hits > 0);
  CHECK(stats.evictions > 0);
}

// Run by hand: unit_core "[.response_cache_bench]". Prints the figures the README quotes.
TEST_CASE("response cache figures", "[.response_cache_bench]") {
  ManualClock clock;
  ResponseCache cache(clock);
  const std::string key = "vk_01HZX3:" + std::string(64, 'a');
  auto answer = answer_of("gpt-4o-mini", chat_completion(1, 700));
  std::cout << "typical answer: body " << answer.body.size() << " B, charged "
            << plain_bytes(key, answer) << " B per entry (overhead " << ResponseCache::kEntryOverhead << " B)\n";
  for (int i = 0; i < 10'000; ++i) {
    cache.put(key + std::to_string(i), answer_of("gpt-4o-mini", chat_completion(i, 700)));
  }
  std::vector<std::string> keys;
  for (int i = 0; i < 10'000; ++i) keys.push_back(key + std::to_string(i));
  constexpr int kGets = 2'000'000;
  std::uint64_t found = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kGets; ++i) found += static_cast<bool>(cache.get(keys[(static_cast<std::size_t>(i) * 7919) % keys.size()]));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  std::cout << "get (hit, 10k entries, 1 thread): "
            << std::chrono::duration<double, std::nano>(elapsed).count() / kGets << " ns\n";
  CHECK(found == kGets);

  cache.put("big", answer_of("gpt-4o-mini", big_json_body()));
  constexpr int kBigGets = 2'000;
  const auto big_start = std::chrono::steady_clock::now();
  for (int i = 0; i < kBigGets; ++i) found += static_cast<bool>(cache.get("big"));
  const auto big_elapsed = std::chrono::steady_clock::now() - big_start;
  std::cout << "get (hit, compressed " << big_json_body().size() << " B body): "
            << std::chrono::duration<double, std::micro>(big_elapsed).count() / kBigGets << " us\n";

  std::atomic<std::uint64_t> total{0};
  std::vector<std::thread> threads;
  const auto mt_start = std::chrono::steady_clock::now();
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::uint64_t local = 0;
      for (int i = 0; i < kGets / 8; ++i) local += static_cast<bool>(cache.get(keys[(static_cast<std::size_t>(i) * 7919 + t) % keys.size()]));
      total += local;
    });
  }
  for (auto& thread : threads) thread.join();
  const auto mt_elapsed = std::chrono::steady_clock::now() - mt_start;
  std::cout << "get (hit, 8 threads on 2 cores): "
            << std::chrono::duration<double, std::nano>(mt_elapsed).count() / kGets << " ns per get (wall)\n";
}
