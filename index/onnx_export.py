"""Export the model to ONNX (and optionally int8) once, into the cache dir, keyed by model id.

The export needs PyTorch; using it afterwards does not. It is written to a temporary file and
renamed, so a crash never leaves a half-written model behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from index.encoder import ModelInfo


def onnx_path(cache_dir: Path, info: ModelInfo, quantized: bool = False) -> Path:
    safe_id = info.model_id.replace("/", "_").replace("@", "-")
    name = "model-int8-per-channel.onnx" if quantized else "model.onnx"
    return cache_dir / "onnx" / safe_id / name


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(handle)
    return Path(name)


def export_fp32(info: ModelInfo, path: Path) -> Path:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(info.path), attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = torch.ones(2, 16, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    temporary = _atomic_target(path)
    try:
        with torch.inference_mode():
            torch.onnx.export(
                LastHiddenState(),
                (example, example, torch.zeros_like(example)),
                str(temporary),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": axes,
                    "attention_mask": axes,
                    "token_type_ids": axes,
                    "last_hidden_state": axes,
                },
                opset_version=17,
                dynamo=False,
            )
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def export_int8(fp32: Path, path: Path) -> Path:
    """Dynamic quantisation: int8 weights, activations quantised at run time. Per output channel:
    one scale per weight column keeps passage vectors at cosine ~0.99 of fp32's, where one scale
    per tensor gives ~0.94, at the same speed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    temporary = _atomic_target(path)
    try:
        # The quantiser leaves scratch files in the working directory: give it a scratch one.
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch, contextlib.chdir(scratch):
            quantize_dynamic(
                str(fp32), str(temporary), weight_type=QuantType.QInt8, per_channel=True
            )
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def optimized_path(model: Path) -> Path:
    """Where the graph-optimised copy of `model` is kept: per ONNX Runtime version, as the
    optimised graph may use that version's fused operators."""
    import onnxruntime

    return model.with_name(f"{model.stem}.ort-{onnxruntime.__version__}.onnx")


def ensure_optimized(model: Path) -> Path:
    """`model` with ONNX Runtime's graph optimisations applied and saved, made now if missing.

    Optimising the graph is most of a session's start-up (a quarter to a third of a second
    here); a saved optimised graph loads with optimisations off and computes the same vectors.
    Level "extended" is the highest whose saved graph does not depend on this CPU.
    """
    import onnxruntime

    target = optimized_path(model)
    if target.is_file():
        return target
    temporary = _atomic_target(target)
    try:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(temporary)
        options.log_severity_level = 3
        onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def ensure_onnx(info: ModelInfo, cache_dir: Path, quantized: bool = False) -> Path:
    """The ONNX export of the model, made now if it is not in the cache yet."""
    fp32 = onnx_path(cache_dir, info)
    if not fp32.is_file():
        export_fp32(info, fp32)
    if not quantized:
        return fp32
    int8 = onnx_path(cache_dir, info, quantized=True)
    if not int8.is_file():
        export_int8(fp32, int8)
    return int8
