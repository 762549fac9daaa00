"""What this machine can do at best: its fp32 matrix-multiply peak, and what the encoder needs.

The encoder's roofline is the peak divided by the FLOPs one token costs the model, counted from
its config (a BERT encoder): per layer, the Q, K, V and output projections (4·h² weights) and the
feed-forward block (2·h·i weights) cost 2 FLOPs per weight per token; attention adds
QKᵀ and attention·V, 4·L·h per token for a sequence of L tokens. Embeddings, layer norms, GELU
and softmax are left out (memory-bound, a few percent of the FLOPs). L is averaged over tokens
(Σ L² / Σ L), as a token's attention cost grows with its own sequence's length.

How much int8 can gain on this CPU is measured the same way: one matrix product of the model's
feed-forward shape in ONNX Runtime, float32 (MatMul) against int8 (DynamicQuantizeLinear and
MatMulInteger, what dynamic quantisation runs). CPUs with an int8 dot product instruction (VNNI)
run the int8 one several times faster; on others the two can be even.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SGEMM_SIZE = 2048
SGEMM_REPEATS = 5
FEED_FORWARD_SHAPE = (6144, 384, 1536)  # 32 passages of 192 tokens, hidden size, inner size


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


def onnx_matmul_rates(
    shape: tuple[int, int, int] = FEED_FORWARD_SHAPE, repeats: int = SGEMM_REPEATS
) -> dict[str, float]:
    """Best GFLOP/s (fp32) and GOP/s (int8) of one m×k×n matrix product in ONNX Runtime, at its
    default thread count."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    m, k, n = shape
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((k, n)).astype(np.float32)
    int8_weights = np.clip(np.round(weights / np.abs(weights).max() * 127), -127, 127)
    graphs = {
        "fp32": ([helper.make_node("MatMul", ["x", "w"], ["y"])], weights),
        "int8": (
            [
                helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "scale", "zero"]),
                helper.make_node("MatMulInteger", ["xq", "w", "zero"], ["product"]),
                helper.make_node("Cast", ["product"], ["y"], to=TensorProto.FLOAT),
            ],
            int8_weights.astype(np.int8),
        ),
    }
    x = rng.standard_normal((m, k)).astype(np.float32)
    found = {}
    for name, (nodes, w) in graphs.items():
        graph = helper.make_graph(
            nodes,
            name,
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
            [numpy_helper.from_array(w, "w")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        seconds = _best(lambda session=session: session.run(None, {"x": x}), repeats)
        found[name] = 2.0 * m * k * n / seconds / 1e9
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
