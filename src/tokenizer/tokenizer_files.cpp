#include "tokenizer/tokenizer_files.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace edgellm {

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open {}: {}", path, std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) fail("cannot read {}", path);
  return std::move(bytes).str();
}

Tokenizer load_tokenizer_file(const std::string& path) {
  if (path.ends_with(".json")) {
    const std::filesystem::path config = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
    std::error_code ignored;
    const std::string config_text =
        std::filesystem::is_regular_file(config, ignored) ? read_file_bytes(config.string()) : std::string();
    try {
      return Tokenizer::from_hf_files(read_file_bytes(path), config_text);
    } catch (const Error& e) {
      fail("{}: {}", path, e.what());
    }
  }
  const gguf::GgufFile file = gguf::GgufFile::open(path);
  try {
    return Tokenizer::from_gguf(file);
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
}

}  // namespace edgellm
