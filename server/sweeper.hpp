// Sweeper: runs a piece of housekeeping every interval on the io_context until stopped.
#pragma once

#include <chrono>
#include <functional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tollgate::server {

/// Calls `work` every `interval` (the first call one interval after start()), on `executor`,
/// until stop(). Used for the periodic purge of expired cache entries and dedup flights, which
/// would otherwise hold memory until a lookup of the same key or an eviction.
class Sweeper {
 public:
  Sweeper(boost::asio::any_io_executor executor, std::chrono::milliseconds interval, std::function<void()> work);
  void start();
  /// Cancels the wait (posted to the sweeper's strand, so any thread may call it); no call of
  /// `work` starts after it has run. The sweeper must outlive the io_context's run.
  void stop();

 private:
  boost::asio::awaitable<void> loop();

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds interval_;
  std::function<void()> work_;
  bool stopped_ = false;
};

}  // namespace tollgate::server
