// The one table of GGUF metadata keys and tensor names, spelled as llama.cpp spells them.
// Per-architecture keys are "<arch>.<suffix>" (arch_key); per-layer tensors "blk.<i>.<name>.weight".
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace edgellm::gguf {

namespace key {
// general.*
inline constexpr std::string_view kArchitecture = "general.architecture";
inline constexpr std::string_view kName = "general.name";
inline constexpr std::string_view kAlignment = "general.alignment";
inline constexpr std::string_view kFileType = "general.file_type";
inline constexpr std::string_view kQuantizationVersion = "general.quantization_version";

// <arch>.* suffixes (use arch_key)
inline constexpr std::string_view kVocabSize = "vocab_size";
inline constexpr std::string_view kContextLength = "context_length";
inline constexpr std::string_view kEmbeddingLength = "embedding_length";
inline constexpr std::string_view kBlockCount = "block_count";
inline constexpr std::string_view kFeedForwardLength = "feed_forward_length";
inline constexpr std::string_view kHeadCount = "attention.head_count";
inline constexpr std::string_view kHeadCountKv = "attention.head_count_kv";
inline constexpr std::string_view kKeyLength = "attention.key_length";
inline constexpr std::string_view kValueLength = "attention.value_length";
inline constexpr std::string_view kRmsEpsilon = "attention.layer_norm_rms_epsilon";
inline constexpr std::string_view kQLoraRank = "attention.q_lora_rank";
inline constexpr std::string_view kKvLoraRank = "attention.kv_lora_rank";
inline constexpr std::string_view kRopeDimensionCount = "rope.dimension_count";
inline constexpr std::string_view kRopeFreqBase = "rope.freq_base";
inline constexpr std::string_view kRopeScalingType = "rope.scaling.type";  // none|linear|yarn|longrope
inline constexpr std::string_view kRopeScalingFactor = "rope.scaling.factor";
inline constexpr std::string_view kRopeScalingOrigCtx = "rope.scaling.original_context_length";
inline constexpr std::string_view kRopeScalingAttnFactor = "rope.scaling.attn_factor";
inline constexpr std::string_view kRopeScalingYarnLogMul = "rope.scaling.yarn_log_multiplier";
inline constexpr std::string_view kRopeScalingYarnBetaFast = "rope.scaling.yarn_beta_fast";
inline constexpr std::string_view kRopeScalingYarnBetaSlow = "rope.scaling.yarn_beta_slow";
inline constexpr std::string_view kExpertCount = "expert_count";
inline constexpr std::string_view kExpertUsedCount = "expert_used_count";
inline constexpr std::string_view kExpertSharedCount = "expert_shared_count";
inline constexpr std::string_view kExpertFeedForwardLength = "expert_feed_forward_length";
inline constexpr std::string_view kExpertWeightsScale = "expert_weights_scale";
inline constexpr std::string_view kExpertWeightsNorm = "expert_weights_norm";
inline constexpr std::string_view kExpertGatingFunc = "expert_gating_func";  // 1 softmax, 2 sigmoid
inline constexpr std::string_view kExpertGroupCount = "expert_group_count";
inline constexpr std::string_view kExpertGroupUsedCount = "expert_group_used_count";
inline constexpr std::string_view kLeadingDenseBlockCount = "leading_dense_block_count";

// tokenizer.*
inline constexpr std::string_view kTokenizerModel = "tokenizer.ggml.model";  // llama | gpt2 | ...
inline constexpr std::string_view kTokenizerPre = "tokenizer.ggml.pre";
inline constexpr std::string_view kTokenizerTokens = "tokenizer.ggml.tokens";
inline constexpr std::string_view kTokenizerScores = "tokenizer.ggml.scores";
inline constexpr std::string_view kTokenizerTokenType = "tokenizer.ggml.token_type";
inline constexpr std::string_view kTokenizerMerges = "tokenizer.ggml.merges";
inline constexpr std::string_view kTokenizerBosId = "tokenizer.ggml.bos_token_id";
inline constexpr std::string_view kTokenizerEosId = "tokenizer.ggml.eos_token_id";
inline constexpr std::string_view kTokenizerUnknownId = "tokenizer.ggml.unknown_token_id";
inline constexpr std::string_view kTokenizerSeparatorId = "tokenizer.ggml.seperator_token_id";  // sic, as llama.cpp
inline constexpr std::string_view kTokenizerPaddingId = "tokenizer.ggml.padding_token_id";
inline constexpr std::string_view kTokenizerEotId = "tokenizer.ggml.eot_token_id";
inline constexpr std::string_view kTokenizerEomId = "tokenizer.ggml.eom_token_id";
inline constexpr std::string_view kTokenizerAddBos = "tokenizer.ggml.add_bos_token";
inline constexpr std::string_view kTokenizerAddEos = "tokenizer.ggml.add_eos_token";
inline constexpr std::string_view kTokenizerAddSpacePrefix = "tokenizer.ggml.add_space_prefix";
inline constexpr std::string_view kChatTemplate = "tokenizer.chat_template";
}  // namespace key

inline std::string arch_key(std::string_view arch, std::string_view suffix) {
  return fmt::format("{}.{}", arch, suffix);
}

namespace tensor {
// Whole-model tensors (".weight" included).
inline constexpr std::string_view kTokenEmbedding = "token_embd.weight";
inline constexpr std::string_view kOutputNorm = "output_norm.weight";
inline constexpr std::string_view kOutput = "output.weight";
inline constexpr std::string_view kRopeFreqs = "rope_freqs.weight";

// Per-block tensor stems (use block_tensor).
inline constexpr std::string_view kAttnNorm = "attn_norm";
inline constexpr std::string_view kAttnQ = "attn_q";
inline constexpr std::string_view kAttnK = "attn_k";
inline constexpr std::string_view kAttnV = "attn_v";
inline constexpr std::string_view kAttnOutput = "attn_output";
inline constexpr std::string_view kAttnQNorm = "attn_q_norm";
inline constexpr std::string_view kAttnKNorm = "attn_k_norm";
inline constexpr std::string_view kAttnQA = "attn_q_a";
inline constexpr std::string_view kAttnQANorm = "attn_q_a_norm";
inline constexpr std::string_view kAttnQB = "attn_q_b";
inline constexpr std::string_view kAttnKvAMqa = "attn_kv_a_mqa";
inline constexpr std::string_view kAttnKvANorm = "attn_kv_a_norm";
inline constexpr std::string_view kAttnKvB = "attn_kv_b";
inline constexpr std::string_view kAttnKB = "attn_k_b";
inline constexpr std::string_view kAttnVB = "attn_v_b";
inline constexpr std::string_view kFfnNorm = "ffn_norm";
inline constexpr std::string_view kFfnGate = "ffn_gate";
inline constexpr std::string_view kFfnUp = "ffn_up";
inline constexpr std::string_view kFfnDown = "ffn_down";
inline constexpr std::string_view kFfnGateInp = "ffn_gate_inp";
inline constexpr std::string_view kFfnGateExps = "ffn_gate_exps";
inline constexpr std::string_view kFfnUpExps = "ffn_up_exps";
inline constexpr std::string_view kFfnDownExps = "ffn_down_exps";
inline constexpr std::string_view kFfnGateShexp = "ffn_gate_shexp";
inline constexpr std::string_view kFfnUpShexp = "ffn_up_shexp";
inline constexpr std::string_view kFfnDownShexp = "ffn_down_shexp";
inline constexpr std::string_view kFfnExpProbsBias = "exp_probs_b";  // ".bias", not ".weight"
}  // namespace tensor

// "blk.<layer>.<stem>.<suffix>", suffix "weight" or "bias".
inline std::string block_tensor(int layer, std::string_view stem, std::string_view suffix = "weight") {
  return fmt::format("blk.{}.{}.{}", layer, stem, suffix);
}

}  // namespace edgellm::gguf
