// Error handling: inside the engine, failures are exceptions of type edgellm::Error carrying a
// message that says what is wrong and where. The C API and the CLI turn them into status codes.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace edgellm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace edgellm
