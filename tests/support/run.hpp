// Test support: run awaitables to completion, and pull a ChunkStream to its end.
#pragma once

#include <chrono>
#include <future>
#include <optional>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include "core/pipeline/chunk_stream.hpp"

namespace tollgate::testing {

/// Runs `task` on `io` (which may also serve in-test servers forever) until the task completes;
/// a task still unfinished after 10 s fails the test instead of hanging it.
template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  using namespace std::chrono_literals;
  if (io.stopped()) io.restart();
  auto future = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (future.wait_for(0s) != std::future_status::ready) {
    if (std::chrono::steady_clock::now() > give_up) FAIL("the awaited task did not finish within 10 s");
    if (io.stopped()) io.restart();
    io.run_one_for(100ms);
  }
  return future.get();
}

/// Runs `task` on a private io_context.
template <class T>
T run(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  return run(io, std::move(task));
}

/// A stream pulled to its end: its chunks, and the error it ended with, if any.
struct Pulled {
  std::vector<core::Chunk> chunks;
  std::optional<core::GatewayError> error;
};

/// Pulls `stream` on `io` until its end or error; more than `limit` chunks fails the test.
inline Pulled pull_all(boost::asio::io_context& io, core::ChunkStream& stream, std::size_t limit = 100) {
  Pulled out;
  for (std::size_t i = 0; i < limit; ++i) {
    auto next = run(io, stream.next());
    if (next.has_error()) {
      out.error = next.error();
      return out;
    }
    if (!*next) return out;
    out.chunks.push_back(std::move(**next));
  }
  FAIL("the stream did not end");
  return out;
}

inline Pulled pull_all(core::ChunkStream& stream, std::size_t limit = 100) {
  boost::asio::io_context io;
  return pull_all(io, stream, limit);
}

}  // namespace tollgate::testing
