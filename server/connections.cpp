// The live-connection registry used by graceful shutdown.
#include "server/connections.hpp"

#include <vector>

#include <boost/asio/post.hpp>

namespace tollgate::server {

std::shared_ptr<ConnectionEntry> Connections::add(boost::asio::any_io_executor strand, boost::beast::tcp_stream& stream) {
  auto entry = std::make_shared<ConnectionEntry>();
  entry->strand = std::move(strand);
  entry->stream = &stream;
  std::lock_guard lock(mutex_);
  entries_.insert(entry);
  return entry;
}

void Connections::remove(const std::shared_ptr<ConnectionEntry>& entry) {
  entry->stream = nullptr;
  std::function<void()> done;
  {
    std::lock_guard lock(mutex_);
    entries_.erase(entry);
    if (draining_ && entries_.empty() && on_empty_) done = std::exchange(on_empty_, nullptr);
  }
  if (done) done();
}

std::size_t Connections::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void Connections::drain(std::function<void()> on_empty) {
  bool empty;
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    empty = entries_.empty();
    if (!empty) on_empty_ = on_empty;
  }
  if (empty) on_empty();
  else close_where(true);
}

void Connections::close_all() { close_where(false); }

void Connections::close_where(bool only_idle) {
  std::vector<std::shared_ptr<ConnectionEntry>> entries;
  {
    std::lock_guard lock(mutex_);
    entries.assign(entries_.begin(), entries_.end());
  }
  for (auto& entry : entries) {
    // The socket belongs to its strand: close it there, and only if the session still runs.
    boost::asio::post(entry->strand, [entry, only_idle] {
      if (entry->stream == nullptr || (only_idle && entry->busy)) return;
      boost::beast::error_code ignored;
      entry->stream->socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
      entry->stream->cancel();
    });
  }
}

}  // namespace tollgate::server
