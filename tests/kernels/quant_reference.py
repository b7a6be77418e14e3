#!/usr/bin/env python3
"""Independent numpy reference for edgellm's GGUF block formats.

Written from the format definitions (ggml's block layouts) and ggml's reference quantizer
formulas, vectorised over blocks; it shares no code with the C++ implementation. Every float
operation is done in float32 in the same order as the formats define it, so results must agree
bit for bit.

usage: quant_reference.py WORKDIR
  reads  WORKDIR/input.f32                 float32 values, a multiple of 256
         WORKDIR/blocks_<type>.bin         raw blocks of each dequantizable type
  writes WORKDIR/ref_quant_<type>.bin      for f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1
         WORKDIR/ref_dequant_<type>.f32    for every blocks_<type>.bin found
"""
import os
import sys

import numpy as np

F32 = np.float32
KVALUES_IQ4NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113],
                         dtype=np.int64)

# bytes per block (the GGUF format constants)
BLOCK_BYTES = {"f16": 2, "bf16": 2, "q4_0": 18, "q4_1": 20, "q5_0": 22, "q5_1": 24, "q8_0": 34,
               "q8_1": 36, "q2_K": 84, "q3_K": 110, "q4_K": 144, "q5_K": 176, "q6_K": 210,
               "q8_K": 292, "iq4_nl": 18}


def half_at(b, off):
    """fp16 field at byte offset off of each block, as float32."""
    return np.ascontiguousarray(b[:, off:off + 2]).view("<f2").reshape(-1).astype(F32)


def as_f32(a):
    return a.astype(F32)


def nibbles_32(qs):
    """Q4-style packing: byte j = element j (low nibble) and j+16 (high nibble)."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int64)


def qh_bits(b, off):
    """bit j of the little-endian 32-bit word at off, for j = 0..31."""
    word = np.ascontiguousarray(b[:, off:off + 4]).view("<u4").reshape(-1, 1).astype(np.int64)
    return (word >> np.arange(32)) & 1


# ----------------------------------------------------------------------------- dequantize

def deq_q4_0(b):
    d = half_at(b, 0)
    return as_f32(nibbles_32(b[:, 2:18]) - 8) * d[:, None]


def deq_q4_1(b):
    d, m = half_at(b, 0), half_at(b, 2)
    return as_f32(nibbles_32(b[:, 4:20])) * d[:, None] + m[:, None]


def deq_q5_0(b):
    d = half_at(b, 0)
    q = nibbles_32(b[:, 6:22]) | (qh_bits(b, 2) << 4)
    return as_f32(q - 16) * d[:, None]


def deq_q5_1(b):
    d, m = half_at(b, 0), half_at(b, 2)
    q = nibbles_32(b[:, 8:24]) | (qh_bits(b, 4) << 4)
    return as_f32(q) * d[:, None] + m[:, None]


def deq_q8_0(b):
    return as_f32(b[:, 2:34].view(np.int8)) * half_at(b, 0)[:, None]


def deq_q8_1(b):
    return as_f32(b[:, 4:36].view(np.int8)) * half_at(b, 0)[:, None]


E = np.arange(256)            # element index within a super-block
HALF128 = E // 128            # which 128-element half
QUARTER = (E % 128) // 32     # which 32-element group inside the half
LANE = E % 32


def deq_q2_K(b):
    scales, qs = b[:, 0:16].astype(np.int64), b[:, 16:80].astype(np.int64)
    d, dmin = half_at(b, 80), half_at(b, 82)
    q = (qs[:, 32 * HALF128 + LANE] >> (2 * QUARTER)) & 3
    sc = scales[:, E // 16]
    dl = d[:, None] * as_f32(sc & 0xF)
    ml = dmin[:, None] * as_f32(sc >> 4)
    return dl * as_f32(q) - ml


def deq_q3_K(b):
    hmask, qs = b[:, 0:32].astype(np.int64), b[:, 32:96].astype(np.int64)
    packed = b[:, 96:108].astype(np.int64)
    d = half_at(b, 108)
    j = np.arange(16)
    low = np.where(j < 8, packed[:, j % 8] & 0xF, packed[:, j % 8] >> 4)
    high = (packed[:, 8 + j % 4] >> (2 * (j // 4))) & 3
    scale = (low | (high << 4)) - 32
    q2 = (qs[:, 32 * HALF128 + LANE] >> (2 * QUARTER)) & 3
    hbit = (hmask[:, E % 32] >> (E // 32)) & 1
    q = q2 - np.where(hbit == 1, 0, 4)
    dl = d[:, None] * as_f32(scale[:, E // 16])
    return dl * as_f32(q)


def scale_min_k4(packed):
    """6-bit scales and mins of the 8 sub-blocks of Q4_K / Q5_K, shape (n, 8) each."""
    s = packed.astype(np.int64)
    sc = np.empty((s.shape[0], 8), np.int64)
    mn = np.empty_like(sc)
    for j in range(8):
        if j < 4:
            sc[:, j], mn[:, j] = s[:, j] & 63, s[:, j + 4] & 63
        else:
            sc[:, j] = (s[:, j + 4] & 0xF) | ((s[:, j - 4] >> 6) << 4)
            mn[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    return sc, mn


P64 = E // 64          # 64-element pair of sub-blocks
UPPER = (E % 64) // 32  # 0: low nibbles, 1: high nibbles
L32 = E % 32


def deq_q4_K(b):
    d, dmin = half_at(b, 0), half_at(b, 2)
    sc, mn = scale_min_k4(b[:, 4:16])
    qs = b[:, 16:144].astype(np.int64)
    byte = qs[:, 32 * P64 + L32]
    q = np.where(UPPER == 0, byte & 0xF, byte >> 4)
    dl = d[:, None] * as_f32(sc[:, E // 32])
    ml = dmin[:, None] * as_f32(mn[:, E // 32])
    return dl * as_f32(q) - ml


def deq_q5_K(b):
    d, dmin = half_at(b, 0), half_at(b, 2)
    sc, mn = scale_min_k4(b[:, 4:16])
    qh, qs = b[:, 16:48].astype(np.int64), b[:, 48:176].astype(np.int64)
    byte = qs[:, 32 * P64 + L32]
    q = np.where(UPPER == 0, byte & 0xF, byte >> 4) + 16 * ((qh[:, L32] >> (2 * P64 + UPPER)) & 1)
    dl = d[:, None] * as_f32(sc[:, E // 32])
    ml = dmin[:, None] * as_f32(mn[:, E // 32])
    return dl * as_f32(q) - ml


def deq_q6_K(b):
    ql, qh = b[:, 0:128].astype(np.int64), b[:, 128:192].astype(np.int64)
    scales = b[:, 192:208].view(np.int8).astype(np.int64)
    d = half_at(b, 208)
    lbyte = ql[:, 64 * HALF128 + 32 * (QUARTER % 2) + LANE]
    low = np.where(QUARTER < 2, lbyte & 0xF, lbyte >> 4)
    high = (qh[:, 32 * HALF128 + LANE] >> (2 * QUARTER)) & 3
    q = (low | (high << 4)) - 32
    return (d[:, None] * as_f32(scales[:, E // 16])) * as_f32(q)


def deq_q8_K(b):
    d = np.ascontiguousarray(b[:, 0:4]).view("<f4").reshape(-1).astype(F32)
    return d[:, None] * as_f32(b[:, 4:260].view(np.int8))


def deq_iq4_nl(b):
    d = half_at(b, 0)
    return d[:, None] * as_f32(KVALUES_IQ4NL[nibbles_32(b[:, 2:18])])


def deq_f16(b):
    return np.ascontiguousarray(b).view("<f2").astype(F32)


def deq_bf16(b):
    bits = np.ascontiguousarray(b).view("<u2").astype(np.uint32) << 16
    return bits.view(F32)


DEQUANTIZERS = {name[4:]: fn for name, fn in globals().items() if name.startswith("deq_")}

# ----------------------------------------------------------------------------- quantize


def to_half_bytes(v):
    with np.errstate(over="ignore"):
        return v.astype(F32).astype("<f2").view(np.uint8).reshape(-1, 2)


def truncate_like_x86(v):
    """C's float -> small-int cast as x86 compilers emit it: cvttss2si (NaN and out of range
    give INT32_MIN), keeping the low byte later."""
    out = np.full(v.shape, -(2 ** 31), dtype=np.int64)
    ok = (v > F32(-2147483648.0)) & (v < F32(2147483648.0))
    out[ok] = np.trunc(v[ok]).astype(np.int64)
    return out


def wrap_int8(i):
    return ((i + 128) % 256) - 128


def round_half_away(v):
    """C roundf, exactly: integer part plus one when the (exact) fraction is >= 1/2."""
    with np.errstate(invalid="ignore"):
        t = np.trunc(v)
        frac = np.abs(v - t)
        bump = np.where(frac >= F32(0.5), np.sign(v), F32(0)).astype(F32)
        return np.where(np.isfinite(v), t + bump, v).astype(F32)


def inverse(d):
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(d != 0, F32(1.0) / d, F32(0.0)).astype(F32)


def signed_absmax(x):
    """The first element of largest magnitude; +0.0 when all are zero (the C loop's start)."""
    picked = x[np.arange(x.shape[0]), np.argmax(np.abs(x), axis=1)]
    return np.where(picked == 0, F32(0.0), picked).astype(F32)


def pack_nibbles(q):
    q = q & 0xFF
    return ((q[:, :16] | (q[:, 16:] << 4)) & 0xFF).astype(np.uint8)


def pack_qh(q):
    bits = ((q & 0xFF) >> 4) & 1
    word = (bits << np.arange(32)).sum(axis=1).astype("<u4")
    return word.view(np.uint8).reshape(-1, 4)


def quant_q8_0(x):
    amax = np.abs(x).max(axis=1)
    d = (amax / F32(127)).astype(F32)
    with np.errstate(invalid="ignore", over="ignore"):
        q = wrap_int8(truncate_like_x86(round_half_away((x * inverse(d)[:, None]).astype(F32))))
    return np.concatenate([to_half_bytes(d), (q & 0xFF).astype(np.uint8)], axis=1)


def quant_q4_0(x):
    d = (signed_absmax(x) / F32(-8)).astype(F32)
    with np.errstate(invalid="ignore", over="ignore"):
        v = (x * inverse(d)[:, None]).astype(F32) + F32(8.5)
    q = np.minimum(15, wrap_int8(truncate_like_x86(v.astype(F32))))
    return np.concatenate([to_half_bytes(d), pack_nibbles(q)], axis=1)


def min_max(x):
    rows = np.arange(x.shape[0])
    return x[rows, np.argmin(x, axis=1)], x[rows, np.argmax(x, axis=1)]


def quant_q4_1(x):
    mn, mx = min_max(x)
    with np.errstate(over="ignore", invalid="ignore"):
        d = ((mx - mn).astype(F32) / F32(15)).astype(F32)
        v = ((x - mn[:, None]).astype(F32) * inverse(d)[:, None]).astype(F32) + F32(0.5)
    q = np.minimum(15, wrap_int8(truncate_like_x86(v.astype(F32))))
    return np.concatenate([to_half_bytes(d), to_half_bytes(mn), pack_nibbles(q)], axis=1)


def quant_q5_0(x):
    d = (signed_absmax(x) / F32(-16)).astype(F32)
    with np.errstate(invalid="ignore", over="ignore"):
        v = (x * inverse(d)[:, None]).astype(F32) + F32(16.5)
    q = np.minimum(31, wrap_int8(truncate_like_x86(v.astype(F32))))
    return np.concatenate([to_half_bytes(d), pack_qh(q), pack_nibbles(q & 0x0F)], axis=1)


def quant_q5_1(x):
    mn, mx = min_max(x)
    with np.errstate(over="ignore", invalid="ignore"):
        d = ((mx - mn).astype(F32) / F32(31)).astype(F32)
        v = ((x - mn[:, None]).astype(F32) * inverse(d)[:, None]).astype(F32) + F32(0.5)
    q = truncate_like_x86(v.astype(F32)) & 0xFF  # straight cast to uint8_t, no clamp
    return np.concatenate([to_half_bytes(d), to_half_bytes(mn), pack_qh(q), pack_nibbles(q & 0x0F)],
                          axis=1)


def quant_f16(x):
    return to_half_bytes(x.reshape(-1))


def quant_bf16(x):
    flat = x.reshape(-1)
    try:
        import torch  # the independent reference when available: torch rounds to nearest even
        t = torch.from_numpy(flat.copy()).to(torch.bfloat16).view(torch.int16).numpy()
        return t.view(np.uint8)
    except ImportError:
        bits = flat.view(np.uint32).astype(np.uint64)
        is_nan = (bits & 0x7FFFFFFF) > 0x7F800000
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        out = np.where(is_nan, (bits >> 16) | 0x40, rounded).astype("<u2")
        return out.view(np.uint8)


QUANTIZERS = {"q8_0": quant_q8_0, "q4_0": quant_q4_0, "q4_1": quant_q4_1, "q5_0": quant_q5_0,
              "q5_1": quant_q5_1}


def main():
    work = sys.argv[1]
    x = np.fromfile(os.path.join(work, "input.f32"), dtype="<f4").astype(F32)
    blocks32 = x.reshape(-1, 32)
    for name, fn in QUANTIZERS.items():
        fn(blocks32).astype(np.uint8).tofile(os.path.join(work, f"ref_quant_{name}.bin"))
    quant_f16(x).tofile(os.path.join(work, "ref_quant_f16.bin"))
    quant_bf16(x).tofile(os.path.join(work, "ref_quant_bf16.bin"))
    for name, fn in DEQUANTIZERS.items():
        path = os.path.join(work, f"blocks_{name}.bin")
        if not os.path.exists(path):
            continue
        raw = np.fromfile(path, dtype=np.uint8).reshape(-1, BLOCK_BYTES[name])
        with np.errstate(over="ignore", invalid="ignore"):
            out = fn(raw)
        out.astype("<f4").reshape(-1).tofile(os.path.join(work, f"ref_dequant_{name}.f32"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
