// `edgellm detokenize`: token ids -> text, the reverse of `edgellm tokenize`.
#include <charconv>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer_files.h"

namespace edgellm::cli {

namespace {

std::vector<int32_t> parse_ids(const std::string& text, const std::string& origin) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  const auto is_separator = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ','; };
  while (pos < text.size()) {
    if (is_separator(text[pos])) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < text.size() && !is_separator(text[end])) ++end;
    int32_t id = 0;
    const auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + end, id);
    if (ec != std::errc() || ptr != text.data() + end) {
      fail("{}: {:?} is not a token id", origin, text.substr(pos, end - pos));
    }
    ids.push_back(id);
    pos = end;
  }
  return ids;
}

struct DetokenizeOptions {
  std::string model;
  std::string ids;
  std::string file;
  bool skip_special = false;
};

}  // namespace

void add_detokenize_command(CLI::App& app) {
  auto options = std::make_shared<DetokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("detokenize", "Print the text of token ids (exact bytes, no newline added)");
  cmd->add_option("-m,--model", options->model, "GGUF model, or a tokenizer.json")->required();
  auto* ids = cmd->add_option("--ids", options->ids, "Token ids separated by spaces or commas");
  auto* file = cmd->add_option("-f,--file", options->file, "File holding the token ids");
  ids->excludes(file);
  cmd->add_flag("--skip-special", options->skip_special, "Leave out control tokens (BOS, EOS, ...)");
  cmd->callback([options, ids, file] {
    if (ids->count() == 0 && file->count() == 0) fail("detokenize: give the ids with --ids \"1 2 3\" or -f FILE");
    const Tokenizer tokenizer = load_tokenizer_file(options->model);
    const std::vector<int32_t> parsed = options->file.empty() ? parse_ids(options->ids, "--ids")
                                                              : parse_ids(read_file_bytes(options->file), options->file);
    const std::string text = tokenizer.decode(parsed, options->skip_special);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  });
}

const CommandRegistration kRegisterDetokenize(85, add_detokenize_command);

}  // namespace edgellm::cli
