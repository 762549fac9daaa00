"""Which passage encoder ingests when `ingest_encoder` is `auto` (the default), and why.

- ONNX Runtime fp32 runs the model's own weights and gives the same vectors as PyTorch
  (sentence-transformers; cosine 1.0000 on every passage of the eval set), and it was the faster
  of the two on each CPU measured: 1.12x torch on a Zen 2 with AVX2 only, 1.83x on an AVX-512
  VNNI machine (`python -m bench encoders`). So it replaces torch wherever it can run.
- int8 (dynamic quantisation, index/onnx_export.py) is faster again only where the CPU has an
  int8 dot-product instruction, which ONNX Runtime's int8 kernels are built on: x86's VNNI
  (AVX-512 VNNI, AVX-VNNI, AMX) or ARM's dot product (asimddp). Elsewhere it gains almost
  nothing (1.06x fp32 on that Zen 2). Its vectors are close to fp32's but not the same, so on
  such a CPU it is chosen only when a quality check also holds: on the probe passages below,
  every int8 vector within cosine MIN_COSINE of fp32's (mean MEAN_COSINE), and every probe
  question finding the same best passage under both. The verdict is kept beside the export,
  per model and CPU, so the check runs once.
- torch only when ONNX Runtime cannot be used (no export can be made here).
"""

from __future__ import annotations

import contextlib
import json
import platform
from pathlib import Path

import numpy as np

from index.model import ModelInfo
from index.onnx_export import ensure_onnx, onnx_path
from index.records import Span

MIN_COSINE = 0.98
MEAN_COSINE = 0.99
INT8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})

# Varied passages (news, science, code, numbers, names, other languages) and one question
# for each of the first ones, whose best passage must not change.
PROBES = [
    "The river rose two metres overnight and the roads near the old stone bridge were closed.",
    "Photosynthesis turns light, water and carbon dioxide into glucose and oxygen in the leaf.",
    "def merge(a, b):\n    return sorted(a + b)  # stable, O(n log n)",
    "The invoice of 14 March 2024 lists 3 items for a total of 1,249.50 euros, VAT included.",
    "Zelensky asked NATO to close the sky over Ukraine with a no-fly zone.",
    "Beavers build dams of branches and mud, turning streams into ponds safe from wolves.",
    "Le conseil municipal a voté le budget de la ville mardi soir, après trois heures de débat.",
    "The central bank raised its key interest rate by a quarter point to slow inflation.",
    "Marie Curie won Nobel prizes in both physics and chemistry, the first person to do so.",
    "Unplug the router, wait thirty seconds, plug it back in and wait for the green light.",
    "东京是日本的首都，也是世界上人口最多的城市之一。",
    "A quick brown fox jumps over the lazy dog; the dog does not seem to mind at all.",
]
QUESTIONS = [
    "how high did the river rise",
    "what do plants make from sunlight",
    "how do I merge two sorted lists in python",
    "what was the invoice total",
    "what did Zelensky ask of NATO",
    "what do beavers build",
]


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (none known elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def has_int8_dot_product(flags: frozenset[str] | None = None) -> bool:
    return bool(INT8_FLAGS & (cpu_flags() if flags is None else flags))


def ingest_backend(setting: str, info: ModelInfo, cache_dir: Path) -> str:
    """The backend for `ingest_encoder = setting`: itself, unless it is `auto`."""
    if setting != "auto":
        return setting
    try:
        ensure_onnx(info, cache_dir)
    except (ImportError, OSError, RuntimeError):
        return "torch"  # no export here: the reference encoder still works
    if not has_int8_dot_product():
        return "onnx"
    return "onnx-int8" if int8_holds(info, cache_dir)["holds"] else "onnx"


def int8_holds(info: ModelInfo, cache_dir: Path) -> dict[str, object]:
    """The int8 quality check's verdict for this model on this CPU (run once, then kept)."""
    cpu = f"{platform.machine()} {' '.join(sorted(INT8_FLAGS & cpu_flags()))}"
    kept = onnx_path(cache_dir, info).parent / "int8-check.json"
    try:
        verdict = json.loads(kept.read_text())
        if verdict.get("cpu") == cpu and verdict.get("model") == info.model_id:
            return verdict
    except (OSError, ValueError):
        pass
    verdict = {"cpu": cpu, "model": info.model_id, **compare_int8(info, cache_dir)}
    with contextlib.suppress(OSError):  # a read-only cache: check again next time
        kept.write_text(json.dumps(verdict, indent=2) + "\n")
    return verdict


def compare_int8(info: ModelInfo, cache_dir: Path) -> dict[str, object]:
    """int8 against fp32 on the probes: cosines of the passage vectors, best passage per
    question (questions encoded by the fp32 export, as searches are)."""
    from index.encoder import OnnxEncoder

    spans: list[list[Span]] = [[(0, len(text))] for text in PROBES]
    fp32 = OnnxEncoder(info, ensure_onnx(info, cache_dir))
    int8 = OnnxEncoder(info, ensure_onnx(info, cache_dir, quantized=True))
    exact = fp32.embed_passages(PROBES, spans).vectors
    quantized = int8.embed_passages(PROBES, spans).vectors
    cosines = np.sum(exact * quantized, axis=1)
    questions = fp32.embed_queries(QUESTIONS)
    same_best = bool(
        np.array_equal((questions @ exact.T).argmax(1), (questions @ quantized.T).argmax(1))
    )
    holds = bool(cosines.min() >= MIN_COSINE and cosines.mean() >= MEAN_COSINE and same_best)
    return {
        "holds": holds,
        "min_cosine": round(float(cosines.min()), 4),
        "mean_cosine": round(float(cosines.mean()), 4),
        "same_best_passages": same_best,
    }
