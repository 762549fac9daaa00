"""`ingest_encoder = auto` (the default) picks the fastest encoder whose vectors are the
model's: ONNX fp32 everywhere ONNX Runtime runs, int8 only on a CPU with an int8 dot product
and only while int8's quality check holds (index/encoder_choice.py). Real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import encoder_choice
from index.encoder_choice import has_int8_dot_product, ingest_backend, int8_holds
from index.model import ModelInfo
from pipeline.settings import PipelineSettings
from riverbed.settings import Settings


@pytest.fixture(scope="module")
def info() -> ModelInfo:
    return ModelInfo.from_setting(Settings().model)


def test_auto_is_the_default_and_an_explicit_backend_is_kept(info: ModelInfo) -> None:
    assert PipelineSettings().ingest_encoder == "auto"
    for backend in ("torch", "onnx", "onnx-int8"):
        assert ingest_backend(backend, info, Settings().cache_dir) == backend


def test_int8_dot_product_instructions_are_told_from_their_absence() -> None:
    assert has_int8_dot_product(frozenset({"avx2", "avx512_vnni"}))
    assert has_int8_dot_product(frozenset({"avx2", "avx_vnni"}))
    assert has_int8_dot_product(frozenset({"fp", "asimd", "asimddp"}))  # ARM's dot product
    assert not has_int8_dot_product(frozenset({"sse4_2", "avx2", "fma"}))  # Zen 2
    assert not has_int8_dot_product(frozenset())


def test_without_an_int8_dot_product_auto_takes_onnx_fp32(
    info: ModelInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoder_choice, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert ingest_backend("auto", info, Settings().cache_dir) == "onnx"


def test_with_one_auto_takes_int8_only_while_its_check_holds(
    info: ModelInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoder_choice, "cpu_flags", lambda: frozenset({"avx512_vnni"}))
    verdict = {"holds": True}
    monkeypatch.setattr(encoder_choice, "int8_holds", lambda *_: verdict)
    assert ingest_backend("auto", info, Settings().cache_dir) == "onnx-int8"
    verdict["holds"] = False
    assert ingest_backend("auto", info, Settings().cache_dir) == "onnx"


def test_the_int8_check_on_the_real_model_holds_and_is_kept(info: ModelInfo) -> None:
    cache = Settings().cache_dir
    verdict = int8_holds(info, cache)
    assert verdict["holds"] is True and verdict["same_best_passages"] is True
    assert float(verdict["min_cosine"]) >= encoder_choice.MIN_COSINE  # type: ignore[arg-type]
    kept = Path(cache, "onnx", info.model_id.replace("/", "_").replace("@", "-"))
    assert (kept / "int8-check.json").is_file()
    assert int8_holds(info, cache) == verdict  # read back, not measured again


def test_a_failing_check_says_so(info: ModelInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder_choice, "MIN_COSINE", 0.99999)  # beyond what int8 reaches
    found = encoder_choice.compare_int8(info, Settings().cache_dir)
    assert found["holds"] is False and float(found["min_cosine"]) < 0.99999  # type: ignore[arg-type]
