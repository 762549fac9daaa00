"""Ingest throughput: the whole pipeline against the encoder alone and against this machine's
matmul roofline; the cost of re-ingesting an unchanged corpus.

All on the eval documents (tests/data: five SQuAD 2.0 dev articles, ~22k tokens, 116 passages),
with the default ingest encoder and batch size, in one run:

1. The encoder is loaded once (its load time is a figure of its own). Then, in turns, ROUNDS
   times each: the encoder alone on the passages ingest makes of the corpus (cleaned and chunked
   as ingest does), and the whole pipeline (read, clean, dedupe, chunk, embed, write the
   catalog and FTS, save the vector file) into a fresh data dir, handed that loaded encoder.
   The best round of each is kept; ratio: pipeline / encoder alone (target >= 0.9).
2. The fp32 matrix-multiply peak, measured now (bench/roofline.py), as the encoder's roofline in
   tokens/s; ratio: encoder / roofline.
3. `riverbed ingest` in a fresh process into a fresh data dir, then again with nothing changed:
   wall times and their ratio (target <= 5%). The second process must not import torch (nor
   onnxruntime): it is checked, and the run fails if it does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.corpora import EVAL_DOCUMENTS, ROOT, clean_env, eval_chunks, riverbed
from bench.roofline import flops_per_token, sgemm_peak, token_weighted_length
from index.encoder import Encoder, passage_encoder
from index.encoder_choice import ingest_backend
from index.model import ModelInfo
from index.store import open_store
from pipeline.ingestion import ingest_with
from pipeline.writer import Writer
from riverbed.settings import Settings

ROUNDS = 3
HEAVY_MODULES = ("torch", "sentence_transformers", "onnxruntime")
REPORT_MODULES = (
    "import atexit, sys; atexit.register(lambda: sys.stderr.write('\\nLOADED '"
    f" + ' '.join(m for m in {HEAVY_MODULES!r} if m in sys.modules) + '\\n'))"
)


def pipeline_once(encoder: Encoder, settings: Settings, data_dir: Path) -> tuple[float, dict]:
    """Seconds and run report of ingesting the eval documents into a fresh `data_dir`."""
    settings = settings.model_copy(update={"data_dir": data_dir, "store": None})

    started = time.perf_counter()
    store = open_store(settings)
    try:

        def factory() -> Encoder:
            store.bind_model(encoder.model_id, encoder.dim)
            return encoder

        with Writer(store, settings, encoder_factory=factory).locked() as writer:
            report = ingest_with(writer, [EVAL_DOCUMENTS]).report
    finally:
        store.close()
    return time.perf_counter() - started, report.model_dump()


def cli_ingest(data_dir: Path) -> tuple[float, dict, list[str]]:
    """Wall seconds, report and heavy modules imported of `riverbed ingest` (eval documents) in
    a new process."""
    command = riverbed(data_dir, "ingest", str(EVAL_DOCUMENTS), "--json", prelude=REPORT_MODULES)
    started = time.perf_counter()
    done = subprocess.run(command, env=clean_env(), cwd=ROOT, capture_output=True, check=True)
    seconds = time.perf_counter() - started
    loaded = done.stderr.decode().rsplit("LOADED", 1)[-1].split()
    return seconds, json.loads(done.stdout), loaded


def run() -> dict[str, float | str]:
    settings = Settings(_env_file=None)
    info = ModelInfo.from_setting(settings.model)
    chunks = eval_chunks(settings)
    texts = [chunk.text for chunk in chunks]
    spans = [chunk.sentences for chunk in chunks]

    backend = ingest_backend(settings.ingest_encoder, info, settings.cache_dir)
    started = time.perf_counter()
    encoder = passage_encoder(info, backend, settings.cache_dir, settings.embed_batch_size)
    load_seconds = time.perf_counter() - started
    encoder.embed_passages(texts[:4], spans[:4])  # warm up

    encoder_seconds, pipeline_seconds = [], []
    tokens, report = 0, {}
    with tempfile.TemporaryDirectory(prefix="riverbed-bench-ingest-") as folder:
        for attempt in range(ROUNDS):
            started = time.perf_counter()
            tokens = encoder.embed_passages(texts, spans).tokens
            encoder_seconds.append(time.perf_counter() - started)
            seconds, report = pipeline_once(encoder, settings, Path(folder) / f"data-{attempt}")
            pipeline_seconds.append(seconds)
        if report["tokens_embedded"] != tokens or report["chunks"] < len(chunks):
            raise RuntimeError(f"the pipeline embedded other passages: {report}")

        peaks = sgemm_peak()
        first_dir = Path(folder) / "cli"
        first_seconds, first, _ = cli_ingest(first_dir)
        again_seconds, again, loaded = cli_ingest(first_dir)
        if again["unchanged"] != first["added"] or again["added"] or again["updated"]:
            raise RuntimeError(f"re-ingest changed something: {again}")
        if loaded:
            raise RuntimeError(f"re-ingest of an unchanged corpus imported {', '.join(loaded)}")
        shutil.rmtree(first_dir)

    encoder_rate = tokens / min(encoder_seconds)
    pipeline_rate = tokens / min(pipeline_seconds)
    lengths = [chunk.n_tokens for chunk in chunks]
    per_token = flops_per_token(info.path, token_weighted_length(lengths))
    peak = max(peaks.values())
    roofline = peak * 1e9 / per_token
    return {
        "corpus": f"eval documents: {report['added']} documents, {len(chunks)} passages",
        "encoder": f"{settings.ingest_encoder}: {backend}, batch {settings.embed_batch_size}",
        "cpus": str(os.cpu_count()),
        "tokens": tokens,
        "model_load_seconds": round(load_seconds, 2),
        "pipeline_seconds_best": round(min(pipeline_seconds), 2),
        "pipeline_tokens_per_s": round(pipeline_rate, 1),
        "pipeline_chunks_per_s": round(report["chunks"] / min(pipeline_seconds), 2),
        "encoder_seconds_best": round(min(encoder_seconds), 2),
        "encoder_tokens_per_s": round(encoder_rate, 1),
        "encoder_chunks_per_s": round(len(chunks) / min(encoder_seconds), 2),
        "ratio_pipeline_over_encoder": round(pipeline_rate / encoder_rate, 3),
        "sgemm_gflops_numpy": round(peaks["numpy"], 1),
        "sgemm_gflops_torch": round(peaks.get("torch", 0.0), 1),
        "encoder_mflops_per_token": round(per_token / 1e6, 2),
        "roofline_tokens_per_s": round(roofline, 1),
        "ratio_encoder_over_roofline": round(encoder_rate / roofline, 3),
        "cli_first_ingest_seconds": round(first_seconds, 2),
        "cli_reingest_seconds": round(again_seconds, 2),
        "ratio_reingest_over_first": round(again_seconds / first_seconds, 3),
        "reingest_imports_torch": "no",
    }
