// `edgellm tokenize`: text -> token ids with a model's tokenizer (GGUF or tokenizer.json).
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer_files.h"
#include "tokenizer/unicode.h"

namespace edgellm::cli {

namespace {

// A piece shown on one line: printable UTF-8 as is, control characters and invalid bytes escaped.
std::string printable_piece(const std::string& piece) {
  std::string out;
  size_t pos = 0;
  while (pos < piece.size()) {
    size_t length = 0;
    const uint32_t cp = unicode::decode_utf8(piece, pos, &length);
    if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (cp == unicode::kInvalid || cp < 0x20 || cp == 0x7F) {
      out += fmt::format("\\x{:02x}", static_cast<uint8_t>(piece[pos]));
    } else {
      out.append(piece, pos, length);
    }
    pos += length;
  }
  return out;
}

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string file;
  bool special = false;
  bool no_bos = false;
  bool pieces = false;
};

void run_tokenize(const TokenizeOptions& o) {
  const Tokenizer tokenizer = load_tokenizer_file(o.model);
  const std::string text = o.file.empty() ? o.prompt : read_file_bytes(o.file);
  const std::vector<int32_t> ids = tokenizer.encode(text, !o.no_bos, o.special);
  if (o.pieces) {
    for (const int32_t id : ids) fmt::print("{}\t{}\n", id, printable_piece(tokenizer.token_to_piece(id)));
  } else {
    fmt::print("{}\n", fmt::join(ids, " "));
  }
  std::fflush(stdout);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("-m,--model", options->model, "GGUF model, or a tokenizer.json")->required();
  auto* prompt = cmd->add_option("-p,--prompt", options->prompt, "Text to tokenize");
  auto* file = cmd->add_option("-f,--file", options->file, "File whose bytes are tokenized exactly");
  prompt->excludes(file);
  cmd->add_flag("--special", options->special, "Parse special-token text such as <|im_end|>");
  cmd->add_flag("--no-bos", options->no_bos, "Add neither BOS nor EOS");
  cmd->add_flag("--pieces", options->pieces, "One token per line: id, tab, its text");
  cmd->callback([options, prompt, file] {
    if (prompt->count() == 0 && file->count() == 0) fail("tokenize: give the text with -p TEXT or -f FILE");
    run_tokenize(*options);
  });
}

const CommandRegistration kRegisterTokenize(80, add_tokenize_command);

}  // namespace edgellm::cli
