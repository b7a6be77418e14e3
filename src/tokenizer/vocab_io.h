// Loading a Vocab from GGUF metadata or Hugging Face files, and writing it back as GGUF keys.
#pragma once

#include <string>

#include "tokenizer/vocab.h"

namespace edgellm::gguf {
class GgufFile;
class GgufWriter;
}  // namespace edgellm::gguf

namespace edgellm::tok {

Vocab load_vocab_from_gguf(const gguf::GgufFile& file);
void write_vocab_to_gguf(const Vocab& vocab, gguf::GgufWriter& writer);

// tokenizer_config_json may be empty.
Vocab load_vocab_from_hf(const std::string& tokenizer_json, const std::string& tokenizer_config_json);

}  // namespace edgellm::tok
