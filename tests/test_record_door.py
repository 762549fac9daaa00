"""One door for records: the same table of good and bad records, fed through every path that
takes records (a JSONL file, a .json file, stdin, Python dicts, HTTP, MCP and the Ray engine),
lands and fails the same way on each.

The model is the fake encoder of riverbed/testing/encoder.py: this is about which records become
documents, not about retrieval.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from mcp import Client

from index.store.sqlite_faiss import SqliteFaissStore
from pipeline import ingest
from pipeline.distributed import RayEngine
from riverbed.cli import main
from riverbed.http.app import create_app
from riverbed.mcp import build_server
from riverbed.settings import Settings
from riverbed.testing import install

GOOD = "Otters float on their backs and hold hands while they sleep, so they do not drift apart."


def nested(levels: int) -> dict[str, Any]:
    """Metadata `levels` objects deep."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


# (record, the reason it fails, or None when it lands)
RECORDS: list[tuple[Any, str | None]] = [
    ({"id": "otters", "text": GOOD}, None),
    ({"id": 7, "text": "Herons wait in shallow water for fish.", "lang": "en"}, None),  # extra key
    ({"id": "dated", "text": "Swifts sleep on the wing.", "published_at": "2024-05-01"}, None),
    ({"id": "linked", "text": "Moles dig in the dark.", "url": "https://example.org/moles"}, None),
    ({"id": "tagged", "text": "Bees dance directions.", "metadata": {"topic": "animals"}}, None),
    ({"id": "no-text", "body": "under the wrong key"}, "record has no text"),
    ({"id": "blank", "text": "   "}, "record has no text"),
    ({"id": "listed", "text": ["not", "a", "string"]}, "invalid record: text must be a string"),
    ({"id": True, "text": GOOD}, "invalid record: id must be a string or an integer"),
    ({"id": "when", "text": GOOD, "published_at": 5}, "published_at must be an ISO date string"),
    ({"id": "not-a-date", "text": GOOD, "published_at": "yesterday"}, "published_at"),
    ({"id": "meta", "text": GOOD, "metadata": ["a", "list"]}, "metadata must be an object"),
    (42, "record is not a JSON object"),
    # What no catalog or JSON response can hold: lone surrogates ("\ud800" in JSON), NaN and
    # Infinity, metadata too deep to serialise. Each fails alone, in one line.
    ({"id": "lone", "text": "Half a pair \ud800 of surrogates."}, "text holds a lone surrogate"),
    ({"id": "lone-title", "text": GOOD, "title": "\udfff"}, "title holds a lone surrogate"),
    ({"id": "lone-url", "text": GOOD, "url": "https://x.org/\ud83d"}, "lone surrogate (U+D83D"),
    ({"id": "lone-\ud800", "text": GOOD}, "id holds a lone surrogate"),
    ({"id": "lone-key", "text": GOOD, "metadata": {"k": ["\udc00"]}}, "k[0] holds a lone"),
    ({"id": "nan", "text": GOOD, "metadata": {"score": float("nan")}}, "metadata.score is NaN"),
    ({"id": "inf", "text": GOOD, "metadata": {"x": [float("-inf")]}}, "x[0] is -Infinity"),
    ({"id": "deep", "text": GOOD, "metadata": nested(300)}, "nested deeper than 32 levels"),
]
LANDS = {str(record["id"]) for record, reason in RECORDS if reason is None}
# Records the MCP SDK's client cannot send as they are: it refuses to serialise the 300-level
# metadata (pydantic's depth limit) and sends NaN and Infinity as null. Every other record goes
# over MCP too.
MCP_UNSENDABLE = {"deep", "nan", "inf"}


def sent_over_mcp(record: Any) -> bool:
    return not (isinstance(record, dict) and record.get("id") in MCP_UNSENDABLE)


def outcome(data_dir: Path, failures: list[dict[str, str]]) -> tuple[set[str], list[str]]:
    """The ids that landed, and the reasons of the failures in input order."""
    store = SqliteFaissStore(data_dir, create=False)
    try:
        landed = {doc_id for doc_id, _ in store.sources_under("")}
    finally:
        store.close()
    return landed, [failure["reason"] for failure in failures]


def through_jsonl_file(tmp_path: Path) -> list[dict[str, str]]:
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(record) + "\n" for record, _ in RECORDS))
    return ingest([records], settings=Settings(data_dir=tmp_path / "data")).model_dump()["failures"]


def through_json_file(tmp_path: Path) -> list[dict[str, str]]:
    records = tmp_path / "records.json"
    records.write_text(json.dumps([record for record, _ in RECORDS]))
    report = ingest([records], settings=Settings(data_dir=tmp_path / "data"))
    return report.model_dump()["failures"]


def through_stdin(tmp_path: Path) -> list[dict[str, str]]:
    lines = "".join(json.dumps(record) + "\n" for record, _ in RECORDS)
    args = ["--data-dir", str(tmp_path / "data"), "ingest", "-", "--json"]
    result = CliRunner().invoke(main, args, input=lines)
    assert result.exit_code == 3, result.output  # some documents failed, the rest landed
    return json.loads(result.stdout)["failures"]


def through_python(tmp_path: Path) -> list[dict[str, str]]:
    report = ingest(
        [record for record, _ in RECORDS], settings=Settings(data_dir=tmp_path / "data")
    )
    return report.model_dump()["failures"]


def through_http(tmp_path: Path) -> list[dict[str, str]]:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        body = json.dumps([record for record, _ in RECORDS])  # NaN and "\ud800" as JSON has them
        response = client.post(
            "/documents", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 200, response.text
    return response.json()["failures"]


def through_mcp(tmp_path: Path) -> list[dict[str, str]]:
    server = build_server(Settings(data_dir=tmp_path / "data"), allow_writes=True)
    found: dict[str, Any] = {}

    async def scenario() -> None:
        async with Client(server) as client:
            documents = [r for r, _ in RECORDS if sent_over_mcp(r)]
            result = await client.call_tool("ingest", {"documents": documents})
            assert not result.is_error, result.content
            found.update(result.structured_content)

    anyio.run(scenario)
    return found["failures"]


def through_ray(tmp_path: Path) -> list[dict[str, str]]:
    settings = Settings(data_dir=tmp_path / "data")
    report = ingest(
        [record for record, _ in RECORDS], settings=settings, engine=RayEngine(workers=1)
    )
    return report.model_dump()["failures"]


PATHS: list[Any] = [
    through_jsonl_file,
    through_json_file,
    through_stdin,
    through_python,
    through_http,
    through_mcp,
    pytest.param(through_ray, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.__name__.removeprefix("through_"))
def test_every_path_lands_and_fails_the_same_records(
    path: Callable[[Path], list[dict[str, str]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch)
    landed, reasons = outcome(tmp_path / "data", path(tmp_path))
    assert landed == LANDS
    sent = sent_over_mcp if path is through_mcp else lambda _record: True
    expected = [reason for record, reason in RECORDS if reason is not None and sent(record)]
    assert len(reasons) == len(expected), reasons
    for reason, wanted in zip(reasons, expected, strict=True):
        assert wanted in reason, (reason, wanted)
