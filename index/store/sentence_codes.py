"""How both stores keep sentence vectors: signed 6-bit codes, six bits a component.

Answer selection needs only each sentence's direction (its cosine with the question), so a vector
is scaled until its largest component is ±31 and rounded; read back, the codes are scaled to unit
length again, which is why no scale is stored. Six bits a component is 288 bytes a sentence of
384 components, against 768 in float16 and 384 in the 8-bit codes written before. On the SQuAD
and Python documentation questions over 99.6 % of answer sentences are float16's
(`python -m bench.sentence_codes`, docs/scale.md); five bits kept 99.4 % but lost a paraphrased
question that six and eight bits answer, four bits 98.5 %.

The bits are packed so that NumPy unpacks them in a few whole-array steps (a query reads a few
hundred sentences): the low four bits of every component as nibbles, two components a byte, then
each higher bit of every component as a bit plane (`np.packbits`). That needs a width divisible
by 8; any other width is written in 8-bit codes.

Passages written before hold float16 components or 8-bit codes. Each passage row says which it
holds (`sentence_bits`: 6, 8 or 16), and `decode` reads all three, so an older index keeps its
answers and a mixed one reads in one go.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

PACKED = 6  # signed 6-bit codes, packed: as written now
CODES = 8  # signed 8-bit codes, one byte a component
FLOAT16 = 16  # float16 components
WRITTEN = PACKED  # the format new passages get (bench/sentence_codes.py writes FLOAT16 too)
FORMATS = (PACKED, CODES, FLOAT16)
_NIBBLE = 4  # bits of a component kept as nibbles; each higher one is a bit plane


def _known(bits: int) -> None:
    if bits not in FORMATS:
        raise ValueError(f"sentence vectors in an unknown format ({bits} bits)")


def row_bytes(bits: int, dim: int) -> int:
    """Bytes one sentence vector takes in the format `bits`."""
    _known(bits)
    return dim * bits // 8


def written_format(dim: int) -> int:
    """The format new sentence vectors of this width get: WRITTEN, or 8-bit codes for a
    width that does not pack."""
    return CODES if WRITTEN == PACKED and dim % 8 else WRITTEN


def encode(vectors: np.ndarray, bits: int | None = None) -> tuple[bytes, int]:
    """`vectors` (n_sentences, dim) as bytes in the format `bits` names (the written format
    unless given), and that format, as a row keeps them."""
    vectors = np.asarray(vectors, dtype=np.float32)
    bits = written_format(vectors.shape[1]) if bits is None else bits
    _known(bits)
    if bits == FLOAT16:
        return np.ascontiguousarray(vectors, dtype=np.float16).tobytes(), bits
    if bits == PACKED and vectors.shape[1] % 8:
        raise ValueError(f"{vectors.shape[1]} components do not pack in {bits}-bit codes")
    codes = _codes(vectors, bits)
    if bits == CODES:
        return codes.tobytes(), bits
    return _pack((codes + (1 << (bits - 1))).astype(np.uint8), bits).tobytes(), bits


def rounded(vectors: np.ndarray) -> np.ndarray:
    """`vectors` (n, dim) as the written format rounds them, unpacked: int8 codes, or float16.
    Encoding the result gives the bytes that encoding `vectors` does (the codes are scaled
    until their largest is the largest code already), in a quarter or half of float32's room."""
    bits = written_format(vectors.shape[1])
    if bits == FLOAT16:
        return np.asarray(vectors, dtype=np.float16)
    return _codes(np.asarray(vectors, dtype=np.float32), bits)


def _codes(vectors: np.ndarray, bits: int) -> np.ndarray:
    """Each float32 vector scaled until its largest component is the largest `bits`-bit code
    (31 or 127), rounded, as int8."""
    top = (1 << (bits - 1)) - 1
    largest = np.abs(vectors).max(axis=1, keepdims=True, initial=0.0)
    scale = np.divide(top, largest, out=np.zeros_like(largest), where=largest > 0)
    return np.rint(vectors * scale).astype(np.int8)


def _pack(unsigned: np.ndarray, bits: int) -> np.ndarray:
    """`bits`-bit values (n, dim) as n rows of dim/2 nibble bytes, then dim/8 bytes for each
    bit above the fourth."""
    nibbles = (unsigned[:, 0::2] & 15) | ((unsigned[:, 1::2] & 15) << 4)
    planes = [np.packbits((unsigned >> bit) & 1, axis=1) for bit in range(_NIBBLE, bits)]
    return np.concatenate([nibbles, *planes], axis=1)


def _unpack(buffer: bytes, dim: int, bits: int) -> np.ndarray:
    """The `bits`-bit values (n, dim), as uint8, of rows packed by `_pack`."""
    rows = np.frombuffer(buffer, dtype=np.uint8).reshape(-1, row_bytes(bits, dim))
    nibbles = rows[:, : dim // 2]
    unsigned = np.empty((len(rows), dim), dtype=np.uint8)
    unsigned[:, 0::2] = nibbles & 15
    unsigned[:, 1::2] = nibbles >> 4
    for bit in range(_NIBBLE, bits):
        start = dim // 2 + (bit - _NIBBLE) * dim // 8
        unsigned |= np.unpackbits(rows[:, start : start + dim // 8], axis=1) << bit
    return unsigned


def decode(rows: Sequence[tuple[bytes, int]], dim: int) -> list[np.ndarray]:
    """Each row's (bytes, bits) as float32 sentence vectors (n_sentences, dim): one conversion
    per format for all the rows, then handed out as views. Codes come back as unit vectors
    (zeros stay zero), float16 as it was stored."""
    matrices = {
        bits: _matrix(b"".join(blob for blob, its in rows if its == bits), bits, dim)
        for bits in {bits for _, bits in rows}
    }
    taken = dict.fromkeys(matrices, 0)
    decoded = []
    for blob, bits in rows:
        count = len(blob) // row_bytes(bits, dim)
        decoded.append(matrices[bits][taken[bits] : taken[bits] + count])
        taken[bits] += count
    return decoded


def recoded(rows: Sequence[tuple[bytes, int]], dim: int, bits: int) -> list[tuple[bytes, int]]:
    """Each row's (bytes, bits) rewritten in the format `bits` (what `riverbed compact` does
    to rows that older versions wrote)."""
    return [encode(vectors, bits) for vectors in decode(rows, dim)]


def _matrix(buffer: bytes, bits: int, dim: int) -> np.ndarray:
    _known(bits)
    if bits == FLOAT16:
        return float16_to_float32(buffer).reshape(-1, dim)
    if bits == CODES:
        vectors = np.frombuffer(buffer, dtype=np.int8).astype(np.float32).reshape(-1, dim)
    else:  # codes around 2^(bits - 1): zero stays zero once the offset is taken off
        vectors = _unpack(buffer, dim, bits).astype(np.float32)
        vectors -= 1 << (bits - 1)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]
    return np.divide(vectors, norms, out=vectors, where=norms > 0)


@lru_cache(maxsize=1)
def _float16_table() -> np.ndarray:
    """float32 of every float16 bit pattern: a lookup converts twice as fast as `astype`."""
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


def float16_to_float32(buffer: bytes) -> np.ndarray:
    """The same values as `np.frombuffer(buffer, np.float16).astype(np.float32)`."""
    return _float16_table().take(np.frombuffer(buffer, dtype=np.uint16))
