// Small helpers for the Jinja unit tests: render a template with a JSON context, and expect
// an edgellm::Error whose message contains given text.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "chat/chat_template.h"
#include "chat_test_util.h"
#include "core/error.h"

namespace edgellm::chat::testing {

inline std::string render(std::string_view source, std::string_view context_json = "{}",
                          RenderOptions options = fixed_time_options()) {
  return ChatTemplate(source).render(nlohmann::ordered_json::parse(context_json), options);
}

// The error message of rendering (or parsing) `source`, or "" when it succeeds.
inline std::string render_error(std::string_view source, std::string_view context_json = "{}",
                                RenderOptions options = fixed_time_options()) {
  try {
    render(source, context_json, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace edgellm::chat::testing

#define EXPECT_RENDER_ERROR(source, context, fragment)                                      \
  do {                                                                                      \
    const std::string message_ = ::edgellm::chat::testing::render_error(source, context);   \
    EXPECT_NE(message_, "") << "expected an error rendering: " << (source);                 \
    EXPECT_NE(message_.find(fragment), std::string::npos) << "message: " << message_;       \
  } while (0)
