// Caller: who is making a request, as established by authentication.
#pragma once

#include <memory>
#include <string_view>

#include "core/identity/virtual_keys.hpp"

namespace tollgate::core {

struct Caller {
  enum class Kind { kAnonymous, kMaster, kVirtualKey };
  Kind kind = Kind::kAnonymous;
  std::shared_ptr<const VirtualKey> key;  // set for kVirtualKey

  /// For audit and logs: the virtual key id, "master" or "anonymous". Never a secret.
  std::string_view id() const noexcept {
    switch (kind) {
      case Kind::kVirtualKey: return key->id;
      case Kind::kMaster: return "master";
      case Kind::kAnonymous: break;
    }
    return "anonymous";
  }
};

}  // namespace tollgate::core
