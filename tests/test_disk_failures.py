"""A disk that fills up, turns read-only or refuses permission, and a catalog file that is damaged:
each is one line and exit status 1 from every command, never a traceback, and the index keeps
every batch committed before (it checks clean and answers).

The disk is real: a small tmpfs mounted for the test (root may mount one; elsewhere these tests
are skipped). The model is the fake encoder (riverbed/testing/encoder.py): this is about files.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CNN

RIVERBED = [sys.executable, "-m", "riverbed.testing"]
DOCUMENTS = 150


def riverbed(data_dir: Path, *args: str, user: str | None = None) -> tuple[int, str, str]:
    """Run the CLI (with the fake encoder) in a process of its own."""
    command = [*RIVERBED, "--data-dir", str(data_dir), *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


def one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


def documents_in(data_dir: Path) -> int:
    code, out, err = riverbed(data_dir, "stats", "--json")
    assert code == 0, err
    return json.loads(out)["documents"]


def assert_whole(data_dir: Path) -> None:
    code, out, err = riverbed(data_dir, "check")
    assert code == 0, out + err


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DOCUMENTS files of shuffled words from a seed article, distinct enough to land apart."""
    folder = tmp_path_factory.mktemp("corpus")
    words = CNN.read_text().split()
    chance = random.Random(19)
    for number in range(DOCUMENTS):
        text = " ".join(chance.choice(words) for _ in range(400))
        (folder / f"doc{number:03d}.txt").write_text(text)
    return folder


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs: room for part of the corpus (an empty catalog takes ~2 MB in 64 KB pages)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)])
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def remount(disk: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(disk)], check=True)


def test_a_disk_that_fills_during_an_ingest(small_disk: Path, corpus: Path) -> None:
    data_dir = small_disk / "data"
    code, _, err = riverbed(data_dir, "ingest", str(corpus))
    assert code == 1
    assert one_line_error(err) == (
        f"Error: {data_dir}/catalog.sqlite: the disk is full: free some space and run again"
    )
    assert_whole(data_dir)
    landed = documents_in(data_dir)
    assert 0 < landed < DOCUMENTS  # the batches committed before the disk filled
    code, out, err = riverbed(data_dir, "ask", "Zelensky", "-k", "1", "--json")
    assert code == 0 and json.loads(out)["results"], err
    remount(small_disk, "size=64m")  # room again: the same command finishes the work
    code, out, err = riverbed(data_dir, "ingest", str(corpus), "--json")
    assert code == 0, err
    assert json.loads(out)["unchanged"] == landed
    assert documents_in(data_dir) == DOCUMENTS
    assert_whole(data_dir)


def test_a_full_disk_at_open(small_disk: Path, corpus: Path) -> None:
    with open(small_disk / "filler", "wb") as filler, pytest.raises(OSError):
        while True:
            filler.write(b"\0" * 65536)
            filler.flush()
    code, _, err = riverbed(small_disk / "data", "ingest", str(corpus))
    assert code == 1
    assert "the disk is full: free some space and run again" in one_line_error(err)


def test_a_read_only_file_system(small_disk: Path, corpus: Path) -> None:
    data_dir = small_disk / "data"
    some = small_disk / "some"
    some.mkdir()
    for path in sorted(corpus.iterdir())[:5]:
        shutil.copy(path, some)
    assert riverbed(data_dir, "ingest", str(some))[0] == 0
    remount(small_disk, "ro")
    code, _, err = riverbed(data_dir, "ingest", str(corpus))
    assert code == 1 and "read-only" in one_line_error(err)
    code, _, err = riverbed(data_dir, "check")
    assert code == 1 and "read-only" in one_line_error(err)
    # SQLite reads a WAL catalog through a shared-memory file beside it, made on opening.
    code, _, err = riverbed(data_dir, "ask", "Zelensky")
    assert code == 1 and "read-only" in one_line_error(err)
    remount(small_disk, "rw")
    assert_whole(data_dir)
    assert documents_in(data_dir) == 5


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv")
def test_permission_denied(corpus: Path) -> None:
    """An index another user owns, written to by a user who may only read it."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to run the command as another user")
    home = Path(tempfile.mkdtemp(prefix="riverbed-permissions-"))  # pytest's tmp is root's only
    try:
        home.chmod(0o755)
        some = home / "some"
        some.mkdir()
        for path in sorted(corpus.iterdir())[:3]:
            shutil.copy(path, some)
        data_dir = home / "data"
        assert riverbed(data_dir, "ingest", str(some / "doc000.txt"))[0] == 0
        for command in (["ingest", str(some)], ["ingest", str(corpus)], ["check"]):
            code, _, err = riverbed(data_dir, *command, user="65534")
            assert code == 1, (command, err)
            assert "permission denied" in one_line_error(err)
        assert_whole(data_dir)
        assert documents_in(data_dir) == 1
    finally:
        shutil.rmtree(home)


def damage(catalog: Path, how: str) -> None:
    if how == "truncated":
        os.truncate(catalog, catalog.stat().st_size // 2)
    elif how == "garbage pages":
        with open(catalog, "r+b") as handle:
            handle.seek(3 * 4096)
            handle.write(random.Random(7).randbytes(20 * 4096))
    else:
        os.truncate(catalog, 0)


@pytest.mark.parametrize("how", ["truncated", "garbage pages", "emptied"])
def test_a_damaged_catalog_is_one_line_from_every_command(
    how: str, tmp_path: Path, corpus: Path
) -> None:
    data_dir = tmp_path / "data"
    assert riverbed(data_dir, "ingest", str(corpus))[0] == 0
    catalog = data_dir / "catalog.sqlite"
    damage(catalog, how)
    for command in (["check"], ["stats"], ["ask", "Zelensky"], ["ingest", str(corpus)], ["runs"]):
        code, _, err = riverbed(data_dir, *command)
        if command == ["runs"] and code == 0:
            continue  # the run history may lie in pages the damage missed
        line = one_line_error(err)
        assert code == 1, (command, err)
        assert line.startswith(f"Error: the catalog {catalog} is damaged"), line
        assert "restore it from a backup" in line


def test_postgres_out_of_room(pg_server: str, corpus: Path) -> None:
    """Postgres's own disk full, for real: the index's tables in a tablespace on a 2 MB tmpfs."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    from riverbed.testing.postgres import create_database, drop_database

    home = Path(tempfile.mkdtemp(prefix="riverbed-room-"))  # pytest's tmp is root's only
    home.chmod(0o755)
    room = home / "room"
    room.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(room)]).returncode:
        shutil.rmtree(home)
        pytest.skip("cannot mount a tmpfs here (needs root)")
    url = create_database(pg_server)
    try:
        os.chown(room, os.stat(conninfo_to_dict(pg_server)["host"]).st_uid, -1)
        with psycopg.connect(pg_server, autocommit=True) as connection:
            connection.execute(f"CREATE TABLESPACE room LOCATION '{room}'")
            name = conninfo_to_dict(url)["dbname"]
            connection.execute(f'ALTER DATABASE "{name}" SET default_tablespace = room')
        command = [*RIVERBED, "--store", url, "ingest", str(corpus)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 1
        line = one_line_error(done.stderr)
        assert "the database server is out of room (could not extend file" in line, line
        done = subprocess.run([*RIVERBED, "--store", url, "check"], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        drop_database(pg_server, url)
        with psycopg.connect(pg_server, autocommit=True) as connection:
            connection.execute("DROP TABLESPACE IF EXISTS room")
        subprocess.run(["umount", "-l", str(room)], check=True)
        shutil.rmtree(home)
