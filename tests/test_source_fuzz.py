"""A fuzzer over the sources: hypothesis writes folders of files with random names (any bytes a
file name may hold) and random contents (random bytes under every supported suffix, random JSON
with lone surrogates, NaN, deep nesting and wrong types), with known good documents among them,
and ingests them through the CLI. Never a traceback; every good document lands; the index then
checks clean. The same for random JSONL lines on stdin.

The model is the fake encoder (riverbed/testing/encoder.py): this is about reading input.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.store.sqlite_faiss import SqliteFaissStore
from pipeline.sources.files import SUPPORTED_SUFFIXES
from riverbed.cli import main
from riverbed.testing import install

BOUNDS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def json_values(depth_at_most: int = 6) -> st.SearchStrategy[Any]:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text()  # lone surrogates included
        | st.sampled_from(["\ud800", "a\udfffb", "\x00"])
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=depth_at_most * 3,
    )


records = st.dictionaries(
    st.sampled_from(["id", "text", "title", "url", "published_at", "metadata", "other"]),
    json_values(),
    max_size=6,
)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def json_line(value: Any) -> bytes:
    return json.dumps(value).encode()  # NaN and "\ud800" as JSON spells them


lines = st.one_of(
    records.map(json_line),
    json_values().map(json_line),
    st.binary(max_size=200).map(lambda raw: raw.replace(b"\n", b" ").replace(b"\0", b"")),
    st.integers(900, 6000).map(lambda n: deep(n).encode()),
    st.just(b'{"id": "x", "text": "ok", "metadata": {"v": NaN}}'),
)
names = st.binary(min_size=1, max_size=40).map(
    lambda raw: raw.replace(b"/", b"_").replace(b"\0", b"_").lstrip(b".") or b"x"
)
contents = st.one_of(
    st.binary(max_size=3000),
    st.lists(lines, max_size=6).map(b"\n".join),
    json_values().map(json_line),
    st.text().map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.text().map(lambda text: text.encode("utf-16", "surrogatepass")),
)
files = st.lists(
    st.tuples(names, st.sampled_from([*SUPPORTED_SUFFIXES, ".bin", ""]), contents), max_size=8
)


def good_text(number: int, seed: int) -> str:
    return f"Good document {number} of case {seed}: otters float on their backs and hold hands."


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch)


def ingest_cli(data_dir: Path, *args: str, stdin: bytes | None = None) -> dict[str, Any]:
    """Run ingest; a traceback (any exception out of the command) fails the test."""
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(data_dir), "ingest", *args, "--json"],
        input=stdin,
        catch_exceptions=False,
    )
    assert result.exit_code in (0, 1, 3), result.output
    assert "Traceback" not in result.output
    return json.loads(result.stdout) if result.exit_code != 1 else {}


def assert_landed_and_whole(data_dir: Path, good_ids: list[str]) -> None:
    store = SqliteFaissStore(data_dir, create=False)
    try:
        held = {doc_id for doc_id, _ in store.sources_under("")}
        assert set(good_ids) <= held, set(good_ids) - held
        assert store.check() == []
    finally:
        store.close()


@BOUNDS
@given(files=files, seed=st.integers(0, 10**6))
def test_random_folders_never_break_the_run(
    files: list[tuple[bytes, str, bytes]], seed: int
) -> None:
    home = Path(tempfile.mkdtemp(prefix="riverbed-fuzz-"))
    try:
        folder = home / "in"
        (folder / "random").mkdir(parents=True)
        good_ids = []
        for number in range(2):
            path = folder / f"good-{number}.txt"
            path.write_text(good_text(number, seed))
            good_ids.append(str(path.resolve()))
        good_record = {"id": f"good-record-{seed}", "text": good_text(9, seed)}
        with open(folder / "good.jsonl", "wb") as handle:
            handle.write(json_line(good_record) + b"\n")
        good_ids.append(good_record["id"])
        for number, (name, suffix, data) in enumerate(files):
            raw = os.fsencode(folder / "random") + b"/" + name[:200] + f"-{number}{suffix}".encode()
            with open(raw, "wb") as handle:
                handle.write(data)
        report = ingest_cli(home / "data", str(folder))
        assert report["added"] >= len(good_ids), report
        assert_landed_and_whole(home / "data", good_ids)
    finally:
        shutil.rmtree(home)


@BOUNDS
@given(random_lines=st.lists(lines, max_size=12), seed=st.integers(0, 10**6))
def test_random_jsonl_on_stdin_never_breaks_the_run(random_lines: list[bytes], seed: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="riverbed-fuzz-"))
    try:
        good = [{"id": f"good-{n}-{seed}", "text": good_text(n, seed)} for n in range(2)]
        middle = len(random_lines) // 2
        stream = [json_line(good[0]), *random_lines[:middle], json_line(good[1])]
        stream += random_lines[middle:]
        report = ingest_cli(home / "data", "-", stdin=b"\n".join(stream) + b"\n")
        assert report["added"] >= 2, report
        assert_landed_and_whole(home / "data", [g["id"] for g in good])
    finally:
        shutil.rmtree(home)
