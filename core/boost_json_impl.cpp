// The one translation unit that compiles Boost.JSON (header-only library, separately compiled).
#include <boost/json/src.hpp>
