// LocalEmbedder: unit vectors, determinism, what normalisation erases, what word order and typos do, speed.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <ctime>
#include <string>
#include <vector>

#include "core/cache/local_embedder.hpp"
#include "support/run.hpp"

using namespace tollgate::core;

namespace {

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

double similarity(const LocalEmbedder& embedder, std::string_view a, std::string_view b) {
  return dot(embedder.embed_now(a), embedder.embed_now(b));
}

std::chrono::nanoseconds thread_cpu_time() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

TEST_CASE("LocalEmbedder returns unit vectors of the configured size", "[semantic]") {
  const LocalEmbedder embedder;
  CHECK(embedder.dimensions() == 512);
  CHECK(embedder.name() == "local-ngram-v1-512");
  const auto v = embedder.embed_now("Explain the difference between TCP and UDP.");
  REQUIRE(v.size() == 512);
  CHECK(dot(v, v) == Approx(1.0).margin(1e-5));
  std::size_t nonzero = 0;
  for (float x : v) nonzero += x != 0.0f;
  CHECK(nonzero > 30);  // spread over many slots, not piled on a few

  const LocalEmbedder small({.dimensions = 64});
  CHECK(small.name() == "local-ngram-v1-64");
  CHECK(small.embed_now("hello world").size() == 64);
  CHECK(LocalEmbedder({.dimensions = 64, .bigram_weight = 2.0f}).name() == "local-ngram-v1-64-custom");
}

TEST_CASE("LocalEmbedder is deterministic across instances and calls", "[semantic]") {
  const LocalEmbedder a;
  const LocalEmbedder b;
  const std::string text = "Write a bash script that backs up my home directory to an external drive.";
  CHECK(a.embed_now(text) == b.embed_now(text));
  CHECK(a.embed_now(text) == a.embed_now(text));
}

TEST_CASE("LocalEmbedder gives the zero vector for text without words", "[semantic]") {
  const LocalEmbedder embedder;
  for (const std::string_view text : {"", "   \n\t ", "?!... ,;:", "“”…—"}) {
    INFO(text);
    const auto v = embedder.embed_now(text);
    REQUIRE(v.size() == 512);
    CHECK(dot(v, v) == 0.0);
  }
}

TEST_CASE("LocalEmbedder ignores case, spacing, punctuation, quotes and contractions", "[semantic]") {
  const LocalEmbedder embedder;
  // Each pair normalises to the same words, so the vectors are equal.
  CHECK(embedder.embed_now("What is the capital of Australia?") ==
        embedder.embed_now("  what IS the capital   of australia "));
  CHECK(embedder.embed_now("Translate 'good morning' into Spanish.") ==
        embedder.embed_now("Translate \xE2\x80\x9Cgood morning\xE2\x80\x9D into Spanish"));
  CHECK(embedder.embed_now("What's the boiling point of water?") ==
        embedder.embed_now("What is the boiling point of water"));
  CHECK(embedder.embed_now("I can\xE2\x80\x99t log in") == embedder.embed_now("I cannot log in"));
  CHECK(embedder.embed_now("Suggest five names for a bakery") == embedder.embed_now("Suggest 5 names for a bakery"));
}

TEST_CASE("LocalEmbedder ranks a typo above a changed word, and sees word order", "[semantic]") {
  const LocalEmbedder embedder;
  const double typo = similarity(embedder, "How does garbage collection work in Java?",
                                 "How does garbage colection work in Java?");
  const double other_word = similarity(embedder, "How does garbage collection work in Java?",
                                       "How does garbage collection work in Python?");
  CHECK(typo > other_word);
  CHECK(typo > 0.8);

  // Same words, other order: only the word pairs tell them apart.
  const double swapped = similarity(embedder, "How do I convert a string to an integer in Rust?",
                                    "How do I convert an integer to a string in Rust?");
  CHECK(swapped < 0.99);
  CHECK(swapped > 0.8);

  const double unrelated = similarity(embedder, "Tell me a joke about programmers.",
                                      "What is the boiling point of water at sea level?");
  CHECK(unrelated < 0.3);
}

TEST_CASE("LocalEmbedder::embed is embed_now as an awaitable", "[semantic]") {
  LocalEmbedder embedder;
  const std::string text = "Summarize the plot of Romeo and Juliet in two sentences.";
  const auto result = tollgate::testing::run(embedder.embed(text));
  REQUIRE(result.has_value());
  CHECK(*result == embedder.embed_now(text));
}

TEST_CASE("LocalEmbedder speed on a 300-byte prompt (printed, not asserted)", "[semantic]") {
  const LocalEmbedder embedder;
  const std::string prompt =
      "Write a polite email to my landlord asking them to fix the broken heating in my apartment. Mention that it "
      "has been broken for a week and that it is getting cold. Also ask whether they could send someone on Tuesday "
      "morning, and thank them for their help with the boiler last winter. Keep it under 150 words.";
  REQUIRE(prompt.size() >= 290);
  REQUIRE(prompt.size() <= 310);
  constexpr int kRounds = 20'000;
  float sink = 0;
  // Thread CPU time: the machine is shared, and wall time would count other processes' turns.
  const auto start = thread_cpu_time();
  for (int i = 0; i < kRounds; ++i) sink += embedder.embed_now(prompt)[static_cast<std::size_t>(i) % 512];
  const auto elapsed = thread_cpu_time() - start;
  const double micros = std::chrono::duration<double, std::micro>(elapsed).count() / kRounds;
  WARN("LocalEmbedder: " << micros << " us CPU per embed of a " << prompt.size() << "-byte prompt (checksum "
                         << sink << ")");
  CHECK(micros > 0);
}
