// Internal: the filter tables, split by topic across filters_text.cpp and filters_seq.cpp.
#pragma once

#include <string_view>

#include "chat/ast.h"

namespace edgellm::chat::jinja {

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};

FilterFn find_text_filter(std::string_view name);
FilterFn find_sequence_filter(std::string_view name);

}  // namespace edgellm::chat::jinja
