"""One Settings object for the engine and the pipeline; every field can be set as RIVERBED_<NAME>."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RIVERBED_", extra="ignore")

    data_dir: Path = Field(Path("riverbed-data"), description="Where the catalog and vectors live.")
    store: str | None = Field(
        None, description="Store URL: unset for the embedded store, or postgresql://..."
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "riverbed",
        description="Derived artefacts shared by indexes (ONNX exports of the model).",
    )

    # The model
    model: str = Field(
        DEFAULT_MODEL, description="A sentence-transformers directory, or the packaged default."
    )
    query_encoder: Literal["auto", "onnx", "torch"] = Field(
        "auto", description="auto: ONNX Runtime when its export exists, else sentence-transformers."
    )
    ingest_encoder: Literal["torch", "onnx", "onnx-int8"] = "torch"
    embed_batch_size: int = Field(32, ge=1)

    # Chunking
    chunk_tokens: int = Field(250, ge=16, description="Target passage size in model tokens.")
    chunk_overlap_tokens: int = Field(
        32, ge=0, description="Sentences carried into the next chunk."
    )

    # Ingestion
    batch_documents: int = Field(64, ge=1, description="Documents per committed micro-batch.")
    max_document_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    near_duplicate_threshold: float = Field(0.9, gt=0.0, le=1.0)
    minhash_permutations: int = Field(128, ge=16)
    shingle_words: int = Field(5, ge=1)

    # Search
    mode: Literal["dense", "lexical", "hybrid"] = "hybrid"
    dense_weight: float = Field(0.4, ge=0.0, description="Passage cosine similarity.")
    sentence_weight: float = Field(0.1, ge=0.0, description="Best sentence's cosine similarity.")
    lexical_weight: float = Field(
        0.0, ge=0.0, description="Passage BM25 (at 0 it nominates candidates and breaks ties)."
    )
    coverage_weight: float = Field(
        0.5, ge=0.0, description="Best sentence's weighted share of the question's terms."
    )
    candidates: int = Field(40, ge=1, description="Candidates per retriever before fusion.")
    fold_overlap: float = Field(
        0.25, gt=0.0, le=1.0, description="Share of wording two passages need to be one result."
    )

    # The HTTP API (riverbed serve)
    api_key: SecretStr | None = Field(
        None, description="When set, writes need `Authorization: Bearer <key>`; reads stay open."
    )
    max_request_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest request body the server accepts."
    )

    # Scheduled runs (riverbed schedule)
    config: Path | None = Field(
        None, description="The riverbed.toml with scheduled jobs (default ./riverbed.toml)."
    )
    misfire_grace_time: int = Field(
        300, ge=1, description="Seconds a scheduled run may start late (e.g. after a suspend)."
    )

    @field_validator("data_dir", "cache_dir", mode="after")
    @classmethod
    def _expand(cls, path: Path) -> Path:
        return path.expanduser()

    @model_validator(mode="after")
    def _overlap_below_budget(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError("chunk_overlap_tokens must be smaller than chunk_tokens")
        return self
