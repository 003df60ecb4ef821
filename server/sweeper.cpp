// Sweeper: a timer loop calling its work until stopped.
#include "server/sweeper.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tollgate::server {

Sweeper::Sweeper(boost::asio::any_io_executor executor, std::chrono::milliseconds interval, std::function<void()> work)
    : timer_(boost::asio::make_strand(std::move(executor))), interval_(interval), work_(std::move(work)) {}

void Sweeper::start() { boost::asio::co_spawn(timer_.get_executor(), loop(), boost::asio::detached); }

void Sweeper::stop() {
  // The timer is touched on its strand only, whatever thread asks to stop.
  boost::asio::post(timer_.get_executor(), [this] {
    stopped_ = true;
    timer_.cancel();
  });
}

boost::asio::awaitable<void> Sweeper::loop() {
  while (!stopped_) {
    timer_.expires_after(interval_);
    boost::system::error_code ec;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (stopped_ || ec) break;
    work_();
  }
}

}  // namespace tollgate::server
