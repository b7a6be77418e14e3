#!/usr/bin/python3
"""Writes a tiny random-weight Hugging Face checkpoint (config.json, safetensors, tokenizer) for
edgellm's converter and forward-pass tests.

usage: make_tiny_model.py OUT_DIR --variant NAME [--tokenizer-from HF_DIR] [--seed S]

Without --tokenizer-from, a small byte-level BPE tokenizer.json is generated (256 byte tokens, a
few merges and an end-of-text token). Weights are N(0, std) with std large enough that any
mistake in the forward pass (wrong RoPE pairing, head grouping, bias, scaling) moves the logits
by far more than the test tolerances; norm weights are 1 + N(0, 0.2).
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

# name: (class, overrides of the base config, options)
VARIANTS = {
    # Llama, grouped-query attention (8 query heads over 2 KV heads), untied LM head.
    "llama_gqa": ("LlamaForCausalLM", {"num_attention_heads": 8, "num_key_value_heads": 2}, {}),
    # Llama, plain multi-head attention, tied embeddings (no lm_head tensor at all).
    "llama_mha_tied": ("LlamaForCausalLM", {"num_attention_heads": 4, "num_key_value_heads": 4,
                                            "tie_word_embeddings": True, "rms_norm_eps": 1e-5}, {}),
    # Llama with attention biases (q/k/v/o) and linear RoPE scaling; BF16 checkpoint.
    "llama_bias_linear": ("LlamaForCausalLM", {"attention_bias": True,
                                               "rope_scaling": {"type": "linear", "factor": 2.0}},
                          {"dtype": "BF16"}),
    # Llama 3.1-style frequency factors; explicit head_dim different from hidden/heads; F16.
    "llama3_rope": ("LlamaForCausalLM", {"num_attention_heads": 4, "num_key_value_heads": 2,
                                         "head_dim": 32, "rope_theta": 500000.0,
                                         "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
                                                          "low_freq_factor": 1.0,
                                                          "high_freq_factor": 4.0,
                                                          "original_max_position_embeddings": 64}},
                    {"dtype": "F16"}),
    # Llama with YaRN (context extended 4x from 32 positions) and an explicit attention_factor
    # (HF uses it instead of 1 + 0.1 ln 4 = 1.139); default betas spelled out; sharded.
    "llama_yarn": ("LlamaForCausalLM", {"max_position_embeddings": 128,
                                        "rope_scaling": {"rope_type": "yarn", "factor": 4.0,
                                                         "original_max_position_embeddings": 32,
                                                         "attention_factor": 0.8,
                                                         "beta_fast": 32, "beta_slow": 1}},
                   {"shards": 2}),
    # Mistral v0.2+ style (no sliding window; converted as llama), GQA, explicit head_dim.
    "mistral": ("MistralForCausalLM", {"num_attention_heads": 4, "num_key_value_heads": 1,
                                       "head_dim": 24, "sliding_window": None,
                                       "rope_theta": 1000000.0}, {}),
    # Qwen2: Q/K/V biases, NeoX RoPE, GQA, tied embeddings, large rope base.
    "qwen2": ("Qwen2ForCausalLM", {"num_attention_heads": 4, "num_key_value_heads": 2,
                                   "tie_word_embeddings": True, "rope_theta": 1000000.0}, {}),
    # Qwen2 with YaRN, untied, sharded in 3.
    "qwen2_yarn": ("Qwen2ForCausalLM", {"num_attention_heads": 8, "num_key_value_heads": 4,
                                        "max_position_embeddings": 256,
                                        "rope_scaling": {"type": "yarn", "factor": 4.0,
                                                         "original_max_position_embeddings": 64}},
                   {"shards": 3}),
}

BASE = {
    "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
    "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
    "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
}


def bytes_to_unicode():
    """GPT-2's byte -> printable character table used by byte-level BPE vocabularies."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def byte_level_tokenizer():
    table = bytes_to_unicode()
    vocab = {}
    for b in range(256):
        vocab[table[b]] = len(vocab)
    merges = []
    for a, b in [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("o", "n"), ("e", "r"), ("a", "n")]:
        merges.append(f"{a} {b}")
        vocab[a + b] = len(vocab)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    added = []
    for s in specials:
        added.append({"id": len(vocab), "content": s, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
        vocab[s] = len(vocab)
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
             "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": merges},
    }
    config = {"add_bos_token": False, "add_eos_token": False, "bos_token": None,
              "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
              "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 1024}
    return tok, config, len(vocab)


def write_safetensors(path, tensors, dtype):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name].astype(np.float32)
        if dtype == "F16":
            raw = a.astype(np.float16).tobytes()
        elif dtype == "BF16":
            bits = a.view(np.uint32)
            raw = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16).tobytes()
        else:
            raw = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def make_weights(cfg, rng, bias):
    h, ff, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or h // nh
    std = 0.5 / np.sqrt(h)  # projections: outputs of order 0.5 for unit-RMS inputs

    def mat(rows, cols, s=None):
        return rng.normal(0.0, s or std, (rows, cols)).astype(np.float32)

    def norm(n):
        return (1.0 + rng.normal(0.0, 0.2, n)).astype(np.float32)

    w = {"model.embed_tokens.weight": rng.normal(0.0, 1.0, (v, h)).astype(np.float32),
         "model.norm.weight": norm(h)}
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = mat(v, h, 1.0 / np.sqrt(h))
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm(h)
        w[p + "post_attention_layernorm.weight"] = norm(h)
        # Larger Q/K weights make attention sharp, so that position errors show.
        w[p + "self_attn.q_proj.weight"] = mat(nh * hd, h, 2.0 / np.sqrt(h))
        w[p + "self_attn.k_proj.weight"] = mat(nkv * hd, h, 2.0 / np.sqrt(h))
        w[p + "self_attn.v_proj.weight"] = mat(nkv * hd, h, 1.0 / np.sqrt(h))
        w[p + "self_attn.o_proj.weight"] = mat(h, nh * hd, 1.0 / np.sqrt(nh * hd))
        w[p + "mlp.gate_proj.weight"] = mat(ff, h, 1.0 / np.sqrt(h))
        w[p + "mlp.up_proj.weight"] = mat(ff, h, 1.0 / np.sqrt(h))
        w[p + "mlp.down_proj.weight"] = mat(h, ff, 1.0 / np.sqrt(ff))
        if bias in ("qkv", "all"):
            for n, rows in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
                w[p + f"self_attn.{n}_proj.bias"] = rng.normal(0.0, 0.5, rows).astype(np.float32)
        if bias == "all":
            w[p + "self_attn.o_proj.bias"] = rng.normal(0.0, 0.5, h).astype(np.float32)
        w[p + "self_attn.rotary_emb.inv_freq"] = np.zeros(hd // 2, np.float32)  # old HF exports; dropped
    return w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    ap.add_argument("--tokenizer-from", default="")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    cls, overrides, opts = VARIANTS[args.variant]
    os.makedirs(args.out_dir, exist_ok=True)

    if args.tokenizer_from:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(args.tokenizer_from, name), os.path.join(args.out_dir, name))
        with open(os.path.join(args.out_dir, "tokenizer.json")) as f:
            n_tokens = len(json.load(f)["model"]["vocab"])
    else:
        tok, tok_config, n_tokens = byte_level_tokenizer()
        with open(os.path.join(args.out_dir, "tokenizer.json"), "w") as f:
            json.dump(tok, f, ensure_ascii=False)
        with open(os.path.join(args.out_dir, "tokenizer_config.json"), "w") as f:
            json.dump(tok_config, f)

    cfg = dict(BASE)
    cfg.update(overrides)
    cfg["architectures"] = [cls]
    cfg["model_type"] = {"Qwen2ForCausalLM": "qwen2", "MistralForCausalLM": "mistral"}.get(cls, "llama")
    cfg["vocab_size"] = n_tokens + 5  # a few padding rows, as real checkpoints often have
    bias = "qkv" if cls == "Qwen2ForCausalLM" else ("all" if cfg.get("attention_bias") else "")
    rng = np.random.default_rng(args.seed)
    weights = make_weights(cfg, rng, bias)
    dtype = opts.get("dtype", "F32")
    if dtype != "F32":
        cfg["torch_dtype"] = "bfloat16" if dtype == "BF16" else "float16"
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    shards = opts.get("shards", 1)
    names = sorted(weights)
    if shards == 1:
        write_safetensors(os.path.join(args.out_dir, "model.safetensors"), weights, dtype)
    else:
        weight_map = {}
        for s in range(shards):
            part = names[s::shards]
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            write_safetensors(os.path.join(args.out_dir, fname), {n: weights[n] for n in part}, dtype)
            weight_map.update({n: fname for n in part})
        with open(os.path.join(args.out_dir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
