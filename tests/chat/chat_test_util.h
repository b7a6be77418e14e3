// Helpers shared by the chat-template tests: the corpus file format, fixed render options and
// running the Python reference renderer (tests/chat/jinja_reference.py).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "chat/render_options.h"

namespace edgellm::chat::testing {

std::string read_file(const std::string& path);

struct CorpusCase {
  std::string name;
  std::string template_source;
  nlohmann::ordered_json context;  // null: use the caller's default context
};

// Parses tests/chat/corpus/constructs.txt style files (see the header of that file).
std::vector<CorpusCase> load_corpus(const std::string& path);

// strftime_now() fixed at 2024-07-26 13:05:09, as in jinja_reference.py.
RenderOptions fixed_time_options();

struct ReferenceResult {
  bool ok = false;
  std::string text;  // output, or the error message
};

// Renders `cases` (a JSON array in jinja_reference.py's input format) with Python's jinja2.
// Returns nullopt and sets `why` when python3 or jinja2 is unavailable.
std::optional<std::vector<ReferenceResult>> run_python_reference(const nlohmann::ordered_json& cases,
                                                                 std::string* why);

// A printable form of a string for failure messages (escapes control characters).
std::string visible(const std::string& s);

}  // namespace edgellm::chat::testing
