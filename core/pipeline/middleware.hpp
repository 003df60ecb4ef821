// Middleware: one concern of the request pipeline, composed as an onion of awaitables.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/pipeline/reply.hpp"
#include "core/pipeline/request_context.hpp"

namespace tollgate::core {

class Middleware;

/// The rest of the chain after a stage. Cheap to copy; calling it runs the next stage.
class Next {
 public:
  explicit Next(std::span<const Middleware* const> rest) noexcept : rest_(rest) {}
  boost::asio::awaitable<Reply> operator()(RequestContext& ctx) const;

 private:
  std::span<const Middleware* const> rest_;
};

/// One concern of the request pipeline. Called once per request on the connection's strand.
/// Answers by returning a Reply without calling `next`, or delegates with `co_await next(ctx)`
/// and may inspect, decorate or replace what comes back (including wrapping its stream).
/// Expected failures are returned as Reply::error(GatewayError); a stage never throws for them.
/// Stages are shared by all requests: per-request state lives in the RequestContext only.
class Middleware {
 public:
  virtual ~Middleware() = default;
  virtual std::string_view name() const noexcept = 0;
  virtual boost::asio::awaitable<Reply> handle(RequestContext& ctx, Next next) const = 0;
};

/// The ordered chain of stages; the last one is terminal (never calls next).
class Pipeline {
 public:
  explicit Pipeline(std::vector<std::unique_ptr<Middleware>> stages);
  /// Runs the chain for one request. Never throws for expected failures.
  boost::asio::awaitable<Reply> run(RequestContext& ctx) const;
  /// Stage names in order, for /health and tests.
  std::vector<std::string_view> names() const;

 private:
  std::vector<std::unique_ptr<Middleware>> stages_;
  std::vector<const Middleware*> order_;
};

}  // namespace tollgate::core
