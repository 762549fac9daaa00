"""Input that once broke a whole run or left the index unable to answer: a file name that is not
UTF-8, JSON nested too deep to parse, NaN in metadata, UTF-16 text, an id given twice, a lone
surrogate over MCP's stdio. Each is reported in one line and the rest lands.

The model is the fake encoder (riverbed/testing/encoder.py): these tests are about what lands.
"""

from __future__ import annotations

import codecs
import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from index.api import Index
from index.store.sqlite_faiss import SqliteFaissStore
from pipeline import runner
from riverbed.cli import main
from riverbed.http.app import create_app
from riverbed.settings import Settings
from riverbed.testing import install

RIVERBED = [sys.executable, "-m", "riverbed.testing"]
GOOD = "Otters float on their backs and hold hands while they sleep."
DEEP = "1"
for _ in range(5000):
    DEEP = '{"a":' + DEEP + "}"


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch)


def cli(data_dir: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], input=stdin)
    return result.exit_code, result.output


def landed(data_dir: Path) -> dict[str, str]:
    """doc id -> source of every document in the index."""
    store = SqliteFaissStore(data_dir, create=False)
    try:
        return dict(store.sources_under(""))
    finally:
        store.close()


def test_a_file_name_that_is_not_utf8_lands_under_a_readable_name(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text(GOOD)
    bad = os.fsencode(folder) + b"/bad\xff.txt"
    with open(bad, "wb") as handle:
        handle.write(b"Herons wait in shallow water for fish.")
    code, output = cli(tmp_path / "data", "ingest", str(folder), "--json")
    assert code == 0, output
    assert json.loads(output)["added"] == 2
    sources = set(landed(tmp_path / "data").values())
    assert str((folder / "good.txt").resolve()) in sources
    assert str(folder.resolve() / "bad\\xff.txt") in sources
    # The name reads back as its file: pruning keeps it, and deleting the file prunes it.
    code, output = cli(tmp_path / "data", "ingest", str(folder), "--prune", "--json")
    assert (code, json.loads(output)["deleted"], json.loads(output)["unchanged"]) == (0, 0, 2)
    os.unlink(bad)
    code, output = cli(tmp_path / "data", "ingest", str(folder), "--prune", "--json")
    assert (code, json.loads(output)["deleted"]) == (0, 1)


def test_json_nested_too_deep_to_parse_fails_its_line_alone(tmp_path: Path) -> None:
    lines = [json.dumps({"id": "a", "text": GOOD}), '{"id": "d", "text": "x", "metadata": ' + DEEP]
    lines[1] += "}"
    lines.append(json.dumps({"id": "b", "text": "Herons wait for fish."}))
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(lines) + "\n")
    code, output = cli(tmp_path / "data", "ingest", str(records))
    assert code == 3, output
    assert f"{records}:2: malformed JSON: nested too deeply to read" in output
    assert "Traceback" not in output and "RecursionError" not in output
    code, output = cli(tmp_path / "stdin", "ingest", "-", stdin="\n".join(lines))
    assert code == 3 and "<stdin>:2: malformed JSON: nested too deeply" in output, output
    assert set(landed(tmp_path / "data")) == set(landed(tmp_path / "stdin")) == {"a", "b"}


def test_a_json_file_too_deep_to_parse_fails_alone(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text('{"id": "d", "text": "x", "metadata": ' + DEEP + "}")
    (tmp_path / "good.txt").write_text(GOOD)
    code, output = cli(tmp_path / "data", "ingest", str(tmp_path))
    assert code == 3 and "deep.json: malformed JSON: nested too deeply" in output, output
    assert len(landed(tmp_path / "data")) == 1


def test_http_answers_a_body_too_deep_to_parse_in_one_line(tmp_path: Path) -> None:
    body = '[{"id": "d", "text": "x", "metadata": ' + DEEP + "}]"
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        response = client.post(
            "/documents", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 422, response.text
    assert response.json()["message"] == "body: the body is nested too deeply to read"


def test_metadata_json_cannot_hold_never_reaches_the_catalog(tmp_path: Path) -> None:
    """NaN used to be stored as invalid JSON, and every later filtered search failed."""
    records = tmp_path / "records.jsonl"
    records.write_text(
        '{"id": "nan", "text": "Swifts sleep on the wing.", "metadata": {"k": "v", "s": NaN}}\n'
        '{"id": "inf", "text": "Moles dig.", "metadata": {"k": "v", "s": -Infinity}}\n'
        + json.dumps({"id": "ok", "text": GOOD, "metadata": {"k": "v"}})
        + "\n"
    )
    code, output = cli(tmp_path / "data", "ingest", str(records))
    assert code == 3, output
    assert "metadata.s is NaN, which JSON cannot hold" in output
    assert "metadata.s is -Infinity, which JSON cannot hold" in output
    with Index.open(tmp_path / "data") as index:
        found = index.search("otters sleep", filters={"metadata": {"k": "v"}}, min_relevance=0)
        assert [passage.doc_id for passage in found] == ["ok"]


def test_a_question_or_filter_with_a_lone_surrogate_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    cli(tmp_path / "data", "ingest", "-", stdin=json.dumps({"id": "ok", "text": GOOD}))
    code, output = cli(tmp_path / "data", "ask", "otters \ud800")
    assert (code, output.strip()) == (
        1,
        "Error: the question holds a lone surrogate (U+D800 at character 7), which is not"
        " Unicode text",
    )
    code, output = cli(tmp_path / "data", "ask", "otters", "--doc", "\udcff")
    assert code in (1, 2) and len(output.strip().splitlines()) == 1, output
    assert "lone surrogate" in output


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-32-le", codecs.BOM_UTF32_LE),
        ("utf-16-le", b""),  # no BOM: every other byte is zero
        ("utf-16-be", b""),
    ],
)
def test_utf16_and_utf32_text_is_read(tmp_path: Path, encoding: str, bom: bytes) -> None:
    text = "Größe matters to otters: they float, and hold hands while they sleep."
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "plain.txt").write_bytes(bom + text.encode(encoding))
    notes = "# Herons\n\nHerons wait in the shallows, still as posts, for a fish to pass."
    (tmp_path / "in" / "notes.md").write_bytes(bom + notes.encode(encoding))
    record = {"id": "rec", "text": "Swifts sleep on the wing, high above the clouds, for months."}
    lines = json.dumps(record, ensure_ascii=False) + "\n"
    (tmp_path / "in" / "records.jsonl").write_bytes(bom + lines.encode(encoding))
    code, output = cli(tmp_path / "data", "ingest", str(tmp_path / "in"), "--json")
    assert code == 0, output
    assert json.loads(output)["added"] == 3
    store = SqliteFaissStore(tmp_path / "data", create=False)
    try:
        assert store.document("rec")["text"] == record["text"]
        assert store.document(str((tmp_path / "in" / "notes.md").resolve()))["title"] == "Herons"
        plain = store.document(str((tmp_path / "in" / "plain.txt").resolve()))
        assert plain["text"] == text
    finally:
        store.close()


def test_an_id_given_again_long_after_is_still_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ids met are kept as digests in sorted arrays, merged in every few ids (here 4): an id
    met before any merge, or after, is still known."""
    monkeypatch.setattr(runner, "SEEN_MERGE", 4)
    lines = [{"id": f"note-{n}", "text": f"Note {n}: herons wait for fish."} for n in range(30)]
    lines += [{"id": "note-0", "text": "again"}, {"id": "note-21", "text": "again"}]
    lines += [{"id": "note-30", "text": "Note 30, the last: otters float."}]
    stdin = "".join(json.dumps(line) + "\n" for line in lines)
    code, output = cli(tmp_path / "data", "ingest", "-", "--json", stdin=stdin)
    report = json.loads(output)
    assert code == 3, output
    assert (report["added"], report["failed"]) == (31, 2)
    assert [f["reason"].split()[2] for f in report["failures"]] == ["note-0", "note-21"]


def test_binary_files_are_still_not_text(tmp_path: Path) -> None:
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 8)
    code, output = cli(tmp_path / "data", "ingest", str(tmp_path / "blob.txt"))
    assert code == 3 and "binary file, not text" in output, output


def test_an_id_given_twice_in_one_input_is_reported_and_the_first_kept(tmp_path: Path) -> None:
    lines = [
        {"id": "twice", "text": "The first copy: otters hold hands."},
        {"id": "other", "text": "Herons wait for fish."},
        {"id": "twice", "text": "The second copy: otters float."},
    ]
    stdin = "".join(json.dumps(line) + "\n" for line in lines)
    code, output = cli(tmp_path / "data", "ingest", "-", "--json", stdin=stdin)
    report = json.loads(output)
    assert code == 3, output
    assert (report["added"], report["failed"]) == (2, 1)
    assert report["failures"][0]["reason"] == (
        "the id twice came earlier in this input: the first is kept"
    )
    store = SqliteFaissStore(tmp_path / "data", create=False)
    try:
        assert store.document("twice")["text"] == lines[0]["text"]
    finally:
        store.close()


def test_mcp_over_stdio_answers_a_lone_surrogate(tmp_path: Path) -> None:
    """Its line was refused by the SDK's parser and answered with id null: the client hung."""
    server = subprocess.Popen(
        [*RIVERBED, "--data-dir", str(tmp_path), "mcp", "--allow-writes"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert server.stdin and server.stdout

    def call(message: dict[str, Any]) -> dict[str, Any] | None:
        assert server.stdin and server.stdout
        server.stdin.write(json.dumps(message).encode() + b"\n")  # "\ud800" as JSON escapes it
        server.stdin.flush()
        if "id" not in message:
            return None
        ready, _, _ = select.select([server.stdout], [], [], 60)
        assert ready, "no answer"
        return json.loads(server.stdout.readline())

    try:
        hello = {"protocolVersion": "2025-06-18", "capabilities": {}}
        hello["clientInfo"] = {"name": "test", "version": "1"}
        call({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": hello})
        call({"jsonrpc": "2.0", "method": "notifications/initialized"})
        documents = [{"id": "good", "text": GOOD}, {"id": "bad", "text": "half \ud800 a pair"}]
        arguments = {"name": "ingest", "arguments": {"documents": documents}}
        reply = call({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": arguments})
        assert reply and reply["id"] == 1, reply
        report = reply["result"]["structuredContent"]
        assert (report["added"], report["failed"]) == (1, 1)
        assert "text holds a lone surrogate" in report["failures"][0]["reason"]
        arguments = {"name": "search", "arguments": {"question": "otters \ud800"}}
        reply = call({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": arguments})
        assert reply and reply["id"] == 2 and reply["result"]["isError"], reply
        assert "\n" not in reply["result"]["content"][0]["text"]
    finally:
        server.stdin.close()
        server.wait(timeout=30)
