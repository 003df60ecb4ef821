// ProviderEmbedder: the provider's vector checked and normalised, failures named; normalize_embedding.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/cache/provider_embedder.hpp"
#include "support/run.hpp"

using namespace tollgate::core;
using tollgate::testing::run;

namespace {

/// A provider whose embed() answers `answer` and remembers what it was asked.
class EmbeddingProvider final : public Provider {
 public:
  explicit EmbeddingProvider(EmbeddingResult answer) : answer_(std::move(answer)) {}
  std::string_view id() const noexcept override { return "emb"; }
  std::string_view type() const noexcept override { return "openai"; }
  boost::asio::awaitable<AttemptResult> call(UpstreamCall) override {
    co_return AttemptResult(boost::system::in_place_error, AttemptError{});
  }
  boost::asio::awaitable<EmbeddingResult> embed(EmbeddingCall call) override {
    model = std::string(call.upstream_model);
    input = std::string(call.input);
    dimensions = call.dimensions;
    co_return answer_;
  }

  std::string model, input;
  std::optional<std::size_t> dimensions;

 private:
  EmbeddingResult answer_;
};

}  // namespace

TEST_CASE("ProviderEmbedder asks for its model and size and normalises the answer", "[provider_embedder]") {
  boost::asio::io_context io;
  EmbeddingProvider provider(EmbeddingResult(std::vector<float>{3, 0, 4}));
  ProviderEmbedder embedder(provider, "text-embedding-3-small", 3, {});
  CHECK(embedder.name() == "provider:emb/text-embedding-3-small/3");
  CHECK(embedder.dimensions() == 3);
  auto vector = run(io, embedder.embed("what is the capital of France?"));
  REQUIRE(vector.has_value());
  CHECK(*vector == std::vector<float>{0.6f, 0.0f, 0.8f});
  CHECK(provider.model == "text-embedding-3-small");
  CHECK(provider.input == "what is the capital of France?");
  CHECK(provider.dimensions == std::optional<std::size_t>(3));
}

TEST_CASE("ProviderEmbedder fails on a wrong size, a zero vector or the provider's error, without the text",
          "[provider_embedder]") {
  boost::asio::io_context io;
  const auto failure = [&io](EmbeddingResult answer) {
    EmbeddingProvider provider(std::move(answer));
    ProviderEmbedder embedder(provider, "m", 3, {});
    auto result = run(io, embedder.embed("secret prompt text"));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().message.find("secret prompt text") == std::string::npos);
    return result.error().message;
  };
  CHECK(failure(EmbeddingResult(std::vector<float>{1, 2})).find("returned 2 floats") != std::string::npos);
  CHECK(failure(EmbeddingResult(std::vector<float>{0, 0, 0})).find("zero or non-finite") != std::string::npos);
  CHECK(failure(EmbeddingResult(boost::system::in_place_error,
                                AttemptError{.kind = FailureKind::kTimeout, .message = "first byte timeout"}))
            .find("first byte timeout") != std::string::npos);
}

TEST_CASE("normalize_embedding scales to unit length and refuses empty, zero and non-finite vectors",
          "[provider_embedder]") {
  std::vector<float> v{1, 1, 1, 1};
  REQUIRE(normalize_embedding(v));
  for (float x : v) CHECK(x == Approx(0.5));
  std::vector<float> empty;
  CHECK_FALSE(normalize_embedding(empty));
  std::vector<float> zero{0, 0};
  CHECK_FALSE(normalize_embedding(zero));
  std::vector<float> nan{1, std::numeric_limits<float>::quiet_NaN()};
  CHECK_FALSE(normalize_embedding(nan));
  CHECK(std::isnan(nan[1]));  // left unchanged
}
