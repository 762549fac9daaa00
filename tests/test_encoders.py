"""The ONNX exports encode as the model does (real model, both runtimes).

Questions are encoded by the float32 ONNX export (with ONNX Runtime's fused attention), which
must give sentence-transformers' vectors to cosine >= 0.999; passages and their sentence vectors
too, in padded batches. The int8 export, an ingestion option, stays close.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.encoder import OnnxEncoder, SentenceTransformerEncoder, passage_encoder, query_encoder
from index.model import ModelInfo
from index.records import Chunk
from pipeline.ingestion import passages_of
from riverbed.settings import Settings
from tests.conftest import QUESTION, ROOT

pytestmark = pytest.mark.slow  # every encoder over hundreds of texts

DATA = ROOT / "tests" / "data"
ODD_QUESTIONS = [
    QUESTION,
    "?",
    "!!!",
    "a",
    "NATO NATO NATO NATO",
    "¿Qué pidió Zelensky a la OTAN?",
    "Зеленский попросил НАТО закрыть небо",
    "泽连斯基向北约提出了什么要求",
    "def f(x): return x ** 2",
    "what " * 300,  # longer than the model's window: truncated alike
]


@pytest.fixture(scope="module")
def info() -> ModelInfo:
    return ModelInfo.from_setting(Settings().model)


@pytest.fixture(scope="module")
def reference(info: ModelInfo) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(info)


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    """The eval documents' distinct passages, chunked as ingest chunks them."""
    return passages_of([DATA / "squad2-dev-5articles.docs.jsonl"], Settings())


def cosines(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return (first * second).sum(axis=1)


def test_question_vectors_are_the_models(
    info: ModelInfo, reference: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    with (DATA / "squad2-dev-5articles.questions.jsonl").open() as lines:
        asked = [json.loads(line)["question"] for line in lines] + ODD_QUESTIONS
    encoder = query_encoder(info, "auto", Settings().cache_dir)
    assert isinstance(encoder, OnnxEncoder)  # the query path does not load PyTorch
    one_by_one = np.stack([encoder.embed_queries([question])[0] for question in asked])
    found = cosines(one_by_one, reference.embed_queries(asked))
    assert found.min() >= 0.999, asked[int(found.argmin())]
    assert found.mean() >= 0.99999
    batched = cosines(encoder.embed_queries(asked), one_by_one)  # padding changes nothing
    assert batched.min() >= 0.99999


def test_passage_and_sentence_vectors_are_the_models(
    info: ModelInfo, reference: SentenceTransformerEncoder, chunks: list[Chunk]
) -> None:
    texts, spans = [c.text for c in chunks], [c.sentences for c in chunks]
    expected = reference.embed_passages(texts, spans)
    cache = Settings().cache_dir
    for backend, least, mean in (("onnx", 0.999, 0.99999), ("onnx-int8", 0.98, 0.99)):
        found = passage_encoder(info, backend, cache).embed_passages(texts, spans)
        assert found.tokens == expected.tokens
        passages = cosines(found.vectors, expected.vectors)
        sentences = np.concatenate(
            [
                cosines(mine, theirs)
                for mine, theirs in zip(
                    found.sentence_vectors, expected.sentence_vectors, strict=True
                )
            ]
        )
        for name, values in (("passages", passages), ("sentences", sentences)):
            assert values.min() >= least and values.mean() >= mean, (backend, name)
