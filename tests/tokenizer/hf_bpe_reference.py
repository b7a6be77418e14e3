#!/usr/bin/env python3
"""Independent reference for SentencePiece-style BPE tokenizer.json files (TinyStories, Llama 2):
Hugging Face `tokenizers` semantics written from its documented behaviour, with merges applied by
rank (not by score, which is what the C++ engine uses), so the two implementations can disagree.

usage: hf_bpe_reference.py TOKENIZER_JSON CASES_FILE
CASES_FILE holds cases separated by "\n__ggml_vocab_test__\n"; prints one line of ids per case
(no BOS/EOS, special tokens not parsed)."""
import json
import sys

SEPARATOR = "\n__ggml_vocab_test__\n"
METASPACE = "\u2581"


def load(path):
    with open(path, encoding="utf-8") as f:
        root = json.load(f)
    model = root["model"]
    assert model["type"] == "BPE"
    vocab = dict(model["vocab"])
    for added in root.get("added_tokens", []):
        vocab[added["content"]] = added["id"]
    ranks = {}
    for rank, merge in enumerate(model["merges"]):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        ranks.setdefault((left, right), rank)
    return root, vocab, ranks


def normalize(root, text):
    """Prepend / Replace normalizers (a Metaspace pre-tokenizer does the same for our cases)."""
    steps = []
    norm = root.get("normalizer")
    if norm:
        steps = norm["normalizers"] if norm["type"] == "Sequence" else [norm]
    for step in steps:
        if step["type"] == "Prepend":
            text = step["prepend"] + text
        elif step["type"] == "Replace":
            text = text.replace(step["pattern"]["String"], step["content"])
        else:
            raise SystemExit("unsupported normalizer " + step["type"])
    return text


def initial_symbols(root, vocab, text):
    model = root["model"]
    unk = model.get("unk_token")
    symbols = []  # token strings; None marks an unknown run
    for ch in text:
        if ch in vocab:
            symbols.append(ch)
            continue
        if model.get("byte_fallback"):
            pieces = ["<0x%02X>" % b for b in ch.encode("utf-8")]
            if all(p in vocab for p in pieces):
                symbols.extend(pieces)
                continue
        if unk is None:
            raise SystemExit("character %r is unknown and there is no unk token" % ch)
        if model.get("fuse_unk") and symbols and symbols[-1] is None:
            continue
        symbols.append(None)
    return symbols


def bpe(symbols, ranks):
    while True:
        best = None
        for i in range(len(symbols) - 1):
            a, b = symbols[i], symbols[i + 1]
            if a is None or b is None:
                continue
            r = ranks.get((a, b))
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            return symbols
        i = best[1]
        symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]


def main():
    root, vocab, ranks = load(sys.argv[1])
    unk_id = vocab.get(root["model"].get("unk_token"))
    with open(sys.argv[2], encoding="utf-8", newline="") as f:
        cases = f.read().split(SEPARATOR)
    out = []
    for case in cases:
        if case == "":
            out.append("")
            continue
        symbols = bpe(initial_symbols(root, vocab, normalize(root, case)), ranks)
        out.append(" ".join(str(unk_id if s is None else vocab[s]) for s in symbols))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
