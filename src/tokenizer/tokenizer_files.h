// Loading a Tokenizer from a path given on a command line: a GGUF model file, or a Hugging Face
// tokenizer.json (with the tokenizer_config.json beside it, when there is one).
#pragma once

#include <string>

#include "tokenizer/tokenizer.h"

namespace edgellm {

// A path ending in ".json" is read as tokenizer.json; anything else as GGUF.
Tokenizer load_tokenizer_file(const std::string& path);

// Whole file as bytes; throws edgellm::Error naming the path when it cannot be read.
std::string read_file_bytes(const std::string& path);

}  // namespace edgellm
