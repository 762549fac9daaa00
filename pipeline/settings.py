"""The pipeline's settings: the engine's, plus how documents are read, chunked, deduplicated and
embedded, and how scheduled runs behave. Every field can be set as RIVERBED_<NAME>."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from index.settings import IndexSettings


class PipelineSettings(IndexSettings):
    # Embedding
    ingest_encoder: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto",
        description="auto: ONNX fp32 (PyTorch's vectors, faster), int8 where the CPU has an int8"
        " dot product and int8's quality check holds (index/encoder_choice.py).",
    )
    embed_batch_size: int = Field(32, ge=1)

    # Chunking
    chunk_tokens: int = Field(250, ge=16, description="Target passage size in model tokens.")
    chunk_overlap_tokens: int = Field(
        32, ge=0, description="Sentences carried into the next chunk."
    )

    # Reading and deduplicating
    batch_documents: int = Field(64, ge=1, description="Documents per committed micro-batch.")
    max_document_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    near_duplicate_threshold: float = Field(0.9, gt=0.0, le=1.0)
    minhash_permutations: int = Field(128, ge=16)
    shingle_words: int = Field(5, ge=1)

    # Pages and feeds over HTTP
    http_timeout: float = Field(
        10.0, gt=0, description="Seconds to connect, and to wait for each part of a response."
    )
    http_deadline: float = Field(
        60.0, gt=0, description="Seconds one response may take in all (a body that never ends)."
    )
    http_max_redirects: int = Field(5, ge=0)
    user_agent: str = Field(
        "riverbed/0.1 (+retrieval ingest; a scheduled reader of pages and feeds)",
        description="How riverbed names itself to the servers it fetches from.",
    )

    # Scheduled runs (riverbed schedule)
    config: Path | None = Field(
        None, description="The riverbed.toml with scheduled jobs (default ./riverbed.toml)."
    )
    misfire_grace_time: int = Field(
        300, ge=1, description="Seconds a scheduled run may start late (e.g. after a suspend)."
    )

    @model_validator(mode="after")
    def _overlap_below_budget(self) -> PipelineSettings:
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError("chunk_overlap_tokens must be smaller than chunk_tokens")
        return self
