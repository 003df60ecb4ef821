// AdminClient: blocking calls to a running tollgate's admin API, for the operator CLI.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace tollgate::server::cli {

/// One admin API call. `path` is absolute and already percent-encoded ("/api/v1/keys?provider_id=x").
struct AdminRequest {
  std::string method;  // GET, POST, DELETE
  std::string path;
  std::string body;    // JSON; empty for GET and DELETE
};

/// Whatever the server answered, 2xx or not.
struct AdminResponse {
  int status = 0;
  std::string body;
};

/// Why no answer came back. `message` names the peer and the cause, never a credential.
struct TransportError {
  enum class Kind {
    kUnreachable,  // DNS, connect, TLS, or the connection closed before an answer
    kTimeout,      // no complete answer within the deadline
    kProtocol,     // the peer answered something that is not HTTP
  };
  Kind kind = Kind::kUnreachable;
  std::string message;
};

/// Called by boost::system::result<T, TransportError>::value() on an error; found by ADL.
[[noreturn]] void throw_exception_from_error(const TransportError& e, const boost::source_location& loc);

using AdminResult = boost::system::result<AdminResponse, TransportError>;

/// A checked base URL: http or https, a host, no credentials, no query or fragment.
struct BaseUrl {
  std::string text;  // as to be printed and joined: no trailing '/'
  bool loopback = false;
  bool tls = false;
};

/// Checks `text` as the server's base URL (e.g. "http://127.0.0.1:8080" or one behind a path
/// prefix); the error says what is wrong without echoing the URL.
boost::system::result<BaseUrl, std::string> check_base_url(std::string_view text);

/// Sends requests to one tollgate, one at a time, each on its own io_context; blocks until the
/// answer or a transport failure. The master key, when given, goes only into the Authorization
/// header. Not thread-safe; meant for the CLI's main thread.
class AdminClient {
 public:
  struct Options {
    BaseUrl base;
    std::optional<std::string> master_key;
    std::chrono::milliseconds connect_timeout{5'000};
    std::chrono::milliseconds total_timeout{30'000};
  };

  explicit AdminClient(Options options);

  AdminResult send(const AdminRequest& request) const;

 private:
  Options options_;
};

}  // namespace tollgate::server::cli
