// The one translation unit that compiles Beast's and Asio SSL's non-template code (separate compilation).
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
