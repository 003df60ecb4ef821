// Bridges the store writer's callbacks to Asio awaitables.
#include "core/store/awaiting.hpp"

#include <memory>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tollgate::core {
namespace {

namespace asio = boost::asio;

/// Wraps the (move-only) completion handler so a copyable std::function can complete it from the
/// writer thread; the completion itself is posted to the handler's executor.
template <class Value, class Handler>
std::function<void(Value)> resume_on_executor(Handler handler) {
  auto shared = std::make_shared<Handler>(std::move(handler));
  return [shared](Value value) {
    auto executor = asio::get_associated_executor(*shared);
    asio::post(executor, [shared, value = std::move(value)]() mutable { std::move(*shared)(std::move(value)); });
  };
}

}  // namespace

asio::awaitable<bool> committed(std::function<void(Store::Done)> submit) {
  auto initiate = [submit = std::move(submit)](auto handler) mutable {
    submit(resume_on_executor<bool>(std::move(handler)));
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(std::move(initiate),
                                                                                    asio::use_awaitable);
}

asio::awaitable<std::vector<AuditRecord>> query_audit(Store& store, AuditQuery query) {
  auto initiate = [&store, query](auto handler) {
    store.query_audit(query, resume_on_executor<std::vector<AuditRecord>>(std::move(handler)));
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::vector<AuditRecord>)>(
      std::move(initiate), asio::use_awaitable);
}

asio::awaitable<std::optional<UsageReport>> query_usage(Store& store, UsageQuery query) {
  auto initiate = [&store, query](auto handler) {
    store.query_usage(query, resume_on_executor<std::optional<UsageReport>>(std::move(handler)));
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::optional<UsageReport>)>(
      std::move(initiate), asio::use_awaitable);
}

}  // namespace tollgate::core
