// Test support: a Provider that answers from a script, and a ChunkStream over a vector.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/provider.hpp"

namespace tollgate::testing {

/// Chunks in order, then the clean end — or an error at `fail_at` (index of the failing pull).
class VectorStream final : public core::ChunkStream {
 public:
  explicit VectorStream(std::vector<core::Chunk> chunks, int fail_at = -1)
      : chunks_(std::move(chunks)), fail_at_(fail_at) {}
  boost::asio::awaitable<core::Result<std::optional<core::Chunk>>> next() override {
    const int index = pulled_++;
    if (index == fail_at_)
      co_return core::make_error(core::ErrorKind::kUpstreamError, "stream broke");
    if (static_cast<std::size_t>(index) >= chunks_.size()) co_return std::optional<core::Chunk>{};
    co_return std::optional<core::Chunk>{chunks_[static_cast<std::size_t>(index)]};
  }

 private:
  std::vector<core::Chunk> chunks_;
  int fail_at_;
  int pulled_ = 0;
};

inline core::Chunk chunk(std::string data) { return core::Chunk{std::move(data), std::nullopt, false}; }

inline core::AttemptError failure(core::FailureKind kind, int status = 0, bool retryable = true, std::string body = {}) {
  core::AttemptError e;
  e.kind = kind;
  e.status = status;
  e.retryable = retryable;
  e.message = "scripted failure " + std::to_string(status);
  e.body = std::move(body);
  return e;
}

/// Answers each call with the next scripted step; records what it was asked.
class ScriptedProvider final : public core::Provider {
 public:
  struct Step {
    std::optional<core::AttemptError> error;
    std::string body = R"({"ok":true})";
    std::vector<core::Chunk> chunks;  // stream answer
    int fail_at = -1;
  };

  explicit ScriptedProvider(std::string id) : id_(std::move(id)) {}
  std::string_view id() const noexcept override { return id_; }
  std::string_view type() const noexcept override { return "scripted"; }

  boost::asio::awaitable<core::AttemptResult> call(core::UpstreamCall call) override {
    models.emplace_back(call.upstream_model);
    timeouts.push_back(call.timeouts);
    if (clock != nullptr) clock->advance(latency);
    Step step = steps.empty() ? Step{} : steps.front();
    if (!steps.empty()) steps.pop_front();
    if (step.error) co_return *step.error;
    if (call.stream)
      co_return core::Reply::chunks(std::make_unique<VectorStream>(std::move(step.chunks), step.fail_at));
    co_return core::Reply::json(200, step.body);
  }

  std::optional<core::Clock::Steady::time_point> unavailable_until(core::Clock::Steady::time_point now) const override {
    if (unavailable && *unavailable > now) return unavailable;
    return std::nullopt;
  }

  std::deque<Step> steps;
  std::optional<core::Clock::Steady::time_point> unavailable;  // every key resting (or disabled: max()) until then
  std::vector<std::string> models;  // upstream models called, in order
  std::vector<core::AttemptTimeouts> timeouts;  // the deadlines each call was given
  core::ManualClock* clock = nullptr;  // when set, each call advances it by `latency`
  std::chrono::nanoseconds latency{0};

 private:
  std::string id_;
};

}  // namespace tollgate::testing
