#!/usr/bin/python3
"""Prints the token ids (space-separated, no BOS) that the default model's own trainer-side
encoder (tools/train_default_model/bpe.py) gives a text file, using the merges of a tokenizer.json.

usage: default_model_tokenize.py TOKENIZER_JSON TEXT_FILE
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "train_default_model"))
import bpe  # noqa: E402


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        tok_json = json.load(f)
    merges = [tuple(m.split(" ")) for m in tok_json["model"]["merges"]]
    specials = [t["content"] for t in sorted(tok_json["added_tokens"], key=lambda t: t["id"])]
    tok = bpe.Tokenizer(merges, specials)
    if tok.vocab != tok_json["model"]["vocab"] | {s: tok.specials[s] for s in specials}:
        raise SystemExit("the vocabulary rebuilt from the merges differs from tokenizer.json")
    with open(sys.argv[2], "rb") as f:
        text = f.read().decode("utf-8")
    print(" ".join(str(i) for i in tok.encode(text)))


if __name__ == "__main__":
    main()
