#!/usr/bin/python3
"""Independent PyTorch reference of Hugging Face's LlamaForCausalLM / Qwen2ForCausalLM forward
pass (MistralForCausalLM without a sliding window is the same computation), for checking
edgellm's logits. Written from the model definitions (not from edgellm's code): it reads
config.json and the safetensors checkpoint (single or sharded) directly, computes in float64
on the original (unpermuted) HF weights with rotate_half RoPE, repeat_kv GQA, SwiGLU and
RMSNorm, and writes the logits of every position as raw float32.

usage: reference_llama.py MODEL_DIR --tokens 1,2,3 --out logits.f32 [--greedy N]
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    data = raw[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]])
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = torch.from_numpy(arr.astype(np.float64).reshape(info["shape"]))
    return tensors


def load_checkpoint(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        tensors = {}
        for shard in shards:
            tensors.update(read_safetensors(os.path.join(model_dir, shard)))
        return tensors
    return read_safetensors(os.path.join(model_dir, "model.safetensors"))


def rope_inv_freq(cfg, head_dim):
    """Inverse frequencies and the cos/sin magnitude, following HF's modeling_rope_utils."""
    base = cfg.get("rope_theta", 10000.0)
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    scale = 1.0
    if kind == "linear":
        inv_freq = inv_freq / rs["factor"]
    elif kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > old / low, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / high) & (wavelen <= old / low)
        inv_freq = torch.where(medium, smoothed, scaled)
    elif kind == "yarn":
        factor = rs["factor"]
        orig = rs.get("original_max_position_embeddings", cfg["max_position_embeddings"])
        beta_fast, beta_slow = rs.get("beta_fast") or 32, rs.get("beta_slow") or 1

        def corr_dim(n_rot):
            return head_dim * math.log(orig / (n_rot * 2 * math.pi)) / (2 * math.log(base))

        low = max(math.floor(corr_dim(beta_fast)), 0)
        high = min(math.ceil(corr_dim(beta_slow)), head_dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(head_dim // 2, dtype=torch.float64) - low) / (high - low), 0, 1)
        extrapolation = 1 - ramp
        inv_freq = (inv_freq / factor) * (1 - extrapolation) + inv_freq * extrapolation

        def get_mscale(s, m=1.0):
            return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0

        # HF: an explicit attention_factor wins; else mscale / mscale_all_dim when both are
        # set; else the paper's 0.1 ln(s) + 1.
        if rs.get("attention_factor") is not None:
            scale = rs["attention_factor"]
        elif rs.get("mscale") and rs.get("mscale_all_dim"):
            scale = get_mscale(factor, rs["mscale"]) / get_mscale(factor, rs["mscale_all_dim"])
        else:
            scale = get_mscale(factor)
    elif kind != "default":
        raise SystemExit(f"unsupported rope type {kind}")
    return inv_freq, scale


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def forward(cfg, w, tokens):
    arch = cfg["architectures"][0]
    hidden = cfg["hidden_size"]
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)
    head_dim = cfg.get("head_dim") or hidden // n_head
    eps = cfg["rms_norm_eps"]
    has_bias = arch == "Qwen2ForCausalLM" or cfg.get("attention_bias", False)
    has_o_bias = arch != "Qwen2ForCausalLM" and cfg.get("attention_bias", False)

    n = len(tokens)
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    inv_freq, mscale = rope_inv_freq(cfg, head_dim)
    angles = torch.outer(torch.arange(n, dtype=torch.float64), inv_freq)
    emb = torch.cat((angles, angles), dim=-1)
    cos, sin = emb.cos() * mscale, emb.sin() * mscale
    mask = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)

    def linear(h, name, bias):
        y = h @ w[name + ".weight"].T
        return y + w[name + ".bias"] if bias else y

    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = linear(h, p + "self_attn.q_proj", has_bias).view(n, n_head, head_dim).transpose(0, 1)
        k = linear(h, p + "self_attn.k_proj", has_bias).view(n, n_kv, head_dim).transpose(0, 1)
        v = linear(h, p + "self_attn.v_proj", has_bias).view(n, n_kv, head_dim).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(n_head // n_kv, dim=0)
        v = v.repeat_interleave(n_head // n_kv, dim=0)
        scores = q @ k.transpose(1, 2) / math.sqrt(head_dim) + mask
        attn = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(n, n_head * head_dim)
        x = x + linear(attn, p + "self_attn.o_proj", has_o_bias)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear(h, p + "mlp.gate_proj", False)
        x = x + linear(torch.nn.functional.silu(gate) * linear(h, p + "mlp.up_proj", False), p + "mlp.down_proj", False)
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--greedy", type=int, default=0, help="also print N greedy continuation ids")
    args = ap.parse_args()
    with open(os.path.join(args.model_dir, "config.json")) as f:
        cfg = json.load(f)
    weights = load_checkpoint(args.model_dir)
    # Tied checkpoints saved by HF may keep only one of the two shared tensors (TinyStories
    # stores lm_head.weight and aliases the embedding to it in __metadata__).
    if "model.embed_tokens.weight" not in weights:
        weights["model.embed_tokens.weight"] = weights["lm_head.weight"]
    tokens = [int(t) for t in args.tokens.split(",")]
    torch.set_num_threads(1)
    with torch.no_grad():
        logits = forward(cfg, weights, tokens)
        logits.to(torch.float32).numpy().tofile(args.out)
        if args.greedy:
            seq = list(tokens)
            for _ in range(args.greedy):
                seq.append(int(forward(cfg, weights, seq)[-1].argmax()))
            print(",".join(str(t) for t in seq[len(tokens):]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
