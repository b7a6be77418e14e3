// Every `edgellm SUBCOMMAND` lives in its own cmd_*.cpp and registers itself here. A command's
// callback throws edgellm::Error on failure; main() prints it to stderr and exits non-zero.
#pragma once

#include <CLI/CLI.hpp>

namespace edgellm::cli {

void add_info_command(CLI::App& app);
void add_dump_tensor_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_detokenize_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_template_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_imatrix_command(CLI::App& app);
void add_chat_command(CLI::App& app);

}  // namespace edgellm::cli
