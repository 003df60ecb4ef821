// Result<T>: the value-or-GatewayError type every expected failure travels in.
#pragma once

#include <boost/system/result.hpp>

#include "core/error.hpp"

namespace tollgate::core {

template <class T>
using Result = boost::system::result<T, GatewayError>;

/// Called by boost::system::result::value() on an error; found by ADL.
[[noreturn]] void throw_exception_from_error(const GatewayError& e, const boost::source_location& loc);

}  // namespace tollgate::core
