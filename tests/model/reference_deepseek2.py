#!/usr/bin/python3
"""Independent PyTorch reference of DeepSeek-V2's forward pass (DeepseekV2ForCausalLM), for
checking edgellm's deepseek2 logits. Written from the model definitions (DeepSeek's
modeling_deepseek.py for V2/V3 and Hugging Face's modeling_deepseek_v2.py), not from edgellm:
it reads config.json and the safetensors checkpoint directly and computes in float64 on the
original HF weights, with the naive (decompressed) multi-head attention, no weight absorption:

  attention: q = q_proj(h) or q_b_proj(rmsnorm(q_a_proj(h))); [c, k_pe] = kv_a_proj_with_mqa(h);
             [k_nope, v] = kv_b_proj(rmsnorm(c)) per head; RoPE on q_pe / k_pe with DeepSeek's
             interleaved convention (pairs (2i, 2i+1)), YaRN frequencies and
             mscale(factor, mscale) / mscale(factor, mscale_all_dim) on cos/sin; softmax scale
             (nope + rope)^-0.5 * mscale(factor, mscale_all_dim)^2
  MoE:       softmax (V2) or sigmoid (V3) scores; "greedy", "group_limited_greedy" (V2: a group
             scores its best expert) or "noaux_tc" (V3: selection adds e_score_correction_bias,
             a group scores its two best, masked experts score 0); weights: V2 renormalizes
             (top_k > 1 and norm_topk_prob) or else scales by routed_scaling_factor, V3
             renormalizes when asked and then always scales; plus shared experts.
  first_k_dense_replace dense blocks use the plain SwiGLU MLP.

usage: reference_deepseek2.py MODEL_DIR --tokens 1,2,3 --out logits.f32
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_llama import load_checkpoint, rms_norm  # noqa: E402  (safetensors reader, RMSNorm)


def yarn_get_mscale(scale, mscale):
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def rope_tables(cfg, n):
    """cos/sin (n x rope_dim/2) for DeepSeek's RoPE, and the softmax scale factor."""
    dim = cfg["qk_rope_head_dim"]
    base = cfg.get("rope_theta", 10000.0)
    idx = torch.arange(0, dim, 2, dtype=torch.float64) / dim
    inv_freq = 1.0 / (base ** idx)
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("type", rs.get("rope_type", "default"))
    cos_scale, score_scale = 1.0, 1.0
    if kind == "yarn":
        factor = rs["factor"]
        orig = rs.get("original_max_position_embeddings", 4096)
        beta_fast, beta_slow = rs.get("beta_fast", 32), rs.get("beta_slow", 1)
        mscale, mscale_all = rs.get("mscale", 1), rs.get("mscale_all_dim", 0)

        def corr_dim(n_rot):
            return dim * math.log(orig / (n_rot * 2 * math.pi)) / (2 * math.log(base))

        low = max(math.floor(corr_dim(beta_fast)), 0)
        high = min(math.ceil(corr_dim(beta_slow)), dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low), 0, 1)
        extra_mask = 1.0 - ramp
        inv_freq = (inv_freq / factor) * (1 - extra_mask) + inv_freq * extra_mask
        cos_scale = yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all)
        if mscale_all:
            score_scale = yarn_get_mscale(factor, mscale_all) ** 2
    elif kind == "linear":
        inv_freq = inv_freq / rs["factor"]
    elif kind != "default":
        raise SystemExit(f"unsupported rope type {kind}")
    ang = torch.outer(torch.arange(n, dtype=torch.float64), inv_freq)
    return ang.cos() * cos_scale, ang.sin() * cos_scale, score_scale


def rope_interleaved(x, cos, sin):
    """Rotates pairs (x[2i], x[2i+1]) of the last dim; x: (..., n, dim), cos/sin: (n, dim/2)."""
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def mlp(w, prefix, h):
    gate = h @ w[prefix + "gate_proj.weight"].T
    up = h @ w[prefix + "up_proj.weight"].T
    return (torch.nn.functional.silu(gate) * up) @ w[prefix + "down_proj.weight"].T


def route(cfg, w, p, h):
    """(n, top_k) expert ids and weights for tokens h (n, hidden)."""
    n_exp, top_k = cfg["n_routed_experts"], cfg["num_experts_per_tok"]
    method = cfg.get("topk_method", "greedy")
    logits = h @ w[p + "mlp.gate.weight"].T
    if cfg.get("scoring_func", "softmax") == "softmax":
        scores = logits.softmax(dim=-1)
    else:
        scores = logits.sigmoid()
    n = h.shape[0]
    if method == "greedy":
        weight, idx = torch.topk(scores, k=top_k, dim=-1)
    elif method in ("group_limited_greedy", "noaux_tc"):
        g = cfg["n_group"]
        choice = scores
        if method == "noaux_tc":
            choice = scores + w[p + "mlp.gate.e_score_correction_bias"]
            group_scores = choice.view(n, g, -1).topk(2, dim=-1)[0].sum(dim=-1)
        else:
            group_scores = choice.view(n, g, -1).max(dim=-1).values
        group_idx = torch.topk(group_scores, k=cfg["topk_group"], dim=-1)[1]
        group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
        score_mask = group_mask.unsqueeze(-1).expand(n, g, n_exp // g).reshape(n, -1)
        masked = choice.masked_fill(~score_mask.bool(), 0.0)
        _, idx = torch.topk(masked, k=top_k, dim=-1)
        weight = scores.gather(1, idx)
    else:
        raise SystemExit(f"unsupported topk_method {method}")
    norm = top_k > 1 and cfg.get("norm_topk_prob", False)
    scale = cfg.get("routed_scaling_factor", 1.0)
    if method == "noaux_tc":  # V3: renormalize when asked, always scale
        if norm:
            weight = weight / (weight.sum(dim=-1, keepdim=True) + 1e-20)
        weight = weight * scale
    elif norm:  # V2: renormalize, or else scale
        weight = weight / (weight.sum(dim=-1, keepdim=True) + 1e-20)
    else:
        weight = weight * scale
    return idx, weight


def moe(cfg, w, p, h):
    idx, weight = route(cfg, w, p, h)
    out = torch.zeros_like(h)
    for t in range(h.shape[0]):
        for j in range(idx.shape[1]):
            e = int(idx[t, j])
            out[t] += weight[t, j] * mlp(w, p + f"mlp.experts.{e}.", h[t:t + 1])[0]
    if cfg.get("n_shared_experts"):
        out = out + mlp(w, p + "mlp.shared_experts.", h)
    return out


def attention(cfg, w, p, h, cos, sin, score_scale):
    n = h.shape[0]
    nh = cfg["num_attention_heads"]
    nope, rope, vd = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    lora = cfg["kv_lora_rank"]
    eps = cfg.get("rms_norm_eps", 1e-6)
    if cfg.get("q_lora_rank") is None:
        q = h @ w[p + "self_attn.q_proj.weight"].T
    else:
        qa = rms_norm(h @ w[p + "self_attn.q_a_proj.weight"].T, w[p + "self_attn.q_a_layernorm.weight"], eps)
        q = qa @ w[p + "self_attn.q_b_proj.weight"].T
    q = q.view(n, nh, nope + rope).transpose(0, 1)  # (heads, n, dk)
    q_nope, q_pe = q[..., :nope], q[..., nope:]
    ckv = h @ w[p + "self_attn.kv_a_proj_with_mqa.weight"].T
    c, k_pe = ckv[:, :lora], ckv[:, lora:]
    kv = rms_norm(c, w[p + "self_attn.kv_a_layernorm.weight"], eps) @ w[p + "self_attn.kv_b_proj.weight"].T
    kv = kv.view(n, nh, nope + vd).transpose(0, 1)
    k_nope, v = kv[..., :nope], kv[..., nope:]
    q_pe = rope_interleaved(q_pe, cos, sin)
    k_pe = rope_interleaved(k_pe.unsqueeze(0), cos, sin).expand(nh, n, rope)
    qs = torch.cat((q_nope, q_pe), dim=-1)
    ks = torch.cat((k_nope, k_pe), dim=-1)
    scale = (nope + rope) ** -0.5 * score_scale
    mask = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)
    att = torch.softmax(qs @ ks.transpose(1, 2) * scale + mask, dim=-1) @ v
    return att.transpose(0, 1).reshape(n, nh * vd) @ w[p + "self_attn.o_proj.weight"].T


def forward(cfg, w, tokens):
    eps = cfg.get("rms_norm_eps", 1e-6)
    n = len(tokens)
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    cos, sin, score_scale = rope_tables(cfg, n)
    dense_lead = cfg.get("first_k_dense_replace", 0 if cfg.get("n_routed_experts") else cfg["num_hidden_layers"])
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = x + attention(cfg, w, p, rms_norm(x, w[p + "input_layernorm.weight"], eps), cos, sin, score_scale)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        x = x + (mlp(w, p + "mlp.", h) if i < dense_lead else moe(cfg, w, p, h))
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(os.path.join(args.model_dir, "config.json")) as f:
        cfg = json.load(f)
    weights = load_checkpoint(args.model_dir)
    tokens = [int(t) for t in args.tokens.split(",")]
    torch.set_num_threads(1)
    with torch.no_grad():
        forward(cfg, weights, tokens).to(torch.float32).numpy().tofile(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
