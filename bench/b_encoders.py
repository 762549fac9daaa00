"""The ingest encoders side by side: PyTorch (the reference), ONNX Runtime fp32, ONNX Runtime int8
(`RIVERBED_INGEST_ENCODER=onnx-int8`, dynamic quantisation; see index/onnx_export.py).

One run, on the passages ingest makes of the eval documents (tests/data, as in b_ingest), each
backend at the default batch size:
1. Throughput of each alone on those passages, in turns (each round starting with another),
   ROUNDS times; the best round is kept.
   Ratios: int8 over PyTorch fp32 and over ONNX fp32 (target >= 1.8).
2. Agreement: cosine of each backend's passage vectors with PyTorch's (the lowest, the mean).
3. This CPU's int8 gain at its root: one matrix product of the model's feed-forward shape in
   ONNX Runtime, int8 over fp32 (bench/roofline.py); dynamic quantisation cannot beat it.
4. Quality: `evaluate()` (riverbed/evaluate) with each as the ingest encoder, dense and
   hybrid modes (questions are encoded by the same ONNX fp32 query encoder every time): hit@1
   and hit@5; int8's hit@5 within 0.005 of fp32's is the target.
5. What `ingest_encoder = auto` (the default) picks on this machine (index/encoder_choice.py:
   the CPU's int8 dot product, int8's check on the probe passages) and that pick's throughput
   over torch's, from step 1.
"""

from __future__ import annotations

import time

import numpy as np

from bench.corpora import EVAL_DOCUMENTS, EVAL_QUESTIONS, eval_chunks
from bench.roofline import onnx_matmul_rates
from index.encoder import passage_encoder
from index.encoder_choice import has_int8_dot_product, ingest_backend, int8_holds
from index.model import ModelInfo
from riverbed.evaluate import evaluate
from riverbed.settings import Settings

BACKENDS = ("torch", "onnx", "onnx-int8")
ROUNDS = 5
MODES = ("dense", "hybrid")


def run() -> dict[str, float | str]:
    settings = Settings()
    info = ModelInfo.from_setting(settings.model)
    chunks = eval_chunks(settings)
    texts = [chunk.text for chunk in chunks]
    spans = [chunk.sentences for chunk in chunks]
    encoders = {
        backend: passage_encoder(info, backend, settings.cache_dir, settings.embed_batch_size)
        for backend in BACKENDS
    }
    seconds: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
    vectors: dict[str, np.ndarray] = {}
    tokens = 0
    for encoder in encoders.values():
        encoder.embed_passages(texts[:4], spans[:4])  # warm up
    for attempt in range(ROUNDS):
        turn = BACKENDS[attempt % len(BACKENDS) :] + BACKENDS[: attempt % len(BACKENDS)]
        for backend in turn:  # a different one first each round: load drifts
            encoder = encoders[backend]
            started = time.perf_counter()
            embedded = encoder.embed_passages(texts, spans)
            seconds[backend].append(time.perf_counter() - started)
            vectors[backend], tokens = embedded.vectors, embedded.tokens
    encoders.clear()

    figures: dict[str, float | str] = {
        "corpus": f"eval documents, {len(chunks)} passages, {tokens} tokens",
        "batch_size": settings.embed_batch_size,
    }
    rates = {backend: tokens / min(times) for backend, times in seconds.items()}
    for backend, rate in rates.items():
        name = backend.replace("-", "_")
        figures[f"{name}_tokens_per_s"] = round(rate, 1)
        cosines = np.sum(vectors[backend] * vectors["torch"], axis=1)
        if backend != "torch":
            figures[f"{name}_cosine_to_torch_min"] = round(float(cosines.min()), 4)
            figures[f"{name}_cosine_to_torch_mean"] = round(float(cosines.mean()), 4)
    figures["ratio_int8_over_torch"] = round(rates["onnx-int8"] / rates["torch"], 2)
    figures["ratio_int8_over_onnx_fp32"] = round(rates["onnx-int8"] / rates["onnx"], 2)
    figures["ratio_onnx_fp32_over_torch"] = round(rates["onnx"] / rates["torch"], 2)
    chosen = ingest_backend("auto", info, settings.cache_dir)
    figures["auto_chooses"] = chosen
    figures["ratio_auto_choice_over_torch"] = round(rates[chosen] / rates["torch"], 2)
    figures["cpu_int8_dot_product"] = str(has_int8_dot_product())
    if has_int8_dot_product():
        verdict = int8_holds(info, settings.cache_dir)
        figures["int8_check_min_cosine"] = float(verdict["min_cosine"])  # type: ignore[arg-type]
        figures["int8_check_holds"] = str(verdict["holds"])
    matmul = onnx_matmul_rates()
    figures["matmul_fp32_gflops_onnxruntime"] = round(matmul["fp32"], 1)
    figures["matmul_int8_gops_onnxruntime"] = round(matmul["int8"], 1)
    figures["ratio_matmul_int8_over_fp32"] = round(matmul["int8"] / matmul["fp32"], 2)

    for backend in BACKENDS:
        chosen = settings.model_copy(update={"ingest_encoder": backend})
        report = evaluate(EVAL_DOCUMENTS, EVAL_QUESTIONS, chosen, systems=MODES)
        for scores in report.systems:
            name = f"{backend.replace('-', '_')}_{scores.system}"
            figures[f"{name}_hit_at_1"] = scores.hit_at_1
            figures[f"{name}_hit_at_5"] = scores.hit_at_5
    for mode in MODES:
        figures[f"int8_hit_at_5_delta_{mode}"] = round(
            float(figures[f"onnx_int8_{mode}_hit_at_5"]) - float(figures[f"torch_{mode}_hit_at_5"]),
            4,
        )
    return figures
