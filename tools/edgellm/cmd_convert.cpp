// `edgellm convert HF_DIR OUT.gguf [--type f32|f16|bf16|q8_0] [--name NAME]`: a Hugging Face
// checkpoint (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, DeepseekV2ForCausalLM) to a
// GGUF that llama.cpp loads too.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "core/error.h"
#include "model/hf_convert.h"

namespace edgellm::cli {

namespace {

struct ConvertArgs {
  std::string hf_dir;
  std::string out;
  std::string type = "f16";
  std::string name;
};

TensorType parse_out_type(const std::string& s) {
  if (s == "f32") return TensorType::F32;
  if (s == "f16") return TensorType::F16;
  if (s == "bf16") return TensorType::BF16;
  if (s == "q8_0") return TensorType::Q8_0;
  fail("convert: unknown --type '{}' (expected f32, f16, bf16 or q8_0)", s);
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a Hugging Face checkpoint to GGUF");
  cmd->add_option("HF_DIR", args->hf_dir, "Directory with config.json, *.safetensors, tokenizer.json")->required();
  cmd->add_option("OUT", args->out, "Output GGUF file")->required();
  cmd->add_option("--type", args->type, "Type of the 2-D tensors: f32, f16, bf16, q8_0")->capture_default_str();
  cmd->add_option("--name", args->name, "general.name (default: the directory's name)");
  cmd->callback([args] {
    model::ConvertOptions options;
    options.type = parse_out_type(args->type);
    options.name = args->name;
    const auto start = std::chrono::steady_clock::now();
    model::convert_hf_checkpoint(args->hf_dir, args->out, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "converted %s -> %s (%s) in %.2f s\n", args->hf_dir.c_str(), args->out.c_str(),
                 args->type.c_str(), seconds);
  });
}

const CommandRegistration kRegisterConvert(40, add_convert_command);

}  // namespace edgellm::cli
