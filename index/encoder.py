"""The encoders: turning text into vectors with the model (model.py says which model it is).

Vectors mean nothing without the model that made them, so the encoder lives beside the index, and
the catalog records the encoder's `model_id`.

Two backends produce the same vectors: sentence-transformers (PyTorch; the reference, used for
ingestion) and ONNX Runtime (an export of the same weights; starts in a fraction of the time, used
for queries). Both also return one vector per sentence of a passage, pooled from the passage's own
token embeddings in the same forward pass: that is how a result's answer sentence is found without
encoding anything at query time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index.model import ModelInfo, load_tokenizer
from index.onnx_export import ensure_onnx, ensure_optimized, onnx_path
from index.records import Span


@dataclass
class EmbeddedPassages:
    vectors: np.ndarray  # (n, dim) float32, unit length
    sentence_vectors: list[np.ndarray]  # per passage: (n_sentences, dim) float32, unit length
    tokens: int  # tokens run through the model


class Encoder(Protocol):
    model_id: str
    dim: int

    def embed_passages(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[Span]]
    ) -> EmbeddedPassages: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def pool_spans(
    token_vectors: np.ndarray, offsets: Sequence[Span], spans: Sequence[Span]
) -> np.ndarray:
    """Mean of the token vectors that fall inside each character span, normalised.

    `offsets` are the tokens' character offsets (special tokens have (0, 0) and are ignored).
    A span that no token reaches (past truncation) falls back to the whole passage's mean.
    """
    starts = np.fromiter((s for s, _ in offsets), dtype=np.int64, count=len(offsets))
    ends = np.fromiter((e for _, e in offsets), dtype=np.int64, count=len(offsets))
    real = ends > starts
    fallback = token_vectors[real].mean(axis=0) if real.any() else token_vectors.mean(axis=0)
    pooled = np.empty((len(spans), token_vectors.shape[1]), dtype=np.float32)
    for row, (span_start, span_end) in enumerate(spans):
        inside = real & (starts < span_end) & (ends > span_start)
        pooled[row] = token_vectors[inside].mean(axis=0) if inside.any() else fallback
    return normalize_rows(pooled)


class SentenceTransformerEncoder:
    """The reference encoder: sentence-transformers on PyTorch."""

    def __init__(self, info: ModelInfo, batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_id = info.model_id
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(info.path), device="cpu")
        self.dim = int(self.model.get_embedding_dimension())
        self.max_tokens = int(self.model.max_seq_length)

    def embed_passages(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[Span]]
    ) -> EmbeddedPassages:
        if not texts:
            return EmbeddedPassages(np.zeros((0, self.dim), np.float32), [], 0)
        outputs = self.model.encode(
            list(texts), output_value=None, batch_size=self.batch_size, convert_to_numpy=True
        )
        encoded = self.model.tokenizer(
            list(texts), return_offsets_mapping=True, truncation=True, max_length=self.max_tokens
        )
        vectors = np.stack([out["sentence_embedding"].float().numpy() for out in outputs])
        sentence_vectors, tokens = [], 0
        for out, offsets, spans in zip(
            outputs, encoded["offset_mapping"], sentence_spans, strict=True
        ):
            token_vectors = out["token_embeddings"].float().numpy()[: len(offsets)]
            tokens += len(offsets)
            sentence_vectors.append(pool_spans(token_vectors, offsets, spans))
        return EmbeddedPassages(normalize_rows(vectors), sentence_vectors, tokens)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True)
        return normalize_rows(np.asarray(vectors))


class OnnxEncoder:
    """The same model exported to ONNX, run by ONNX Runtime: no PyTorch import, fast to start."""

    def __init__(
        self, info: ModelInfo, onnx_path: Path, batch_size: int = 32, threads: int | None = None
    ) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.log_severity_level = 3
        try:
            onnx_path = ensure_optimized(onnx_path, info)
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        except OSError:
            pass  # a read-only cache: optimise the graph at every start instead
        self.session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.model_id = info.model_id
        self.max_tokens = info.max_tokens
        self.batch_size = batch_size
        self.tokenizer = load_tokenizer(info.path)
        self.tokenizer.enable_truncation(self.max_tokens)
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def _hidden_states(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list]:
        encodings = self.tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self.session.run(["last_hidden_state"], feeds)
        return hidden, mask, encodings

    def _batches(self, texts: Sequence[str]) -> list[tuple[int, list[int]]]:
        # Sort by length so each batch pads little, as sentence-transformers does.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        return [
            (start, order[start : start + self.batch_size])
            for start in range(0, len(order), self.batch_size)
        ]

    def embed_passages(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[Span]]
    ) -> EmbeddedPassages:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        sentence_vectors: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        tokens = 0
        for _, rows in self._batches(texts):
            hidden, mask, encodings = self._hidden_states([texts[i] for i in rows])
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
            for position, row in enumerate(rows):
                vectors[row] = pooled[position]
                length = len(encodings[position].ids)
                tokens += length
                sentence_vectors[row] = pool_spans(
                    hidden[position, :length], encodings[position].offsets, sentence_spans[row]
                )
        return EmbeddedPassages(normalize_rows(vectors), sentence_vectors, tokens)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for _, rows in self._batches(texts):
            hidden, mask, _ = self._hidden_states([texts[i] for i in rows])
            weights = mask[..., None].astype(np.float32)
            vectors[rows] = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        return normalize_rows(vectors)


def passage_encoder(
    info: ModelInfo, backend: str, cache_dir: Path, batch_size: int = 32
) -> Encoder:
    """The encoder for ingestion: sentence-transformers, or its ONNX export (fp32 or int8).

    Loading a model takes seconds: the query path's derived files (the word-frequency table,
    the fp32 ONNX export and its optimised graph) are made now, if missing, rather than by the
    first question."""
    from index.word_frequency import ensure_table

    ensure_table()
    if backend == "torch":
        encoder = SentenceTransformerEncoder(info, batch_size)
        # PyTorch is loaded now anyway: leave queries a fast path.
        ensure_optimized(ensure_onnx(info, cache_dir), info)
        return encoder
    return OnnxEncoder(
        info, ensure_onnx(info, cache_dir, quantized=backend == "onnx-int8"), batch_size
    )


def query_encoder(info: ModelInfo, backend: str, cache_dir: Path) -> Encoder:
    """The encoder for questions: ONNX Runtime when the export exists (or is asked for).

    One thread per question: a question is a few tokens, too little to split, and a search
    runs its lexical side on another core meanwhile (concurrent searches bring their own)."""
    exported = onnx_path(cache_dir, info)
    if backend == "onnx" or (backend == "auto" and exported.is_file()):
        return OnnxEncoder(info, ensure_onnx(info, cache_dir), threads=1)
    if backend == "auto":
        try:
            return OnnxEncoder(info, ensure_onnx(info, cache_dir), threads=1)
        except (ImportError, OSError, RuntimeError):
            pass  # no exporter here: the reference encoder still works
    return SentenceTransformerEncoder(info)
