#!/usr/bin/python3
"""Trains edgellm's bundled default model: a small Llama on the King James Bible, with its own
byte-level BPE tokenizer, then converts and quantizes it with edgellm itself.

usage: tools/train_default_model/train.py --edgellm build/bin/edgellm [--out build/default-model]
           [--threads 1] [--steps N] [--install]

Reproducible: fixed seeds, deterministic tokenizer training, single-process data order. With the
defaults it finishes in about 35 minutes with --threads 1 (under an hour on 2 shared cores),
using Debian packages only: python3-torch, python3-numpy, bible-kjv (+ bible-kjv-text).

Outputs in --out: corpus/{train,held_out}.txt, hf/ (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json), default-{f32,q8_0,q4_k_m}.gguf, summary.json, train.log.
--install copies the chosen GGUF to models/default.gguf.
"""
import argparse
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import time


def _threads_from_argv(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# OpenBLAS (libopenblas0-openmp, which torch's generic BLAS resolves to) reads its thread count
# when loaded: set it before numpy/torch are imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads_from_argv(sys.argv))
os.environ.setdefault("OMP_NUM_THREADS", _threads_from_argv(sys.argv))

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402
from model import LlamaForCausalLM  # noqa: E402

BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edgellm", default=os.path.join(REPO_ROOT, "build", "bin", "edgellm"))
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "build", "default-model"))
    ap.add_argument("--bible-text", default="", help="saved output of `bible -l10000 gen1:1-rev22:21`")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--vocab", type=int, default=4096, help="total vocabulary incl. 2 special tokens")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--steps", type=int, default=560)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--install", action="store_true", help="copy the chosen GGUF to models/default.gguf")
    ap.add_argument("--skip-training", action="store_true", help="export the last checkpoint in --out")
    return ap.parse_args()


class Log:
    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")

    def __call__(self, msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        self.file.write(line + "\n")
        self.file.flush()


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        raw = tensors[name].astype(np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
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


def model_config(args, tok):
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": args.dim, "intermediate_size": args.ffn, "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads, "num_key_value_heads": args.kv_heads,
        "max_position_embeddings": args.ctx, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "hidden_act": "silu", "tie_word_embeddings": True, "vocab_size": len(tok.vocab),
        "bos_token_id": tok.specials[BOS], "eos_token_id": tok.specials[EOS], "torch_dtype": "float32",
    }


def export_hf(hf_dir, cfg, model, tok):
    os.makedirs(hf_dir, exist_ok=True)
    tensors = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(hf_dir, "model.safetensors"), tensors)
    with open(os.path.join(hf_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    with open(os.path.join(hf_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok.hf_tokenizer_json(), f, ensure_ascii=False)
    tok_config = {"add_bos_token": True, "add_eos_token": False, "bos_token": BOS, "eos_token": EOS,
                  "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": cfg["max_position_embeddings"]}
    with open(os.path.join(hf_dir, "tokenizer_config.json"), "w") as f:
        json.dump(tok_config, f, indent=1)


def scored_targets(ids, ctx, bos):
    """The tokens `edgellm perplexity -c ctx` scores: BOS + text tokens cut into windows of ctx,
    the second half of each window predicted."""
    tokens = [bos] + ids
    out = []
    for c in range(len(tokens) // ctx):
        window = tokens[c * ctx:(c + 1) * ctx]
        out.extend(window[ctx // 2 + 1:])
    return out


def unigram_perplexity(train_ids, targets, n_vocab):
    """Add-one smoothed unigram model of the training tokens, evaluated on targets."""
    counts = np.bincount(np.asarray(train_ids), minlength=n_vocab).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return float(math.exp(-logp[np.asarray(targets)].mean()))


def run_cli(cli, *argv, log):
    cmd = [cli, *map(str, argv)]
    log("$ " + " ".join(cmd))
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"train: {' '.join(cmd)} failed:\n{res.stderr}")
    return res.stdout


def edgellm_perplexity(cli, gguf, text_file, ctx, log):
    out = run_cli(cli, "perplexity", "-m", gguf, "-f", text_file, "-c", ctx, log=log)
    for line in out.splitlines():
        if line.startswith("Final estimate: PPL = "):
            return float(line.split("=")[1].split("+/-")[0])
    raise SystemExit("train: no perplexity in edgellm's output:\n" + out)


def train(args, cfg, train_ids, log, ckpt_path):
    torch.manual_seed(args.seed)
    model = LlamaForCausalLM(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f}M parameters, config {json.dumps(cfg)}")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    data = torch.tensor(train_ids, dtype=torch.long)
    bos = cfg["bos_token_id"]
    gen = torch.Generator().manual_seed(args.seed)
    start = time.time()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * \
            (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        # Windows start anywhere in the stream; position 0 is always BOS, as at inference.
        offsets = torch.randint(0, len(data) - args.ctx, (args.batch,), generator=gen)
        rows = torch.stack([data[o:o + args.ctx] for o in offsets.tolist()])
        inputs = torch.cat([torch.full((args.batch, 1), bos), rows[:, :-1]], dim=1)
        logits = model(inputs)
        # Position 0 (BOS) predicts rows[:, 0]; position i predicts rows[:, i].
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), rows.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            elapsed = time.time() - start
            log(f"step {step}/{args.steps} loss {loss.item():.4f} lr {lr:.2e} "
                f"elapsed {elapsed / 60:.1f} min ({elapsed / (step + 1):.2f} s/step)")
        if (step + 1) % 100 == 0 or step == args.steps - 1:
            torch.save({"model": model.state_dict(), "step": step + 1}, ckpt_path)
    return model, time.time() - start


def sample_outputs(cli, gguf, prompts, log):
    samples = {}
    for p in prompts:
        samples[p] = run_cli(cli, "run", "-m", gguf, "-p", p, "-n", 48, "--temp", 0, log=log).strip()
        log(f"sample {p!r}: {samples[p]!r}")
    return samples


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    os.makedirs(os.path.join(args.out, "corpus"), exist_ok=True)
    log = Log(os.path.join(args.out, "train.log"))
    log(f"args: {vars(args)}")

    chapters = corpus.parse_chapters(corpus.read_bible_text(args.bible_text or None))
    train_texts, held_texts = corpus.split_corpus(chapters)
    train_text, held_text = "\n".join(train_texts), "\n".join(held_texts)
    for name, text in (("train.txt", train_text), ("held_out.txt", held_text)):
        with open(os.path.join(args.out, "corpus", name), "w", encoding="utf-8") as f:
            f.write(text)
    log(f"corpus: {len(train_texts)} training chapters ({len(train_text)} chars), "
        f"{len(held_texts)} held-out chapters ({len(held_text)} chars)")

    t0 = time.time()
    merges = bpe.train_bpe(train_texts, args.vocab - 256 - 2)
    tok = bpe.Tokenizer(merges, [BOS, EOS])
    train_ids, held_ids = tok.encode(train_text), tok.encode(held_text)
    assert tok.decode(held_ids) == held_text, "tokenizer does not round-trip the held-out text"
    log(f"tokenizer: {len(tok.vocab)} tokens, {len(merges)} merges in {time.time() - t0:.0f} s; "
        f"{len(train_ids)} training tokens ({len(train_text) / len(train_ids):.2f} chars/token), "
        f"{len(held_ids)} held-out tokens")

    cfg = model_config(args, tok)
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    if args.skip_training:
        model = LlamaForCausalLM(cfg)
        model.load_state_dict(torch.load(ckpt_path)["model"])
        train_seconds = None
    else:
        model, train_seconds = train(args, cfg, train_ids, log, ckpt_path)

    hf_dir = os.path.join(args.out, "hf")
    export_hf(hf_dir, cfg, model, tok)
    held_file = os.path.join(args.out, "corpus", "held_out.txt")
    targets = scored_targets(held_ids, args.ctx, tok.specials[BOS])
    unigram = unigram_perplexity(train_ids, targets, len(tok.vocab))
    log(f"unigram baseline perplexity on the {len(targets)} scored held-out tokens: {unigram:.2f}")

    f32 = os.path.join(args.out, "default-f32.gguf")
    run_cli(args.edgellm, "convert", hf_dir, f32, "--type", "f32", log=log)
    results = {"f32": {"file": f32}}
    for qtype in ("q8_0", "q4_k_m"):
        path = os.path.join(args.out, f"default-{qtype}.gguf")
        run_cli(args.edgellm, "quantize", f32, path, qtype.upper(), log=log)
        results[qtype] = {"file": path}
    for name, r in results.items():
        r["bytes"] = os.path.getsize(r["file"])
        r["perplexity"] = edgellm_perplexity(args.edgellm, r["file"], held_file, args.ctx, log)
        log(f"{name}: {r['bytes'] / 1e6:.2f} MB, held-out perplexity {r['perplexity']:.3f}")
    # The smaller file unless it costs more than 2% perplexity over Q8_0.
    chosen = "q4_k_m" if results["q4_k_m"]["perplexity"] <= 1.02 * results["q8_0"]["perplexity"] else "q8_0"
    log(f"chosen: {chosen}")
    samples = sample_outputs(args.edgellm, results[chosen]["file"],
                             ["And God said", "In the beginning", "The LORD is my shepherd"], log)
    summary = {"args": vars(args), "config": cfg, "train_tokens": len(train_ids), "held_out_tokens": len(held_ids),
               "scored_tokens": len(targets), "unigram_perplexity": unigram, "train_seconds": train_seconds,
               "results": results, "chosen": chosen, "samples": samples}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    if args.install:
        models = os.path.join(REPO_ROOT, "models")
        os.makedirs(os.path.join(models, "default-tokenizer"), exist_ok=True)
        shutil.copy(results[chosen]["file"], os.path.join(models, "default.gguf"))
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(hf_dir, name), os.path.join(models, "default-tokenizer", name))
        shutil.copy(os.path.join(args.out, "summary.json"), os.path.join(models, "default-training-summary.json"))
        shutil.copy(os.path.join(args.out, "train.log"), os.path.join(models, "default-training.log"))
        log(f"installed {results[chosen]['file']} as {models}/default.gguf (+ default-tokenizer/, summary)")


if __name__ == "__main__":
    main()
