"""Byte-level BPE (GPT-2 style) trained from scratch, written as a Hugging Face tokenizer.json.

Pure Python (no `regex`/`tokenizers` modules): the GPT-2 pre-tokenizer regex
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
is implemented as a hand-written scanner with the same leftmost-alternative semantics, so
that the tokenizer.json we write (ByteLevel pre-tokenizer, use_regex=true) encodes exactly
like this module does in edgellm (tests/tools/default_model_tokenizer_test checks that).
"""
import collections
import heapq
import unicodedata

CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
# The whitespace set edgellm's pre-tokenizer uses for \s (Unicode White_Space).
WHITESPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)}


def _is_letter(ch):
    return unicodedata.category(ch).startswith("L")


def _is_number(ch):
    return unicodedata.category(ch).startswith("N")


def _is_space(ch):
    return ch in WHITESPACE


def _is_other(ch):
    return not (_is_space(ch) or _is_letter(ch) or _is_number(ch))


def pre_tokenize(text):
    """Splits text into GPT-2 pre-tokens (the pieces BPE merges never cross)."""
    pieces = []
    i, n = 0, len(text)
    while i < n:
        # 's 't 're 've 'm 'll 'd (case-sensitive, as in GPT-2)
        matched = next((c for c in CONTRACTIONS if text.startswith(c, i)), None)
        if matched:
            pieces.append(matched)
            i += len(matched)
            continue
        start = i + 1 if text[i] == " " and i + 1 < n else i
        for cls in (_is_letter, _is_number, _is_other):
            if start < n and cls(text[start]):
                j = start
                while j < n and cls(text[j]):
                    j += 1
                break
        else:
            j = -1
        if j > start:
            pieces.append(text[i:j])
            i = j
            continue
        # Whitespace: \s+(?!\S) keeps the last space for the next word; else \s+.
        j = i
        while j < n and _is_space(text[j]):
            j += 1
        if j == i:  # cannot happen: every character is in one class
            raise AssertionError("pre_tokenize: no alternative matched")
        if j < n and j - i > 1:
            j -= 1
        pieces.append(text[i:j])
        i = j
    return pieces


def bytes_to_unicode():
    """GPT-2's byte -> printable character table used by byte-level BPE vocabularies."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_CHARS = bytes_to_unicode()


def piece_symbols(piece):
    return tuple(BYTE_CHARS[b] for b in piece.encode("utf-8"))


def train_bpe(texts, n_merges, min_frequency=2):
    """Learns up to n_merges merges over the pre-tokens of texts; returns [(a, b), ...].

    Classic BPE over a word-frequency table with incremental pair counts; ties between pairs of
    equal count are broken by the lexicographically smallest pair, so the result is
    deterministic."""
    word_counts = collections.Counter()
    for text in texts:
        word_counts.update(pre_tokenize(text))
    words = [list(piece_symbols(w)) for w in word_counts]
    freqs = list(word_counts.values())
    pair_counts = collections.Counter()
    pair_words = collections.defaultdict(set)
    for wi, syms in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pair_counts[(a, b)] += freqs[wi]
            pair_words[(a, b)].add(wi)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        neg, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -neg:
            continue  # stale entry
        if -neg < min_frequency:
            break
        merges.append(pair)
        merged = pair[0] + pair[1]
        touched = set()
        for wi in sorted(pair_words.pop(pair, ())):
            syms, f = words[wi], freqs[wi]
            for a, b in zip(syms, syms[1:]):
                pair_counts[(a, b)] -= f
                touched.add((a, b))
            out, k = [], 0
            while k < len(syms):
                if k + 1 < len(syms) and syms[k] == pair[0] and syms[k + 1] == pair[1]:
                    out.append(merged)
                    k += 2
                else:
                    out.append(syms[k])
                    k += 1
            words[wi] = out
            for a, b in zip(out, out[1:]):
                pair_counts[(a, b)] += f
                pair_words[(a, b)].add(wi)
                touched.add((a, b))
        pair_counts.pop(pair, None)
        for p in touched:
            c = pair_counts.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                pair_counts.pop(p, None)
    return merges


class Tokenizer:
    """Encoder for the trained vocabulary: pre-tokenize, then merge by rank (lowest first,
    leftmost on ties), as llama.cpp and edgellm do."""

    def __init__(self, merges, specials):
        self.merges = list(merges)
        self.ranks = {pair: r for r, pair in enumerate(self.merges)}
        self.vocab = {}
        for b in range(256):
            self.vocab[BYTE_CHARS[b]] = len(self.vocab)
        for a, b in self.merges:
            self.vocab.setdefault(a + b, len(self.vocab))
        self.specials = {}
        for s in specials:
            self.specials[s] = len(self.vocab)
            self.vocab[s] = len(self.vocab)
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.byte_of_char = {c: b for b, c in BYTE_CHARS.items()}
        self._cache = {}

    def _bpe(self, piece):
        cached = self._cache.get(piece)
        if cached is not None:
            return cached
        syms = list(piece_symbols(piece))
        while len(syms) > 1:
            best, best_rank = -1, None
            for k in range(len(syms) - 1):
                r = self.ranks.get((syms[k], syms[k + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = k, r
            if best < 0:
                break
            syms[best:best + 2] = [syms[best] + syms[best + 1]]
        ids = [self.vocab[s] for s in syms]
        self._cache[piece] = ids
        return ids

    def encode(self, text):
        ids = []
        for piece in pre_tokenize(text):
            ids.extend(self._bpe(piece))
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            tok = self.id_to_token[i]
            if tok in self.specials:
                out += tok.encode("utf-8")
            else:
                out += bytes(self.byte_of_char[c] for c in tok)
        return out.decode("utf-8", errors="replace")

    def hf_tokenizer_json(self):
        added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for s, i in self.specials.items()]
        byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                      "use_regex": True}
        return {
            "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": None, "pre_tokenizer": byte_level, "post_processor": None,
            "decoder": byte_level,
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": self.vocab, "merges": [f"{a} {b}" for a, b in self.merges]},
        }
