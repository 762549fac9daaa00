"""Several `riverbed serve` processes on one Postgres: the same answers, and each sees what the
other writes. The servers run the real model (its ONNX export, see tests/server_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from riverbed.testing.postgres import create_database, drop_database
from tests.conftest import QUESTION
from tests.server_harness import AUTH, running_server


@pytest.fixture
def seeded_copy(pg_server: str, seeded_postgres: str) -> Iterator[str]:
    url = create_database(pg_server, seeded_postgres)
    yield url
    drop_database(pg_server, url)


def test_two_servers_answer_alike_and_see_each_others_writes(
    seeded_copy: str, tmp_path: Path
) -> None:
    with (
        running_server(tmp_path / "a", tmp_path / "a.log", store=seeded_copy) as first,
        running_server(tmp_path / "b", tmp_path / "b.log", store=seeded_copy) as second,
    ):
        answers = [
            httpx.get(f"{server}/search", params={"q": QUESTION, "k": 5}, timeout=60).json()
            for server in (first, second)
        ]
        assert answers[0] == answers[1] and len(answers[0]["results"]) == 5

        text = "Beavers build their lodges with underwater entrances, out of reach of wolves."
        posted = httpx.post(
            f"{first}/documents",
            json={"documents": [{"id": "notes/beavers", "text": text}]},
            headers=AUTH,
            timeout=60,
        )
        assert posted.status_code == 200 and posted.json()["added"] == 1, posted.text
        found = httpx.get(
            f"{second}/search", params={"q": "where do beavers live", "k": 1}, timeout=60
        ).json()
        assert found["results"][0]["doc_id"] == "notes/beavers"
