"""What this machine can do at best: its fp32 matrix-multiply peak, and what the encoder needs.

The encoder's roofline is the peak divided by the FLOPs one token costs the model, counted from
its config (a BERT encoder): per layer, the Q, K, V and output projections (4·h² weights) and the
feed-forward block (2·h·i weights) cost 2 FLOPs per weight per token; attention adds
QKᵀ and attention·V, 4·L·h per token for a sequence of L tokens. Embeddings, layer norms, GELU
and softmax are left out (memory-bound, a few percent of the FLOPs). L is averaged over tokens
(Σ L² / Σ L), as a token's attention cost grows with its own sequence's length.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SGEMM_SIZE = 2048
SGEMM_REPEATS = 5


def sgemm_peak(size: int = SGEMM_SIZE, repeats: int = SGEMM_REPEATS) -> dict[str, float]:
    """Best fp32 GFLOP/s of a size³ matrix multiply, with numpy (OpenBLAS) and with PyTorch
    (when it is importable), each at its default thread count."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    flops = 2.0 * size**3
    found = {"numpy": flops / _best(lambda: a @ b, repeats) / 1e9}
    try:
        import torch
    except ImportError:
        return found
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    found["torch"] = flops / _best(lambda: ta @ tb, repeats) / 1e9
    return found


def _best(work, repeats: int) -> float:  # type: ignore[no-untyped-def]
    work()  # warm up: thread pools, page faults
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def token_weighted_length(lengths: Sequence[int]) -> float:
    """The sequence length an average token sits in: Σ L² / Σ L."""
    total = sum(lengths)
    return sum(n * n for n in lengths) / total if total else 0.0


def flops_per_token(model_dir: Path, sequence_length: float) -> float:
    """Forward-pass FLOPs per token of the BERT encoder in `model_dir` (see the module doc)."""
    config = json.loads((model_dir / "config.json").read_text())
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    projections = 2 * (4 * hidden * hidden + 2 * hidden * inner)
    attention = 4 * sequence_length * hidden
    return config["num_hidden_layers"] * (projections + attention)
