// Awaiting the store's writer thread from a coroutine: commits and queued reads.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/store/store.hpp"

namespace tollgate::core {

/// Calls `submit` with a Store::Done and suspends until the store calls it; resumes on the
/// caller's executor (never on the writer thread) with whether the write was committed.
/// Usage: build the std::function as a named local, then `co_await committed(std::move(submit))`.
/// Never pass a lambda straight into the co_await expression: g++ 12 miscompiles the temporaries
/// (a converted lambda destroyed at the wrong address; the admin handlers crashed that way).
boost::asio::awaitable<bool> committed(std::function<void(Store::Done)> submit);

/// Store::query_audit, resumed on the caller's executor.
boost::asio::awaitable<std::vector<AuditRecord>> query_audit(Store& store, AuditQuery query);

/// Store::query_usage, resumed on the caller's executor; nullopt when the read failed.
boost::asio::awaitable<std::optional<UsageReport>> query_usage(Store& store, UsageQuery query);

}  // namespace tollgate::core
