"""The engine's settings: where the index is, which model, how search scores. Every field can be
set as RIVERBED_<NAME>; the pipeline's settings and the faces' extend these (one environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class IndexSettings(BaseSettings):
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

    # Search
    mode: Literal["dense", "lexical", "hybrid"] = "hybrid"
    # Meaning and words half each; each counts by the stronger of its two grains, the passage
    # and its best sentence (index/fusion.py, docs/retrieval.md).
    meaning_weight: float = Field(
        0.5, ge=0.0, description="The stronger of the passage's and its best sentence's cosine."
    )
    words_weight: float = Field(
        0.5,
        ge=0.0,
        description="The stronger of the passage's BM25 share and its best sentence's coverage.",
    )
    # Measured between answerable and unanswerable questions: docs/retrieval.md.
    min_relevance: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Results less relevant than this are left out: nothing here answers.",
    )
    candidates: int = Field(40, ge=1, description="Candidates per retriever before fusion.")
    fold_overlap: float = Field(
        0.25, gt=0.0, le=1.0, description="Share of wording two passages need to be one result."
    )

    @field_validator("data_dir", "cache_dir", mode="after")
    @classmethod
    def _expand(cls, path: Path) -> Path:
        return path.expanduser()
