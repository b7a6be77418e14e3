#!/usr/bin/python3
"""Writes a tiny random-weight DeepseekV2ForCausalLM checkpoint (config.json, safetensors written
by hand, byte-level BPE tokenizer) for edgellm's deepseek2 converter and forward-pass tests.

usage: make_tiny_deepseek2.py OUT_DIR --variant NAME [--seed S]

Variants cover full-rank and low-rank queries, top-k routing over several experts, shared
experts, leading dense blocks, group-limited routing, YaRN with DeepSeek's mscale, sigmoid
gating with an expert bias (V3 style), tied embeddings and a BF16 checkpoint. Weights are
N(0, std) with std large enough that a wrong RoPE pairing, head split, scale or routing rule
moves the logits by far more than the test tolerances; router weights are large so that the
expert choice is decisive (ties within rounding are rare); norm weights are 1 + N(0, 0.2).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tiny_model import byte_level_tokenizer, write_safetensors  # noqa: E402

BASE = {
    "hidden_size": 64, "intermediate_size": 96, "moe_intermediate_size": 32,
    "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
    "q_lora_rank": None, "kv_lora_rank": 32, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8,
    "v_head_dim": 16, "n_routed_experts": 8, "num_experts_per_tok": 2, "n_shared_experts": 1,
    "first_k_dense_replace": 1, "moe_layer_freq": 1, "topk_method": "greedy", "n_group": 1,
    "topk_group": 1, "scoring_func": "softmax", "norm_topk_prob": False,
    "routed_scaling_factor": 1.0, "max_position_embeddings": 256, "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0, "hidden_act": "silu", "attention_bias": False,
    "tie_word_embeddings": False, "bos_token_id": 256, "eos_token_id": 256, "torch_dtype": "float32",
}

VARIANTS = {
    # V2-Lite shape: full-rank q, greedy softmax top-2 of 8, one shared expert, 1 dense block.
    "lite": {},
    # V2 shape: low-rank q, YaRN (x4 over 32 positions, mscale = mscale_all_dim = 0.707),
    # top-3 of 6 scaled by 2, two shared experts, two dense blocks.
    "v2_qlora_yarn": {"q_lora_rank": 24, "num_hidden_layers": 4, "first_k_dense_replace": 2,
                      "n_routed_experts": 6, "num_experts_per_tok": 3, "n_shared_experts": 2,
                      "routed_scaling_factor": 2.0, "max_position_embeddings": 128,
                      "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32,
                                       "beta_fast": 32, "beta_slow": 1, "mscale": 0.707,
                                       "mscale_all_dim": 0.707}},
    # V3 style: sigmoid scores + selection bias, 4 groups of 2 experts, best 2 groups, top-3,
    # renormalized then scaled by 2.5; YaRN with mscale = mscale_all_dim = 1; no dense block.
    "v3_groups": {"q_lora_rank": 24, "first_k_dense_replace": 0, "topk_method": "noaux_tc",
                  "scoring_func": "sigmoid", "n_group": 4, "topk_group": 2, "num_experts_per_tok": 3,
                  "norm_topk_prob": True, "routed_scaling_factor": 2.5,
                  "rope_scaling": {"type": "yarn", "factor": 2.0, "original_max_position_embeddings": 64,
                                   "mscale": 1.0, "mscale_all_dim": 1.0}},
    # Tied embeddings, BF16 checkpoint, V2 renormalized top-4 of 16 (written as scale 1).
    "tied_bf16": {"tie_word_embeddings": True, "n_routed_experts": 16, "num_experts_per_tok": 4,
                  "norm_topk_prob": True, "routed_scaling_factor": 3.0, "torch_dtype": "bfloat16"},
}


def make_weights(cfg, rng):
    h, v = cfg["hidden_size"], cfg["vocab_size"]
    nh = cfg["num_attention_heads"]
    nope, rope, vd = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    lora, qr = cfg["kv_lora_rank"], cfg["q_lora_rank"]

    def mat(rows, cols, scale=1.0):
        return rng.normal(0.0, scale / np.sqrt(cols), (rows, cols)).astype(np.float32)

    def norm(n):
        return (1.0 + rng.normal(0.0, 0.2, n)).astype(np.float32)

    w = {"model.embed_tokens.weight": rng.normal(0.0, 1.0, (v, h)).astype(np.float32),
         "model.norm.weight": norm(h)}
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = mat(v, h)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm(h)
        w[p + "post_attention_layernorm.weight"] = norm(h)
        a = p + "self_attn."
        # Large Q/K weights make attention sharp, so that position and scale errors show.
        if qr is None:
            w[a + "q_proj.weight"] = mat(nh * (nope + rope), h, 2.0)
        else:
            w[a + "q_a_proj.weight"] = mat(qr, h)
            w[a + "q_a_layernorm.weight"] = norm(qr)
            w[a + "q_b_proj.weight"] = mat(nh * (nope + rope), qr, 2.0)
        w[a + "kv_a_proj_with_mqa.weight"] = mat(lora + rope, h, 2.0)
        w[a + "kv_a_layernorm.weight"] = norm(lora)
        w[a + "kv_b_proj.weight"] = mat(nh * (nope + vd), lora, 1.5)
        w[a + "o_proj.weight"] = mat(h, nh * vd)
        m = p + "mlp."
        if i < cfg["first_k_dense_replace"]:
            ff = cfg["intermediate_size"]
            w[m + "gate_proj.weight"], w[m + "up_proj.weight"] = mat(ff, h), mat(ff, h)
            w[m + "down_proj.weight"] = mat(h, ff)
            continue
        ff = cfg["moe_intermediate_size"]
        w[m + "gate.weight"] = mat(cfg["n_routed_experts"], h, 3.0)
        if cfg["topk_method"] == "noaux_tc":
            w[m + "gate.e_score_correction_bias"] = np.abs(rng.normal(0.0, 0.1, cfg["n_routed_experts"])).astype(np.float32)
        for e in range(cfg["n_routed_experts"]):
            x = f"{m}experts.{e}."
            w[x + "gate_proj.weight"], w[x + "up_proj.weight"] = mat(ff, h), mat(ff, h)
            w[x + "down_proj.weight"] = mat(h, ff)
        if cfg["n_shared_experts"]:
            sf = ff * cfg["n_shared_experts"]
            x = m + "shared_experts."
            w[x + "gate_proj.weight"], w[x + "up_proj.weight"] = mat(sf, h), mat(sf, h)
            w[x + "down_proj.weight"] = mat(h, sf)
    return w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    ap.add_argument("--seed", type=int, default=4321)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    tok, tok_config, n_tokens = byte_level_tokenizer()
    with open(os.path.join(args.out_dir, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(args.out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(tok_config, f)

    cfg = dict(BASE)
    cfg.update(VARIANTS[args.variant])
    cfg["architectures"] = ["DeepseekV2ForCausalLM"]
    cfg["model_type"] = "deepseek_v2"
    cfg["vocab_size"] = n_tokens + 3
    weights = make_weights(cfg, np.random.default_rng(args.seed))
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    dtype = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}[cfg["torch_dtype"]]
    write_safetensors(os.path.join(args.out_dir, "model.safetensors"), weights, dtype)
    return 0


if __name__ == "__main__":
    sys.exit(main())
