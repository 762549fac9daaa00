"""A model-based test of the stores: hypothesis draws sequences of ingests (new documents and
updates), deletes, pruned folder ingests and crashes, and after every step the index is checked
against a plain dict of what it must hold: the same documents with the same texts, `check`
clean, each document found by a dense search for its own text.

Every write runs in a forked child process. A crash is that child killed with SIGKILL, either
at a drawn line of Python (a `sys.settrace` counter: anywhere between two statements of the
write path) or after a drawn delay (anywhere, inside SQLite's C code too). After a crash the
index must hold the state before the write or after it (for a pruned ingest, also the state
after its deletes, which commit first), never anything else; the next step reopens it.

On both stores: the embedded one here, Postgres in the slow test below. The model is the fake
encoder (riverbed/testing/encoder.py): this is about what the stores keep.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from index.api import Index
from pipeline import ingest
from pipeline.writer import open_writer
from riverbed.settings import Settings
from riverbed.testing import install
from riverbed.testing.postgres import create_database, drop_database

WORDS = [
    "otter",
    "heron",
    "swift",
    "mole",
    "bee",
    "river",
    "stone",
    "reed",
    "willow",
    "moss",
    "fern",
    "pike",
    "trout",
    "eel",
    "newt",
    "frog",
    "dawn",
    "dusk",
    "rain",
    "frost",
    "mist",
    "tide",
    "bank",
    "ford",
    "weir",
    "pool",
    "bend",
    "marsh",
    "delta",
    "shoal",
    "spring",
]
IDS = [f"doc-{n}" for n in range(8)]
FILES = [f"file-{n}.txt" for n in range(4)]
LINES_AT_MOST = 120_000  # a write runs about 100k lines of Python (traced, with the fake model)
STATS = {"kill points": 0, "survived": 0, "steps": 0}

Contents = dict[str, str]  # doc id -> text


def text_of(chance: st.DataObject, doc_id: str, version: int) -> str:
    """A text no other document shares (so none is a duplicate of another)."""
    words = chance.draw(st.lists(st.sampled_from(WORDS), min_size=6, max_size=14))
    return f"{doc_id} version {version} " + " ".join(words) + "."


def run_in_child(write: Callable[[], None], kill: tuple[str, int] | None) -> bool:
    """Run `write` in a forked child; kill it as `kill` says. Whether it finished."""
    pid = os.fork()
    if pid == 0:  # the child: write, then leave at once (no cleanup of the parent's state)
        code = 0
        try:
            if kill is not None and kill[0] == "line":
                countdown = [kill[1]]

                def tracer(frame: object, event: str, arg: object) -> object:
                    if event == "line":
                        countdown[0] -= 1
                        if countdown[0] <= 0:
                            os.kill(os.getpid(), signal.SIGKILL)
                    return tracer

                sys.settrace(tracer)
            write()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    if kill is not None and kill[0] == "delay":
        time.sleep(kill[1] / 1e6)
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return False
    assert os.WEXITSTATUS(status) == 0, "the write failed"
    return True


class IndexModel(RuleBasedStateMachine):
    """The index against a dict: `self.contents` is what it must hold."""

    pg_server: str | None = None  # set for Postgres: a database of its own per example

    def __init__(self) -> None:
        super().__init__()
        self.home = Path(tempfile.mkdtemp(prefix="riverbed-model-"))
        self.folder = self.home / "folder"
        self.folder.mkdir()
        self.settings = Settings(data_dir=self.home / "data", batch_documents=1000)
        self.store_url = create_database(self.pg_server) if self.pg_server else None
        if self.store_url:
            self.settings = self.settings.model_copy(update={"store": self.store_url})
        self.contents: Contents = {}
        self.version = 0

    def teardown(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
        if self.pg_server and self.store_url:
            drop_database(self.pg_server, self.store_url)

    def file_id(self, name: str) -> str:
        return str((self.folder / name).resolve())

    def apply(self, write: Callable[[], None], outcomes: list[Contents], kill: object) -> None:
        """Run a write whose possible results are `outcomes` (before ... after, in order)."""
        finished = run_in_child(write, kill)  # type: ignore[arg-type]
        if finished:
            self.contents = outcomes[-1]
            return
        STATS["kill points"] += 1
        found = self.held()
        assert found in outcomes, (
            f"after a kill the index holds {found}, expected one of {outcomes}"
        )
        STATS["survived"] += 1
        self.contents = found

    def held(self) -> Contents:
        with Index.open(settings=self.settings, create=True) as index:
            ids = [doc_id for doc_id, _ in index.store.sources_under("")]
            return {doc_id: index.store.document(doc_id)["text"] for doc_id in ids}

    @initialize()
    def empty(self) -> None:
        self.contents = {}

    @rule(
        data=st.data(), kill=st.none() | st.tuples(st.just("line"), st.integers(1, LINES_AT_MOST))
    )
    def ingest_records(self, data: st.DataObject, kill: tuple[str, int] | None) -> None:
        """New documents and new versions of known ones, as records."""
        chosen = data.draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=4, unique=True))
        self.version += 1
        records = [{"id": i, "text": text_of(data, i, self.version)} for i in chosen]
        after = {**self.contents, **{r["id"]: r["text"] for r in records}}
        settings_ = self.settings
        self.apply(lambda: ingest(records, settings=settings_), [self.contents, after], kill)

    @rule(data=st.data(), kill=st.none() | st.tuples(st.just("delay"), st.integers(0, 400_000)))
    def ingest_records_killed_any_time(
        self, data: st.DataObject, kill: tuple[str, int] | None
    ) -> None:
        self.ingest_records(data, kill)

    @rule(
        chosen=st.lists(st.sampled_from(IDS), min_size=1, max_size=3, unique=True),
        kill=st.none() | st.tuples(st.just("line"), st.integers(1, LINES_AT_MOST)),
    )
    def delete(self, chosen: list[str], kill: tuple[str, int] | None) -> None:
        after = {k: v for k, v in self.contents.items() if k not in chosen}
        settings_ = self.settings

        def write() -> None:
            with open_writer(settings_) as writer, writer.run("delete") as run:
                run.runner.delete(chosen)

        self.apply(write, [self.contents, after], kill)

    @rule(
        data=st.data(),
        kill=st.none() | st.tuples(st.just("line"), st.integers(1, LINES_AT_MOST)),
    )
    def change_files_and_ingest_with_prune(
        self, data: st.DataObject, kill: tuple[str, int] | None
    ) -> None:
        """Write or remove files of a folder, then ingest it with --prune."""
        self.version += 1
        for name in FILES:
            action = data.draw(st.sampled_from(["keep", "write", "remove"]))
            path = self.folder / name
            if action == "write":
                path.write_text(text_of(data, name, self.version))
            elif action == "remove":
                path.unlink(missing_ok=True)
        present = {self.file_id(p.name): p.read_text() for p in self.folder.iterdir()}
        ours = {self.file_id(name) for name in FILES}
        records = {k: v for k, v in self.contents.items() if k not in ours}
        kept = {k: v for k, v in self.contents.items() if k not in ours or k in present}
        after = {**records, **present}
        folder, settings_ = self.folder, self.settings
        outcomes = [self.contents, kept, after]
        self.apply(lambda: ingest([folder], settings=settings_, prune=[folder]), outcomes, kill)

    @invariant()
    def holds_what_the_model_holds(self) -> None:
        STATS["steps"] += 1
        assert self.held() == self.contents

    @invariant()
    def checks_clean_and_finds_each_document_by_its_text(self) -> None:
        with Index.open(settings=self.settings, create=True) as index:
            assert index.check() == []
            for doc_id, text in self.contents.items():
                found = index.search(text, k=1, mode="dense", min_relevance=0)
                assert found and found[0].doc_id == doc_id, (doc_id, found)


BOUNDS = settings(
    max_examples=6,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


@pytest.fixture
def fake_model() -> None:
    patch = pytest.MonkeyPatch()
    install(patch)
    yield
    patch.undo()


def test_the_embedded_store_holds_what_the_model_holds(fake_model: None) -> None:
    STATS.update({"kill points": 0, "survived": 0, "steps": 0})
    run_state_machine_as_test(IndexModel, settings=BOUNDS)
    print(f"embedded store: {STATS}")
    assert STATS["kill points"] > 0 and STATS["survived"] == STATS["kill points"]


def test_postgres_holds_what_the_model_holds(fake_model: None, pg_server: str) -> None:
    machine = type("PostgresIndexModel", (IndexModel,), {"pg_server": pg_server})
    STATS.update({"kill points": 0, "survived": 0, "steps": 0})
    run_state_machine_as_test(machine, settings=BOUNDS)
    print(f"postgres: {STATS}")
    assert STATS["kill points"] > 0 and STATS["survived"] == STATS["kill points"]
