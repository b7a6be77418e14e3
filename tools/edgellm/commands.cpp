#include "commands.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace edgellm::cli {
namespace {

// A function-local static: registrations run during static initialisation of other files.
std::vector<std::pair<int, AddCommandFn>>& registry() {
  static std::vector<std::pair<int, AddCommandFn>> commands;
  return commands;
}

}  // namespace

CommandRegistration::CommandRegistration(int order, AddCommandFn add) { registry().emplace_back(order, add); }

void add_all_commands(CLI::App& app) {
  auto commands = registry();
  std::stable_sort(commands.begin(), commands.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [order, add] : commands) add(app);
}

}  // namespace edgellm::cli
