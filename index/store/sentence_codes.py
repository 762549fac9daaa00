"""How both stores keep sentence vectors: signed 8-bit codes, one byte a component.

Answer selection needs only each sentence's direction (its cosine with the question), so a vector
is scaled until its largest component is ±127 and rounded; read back, the codes are scaled to
unit length again, which is why no scale is stored. That is half of float16's bytes, and on the
SQuAD and Python documentation questions over 99 % of answer sentences are float16's
(`python -m bench.sentence_codes`, docs/scale.md).

Passages written before this format hold float16 components. Each passage row says which it
holds (`sentence_bits`: 8 or 16), and `decode` reads both, so an older index keeps its answers
and a mixed one reads in one go.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

CODES = 8  # signed 8-bit codes, as written now
FLOAT16 = 16  # float16 components, as written before
WRITTEN = CODES  # the format new passages get (bench/sentence_codes.py writes FLOAT16 too)
BYTES_PER_COMPONENT = {CODES: 1, FLOAT16: 2}
TOP = 127  # the largest code


def encode(vectors: np.ndarray, bits: int | None = None) -> tuple[bytes, int]:
    """`vectors` (n_sentences, dim) as bytes in the format `bits` names (WRITTEN unless
    given), and that format's bits, as a passage row keeps them."""
    bits = WRITTEN if bits is None else bits
    if bits == FLOAT16:
        return np.ascontiguousarray(vectors, dtype=np.float16).tobytes(), bits
    if bits != CODES:
        raise ValueError(f"no sentence vector format of {bits} bits")
    vectors = np.asarray(vectors, dtype=np.float32)
    largest = np.abs(vectors).max(axis=1, keepdims=True, initial=0.0)
    scale = np.divide(TOP, largest, out=np.zeros_like(largest), where=largest > 0)
    return np.rint(vectors * scale).astype(np.int8).tobytes(), bits


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
        count = len(blob) // (dim * BYTES_PER_COMPONENT[bits])
        decoded.append(matrices[bits][taken[bits] : taken[bits] + count])
        taken[bits] += count
    return decoded


def _matrix(buffer: bytes, bits: int, dim: int) -> np.ndarray:
    if bits == FLOAT16:
        return float16_to_float32(buffer).reshape(-1, dim)
    if bits != CODES:
        raise ValueError(f"sentence vectors in an unknown format ({bits} bits)")
    vectors = np.frombuffer(buffer, dtype=np.int8).astype(np.float32).reshape(-1, dim)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]
    return np.divide(vectors, norms, out=vectors, where=norms > 0)


@lru_cache(maxsize=1)
def _float16_table() -> np.ndarray:
    """float32 of every float16 bit pattern: a lookup converts twice as fast as `astype`."""
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


def float16_to_float32(buffer: bytes) -> np.ndarray:
    """The same values as `np.frombuffer(buffer, np.float16).astype(np.float32)`."""
    return _float16_table().take(np.frombuffer(buffer, dtype=np.uint16))
