// UpstreamClient: HTTP/1.1 to upstream providers — keep-alive pool per origin, TLS, timeouts.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "core/pipeline/reply.hpp"
#include "core/provider.hpp"

namespace tollgate::adapters::http {

/// One request to an upstream. `headers` may hold credentials: never logged.
struct Request {
  std::string method = "POST";
  std::string url;  // absolute: http://host:port/path or https://…
  core::Headers headers;
  std::string body;
};

/// A complete response.
struct Response {
  int status = 0;
  core::Headers headers;  // names lower-cased
  std::string body;
};

template <class T>
using ClientResult = boost::system::result<T, core::AttemptError>;

/// The body of a response whose head has arrived, read as it comes. One reader at a time.
/// Destroying it before the end closes the connection; reading to the clean end returns the
/// connection to the pool.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  virtual int status() const noexcept = 0;
  virtual const core::Headers& headers() const noexcept = 0;
  /// The next bytes of the (de-chunked) body as soon as any arrive; nullopt at the end. Fails
  /// with kTimeout when nothing arrives within the stream idle timeout, kConnect on a reset,
  /// kProtocol on bad framing or a truncated body.
  virtual boost::asio::awaitable<ClientResult<std::optional<std::string>>> read_some() = 0;
  /// The rest of the body (bounded by the client's max_response_bytes), e.g. for an error body.
  virtual boost::asio::awaitable<ClientResult<std::string>> read_all() = 0;
};

/// Thread-safe; called from any strand. Each operation runs on the calling coroutine's executor.
class UpstreamClient {
 public:
  struct Options {
    std::size_t max_idle_per_origin = 64;           // pooled keep-alive connections per origin
    std::chrono::milliseconds pool_idle_timeout{30'000};  // older idle connections are dropped
    std::uint64_t max_response_bytes = 64ull << 20;
    std::string ca_file;  // empty: the system trust store
  };

  UpstreamClient(boost::asio::any_io_executor io, Options options);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  /// Sends a request and reads the whole response. Deadlines: timeouts.connect for DNS+TCP+TLS,
  /// timeouts.first_byte for the response head, timeouts.total for everything.
  boost::asio::awaitable<ClientResult<Response>> send(Request request, core::AttemptTimeouts timeouts);

  /// Sends a request and returns once the response head has arrived; the body is then read
  /// through the BodyReader (timeouts.stream_idle between reads). For streaming responses.
  boost::asio::awaitable<ClientResult<std::unique_ptr<BodyReader>>> open(Request request,
                                                                        core::AttemptTimeouts timeouts);

  /// Idle pooled connections now (all origins), for metrics and tests.
  std::size_t idle_connections() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tollgate::adapters::http
