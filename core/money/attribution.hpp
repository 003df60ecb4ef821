// Attribution and holds: what a request is charged to, and the money it holds while in flight.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/money/money.hpp"

namespace tollgate::core {

enum class BudgetScope { kGlobal, kProvider, kModel, kVirtualKey, kTeam, kProject, kCustomer, kFeature };

/// What one request is attributed to: the values budgets match their scope on, and the ledger's
/// attribution columns.
struct Attribution {
  std::string provider;  // the answering provider (before dispatch: the first candidate's)
  std::string model;     // the model name served
  std::string virtual_key;
  std::string team;
  std::string project;
  std::string customer;
  std::string feature;
  std::string_view value(BudgetScope scope) const noexcept;
};

/// The money a request holds against hard budgets between admission and settlement (see
/// BudgetBook). Move-only; an empty hold holds nothing.
class BudgetHold {
 public:
  BudgetHold() = default;
  BudgetHold(BudgetHold&&) noexcept = default;
  BudgetHold& operator=(BudgetHold&&) noexcept = default;
  BudgetHold(const BudgetHold&) = delete;
  BudgetHold& operator=(const BudgetHold&) = delete;
  bool empty() const noexcept { return entries_.empty(); }
  Nanos amount() const noexcept { return amount_; }

 private:
  friend class BudgetBook;
  struct Account;
  std::vector<std::shared_ptr<Account>> entries_;
  Nanos amount_ = 0;
};

}  // namespace tollgate::core
