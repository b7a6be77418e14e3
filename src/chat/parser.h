// Parser for Jinja chat templates: the statement and expression grammar of Jinja2 3.x with
// the loopcontrols extension and Hugging Face's {% generation %} tag. Templates come from
// untrusted model files, so nesting depth and source size are bounded, and tags that would
// load other templates (include/import/extends) are rejected with a clear error.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "chat/ast.h"

namespace edgellm::chat::jinja {

struct ParseLimits {
  size_t max_source_bytes = 4u << 20;
  unsigned max_nesting = 128;  // nested blocks and expression levels combined
};

// Throws edgellm::Error "template syntax error at line L, column C: ..." on bad input.
std::shared_ptr<const Program> parse_template(std::string_view source, const ParseLimits& limits = {});

}  // namespace edgellm::chat::jinja
