// Connections: the live client connections, so shutdown can drain idle ones and bound the rest.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_set>

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace tollgate::server {

/// One connection as the registry sees it. `stream` and `busy` are touched only on `strand`.
struct ConnectionEntry {
  boost::asio::any_io_executor strand;
  boost::beast::tcp_stream* stream = nullptr;  // null once the session has ended
  bool busy = false;                           // a request is being handled
};

/// Thread-safe registry of live sessions. Sessions add themselves on start and remove themselves
/// when they end; shutdown closes idle connections at once (drain) or every connection (force).
class Connections {
 public:
  std::shared_ptr<ConnectionEntry> add(boost::asio::any_io_executor strand, boost::beast::tcp_stream& stream);
  /// Called by the session on its strand when it ends.
  void remove(const std::shared_ptr<ConnectionEntry>& entry);
  std::size_t size() const;

  /// Closes every connection that is idle between requests; busy ones close after their reply.
  /// `on_empty` runs (once, from any thread) when no connection is left, immediately if none is.
  void drain(std::function<void()> on_empty);
  /// Closes every connection, busy or not (the drain bound has passed).
  void close_all();

 private:
  void close_where(bool only_idle);

  mutable std::mutex mutex_;
  std::unordered_set<std::shared_ptr<ConnectionEntry>> entries_;
  std::function<void()> on_empty_;
  bool draining_ = false;
};

}  // namespace tollgate::server
