"""The command line as other programs and people meet it: text through a pipe stays whole (no
wrapping, no trailing spaces), the answer sentence is marked wherever colour cannot show it, a
busy port is one line and exit 1 before anything loads, global options go before or after the
command, every printing command has --json, usage mistakes exit 2, completion works as
docs/cli.md says.

The seeds index (real model) answers the questions: the search is real, the test is about what
the command prints.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from riverbed.cli import main
from tests.conftest import QUESTION, ROOT
from tests.ingest_helpers import subprocess_env
from tests.terminal import on_a_terminal

RIVERBED = str(Path(sys.executable).with_name("riverbed"))


def riverbed(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RIVERBED, *args],
        cwd=ROOT,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def shown_on_a_terminal(*args: str, **env: str) -> str:
    """What `riverbed ARGS` writes to a pseudo-terminal (stdout and stderr), with env."""
    _, shown = on_a_terminal(
        [RIVERBED, *args], cwd=ROOT, env=subprocess_env(**env), stdout_too=True
    )
    return shown


def marked(passage: dict) -> str:
    """The passage as the text output shows it: indented, its answer sentence in »…«."""
    text, answer = passage["text"], passage["answer"]
    return f"   {text[: answer['start']]}»{answer['text']}«{text[answer['end'] :]}"


def test_text_through_a_pipe_is_not_wrapped_and_marks_the_answer(seeded_dir: Path) -> None:
    asked = ["--data-dir", str(seeded_dir), "ask", QUESTION, "-k", "3"]
    piped = riverbed(*asked)
    assert piped.returncode == 0, piped.stderr
    results = json.loads(riverbed(*asked, "--json").stdout)["results"]
    lines = piped.stdout.splitlines()
    assert all(line == line.rstrip() for line in lines)
    for rank, passage in enumerate(results, start=1):
        header = next(line for line in lines if line.startswith(f"{rank}. "))
        assert passage["title"] in header and f"[{passage['start']}:{passage['end']}]" in header
        assert marked(passage).rstrip() in piped.stdout  # the whole passage, unbroken
    assert any(len(line) > 100 for line in lines)  # long lines stay long

    stats = riverbed("--data-dir", str(seeded_dir), "stats").stdout.splitlines()
    assert stats and all(line == line.rstrip() for line in stats)


@pytest.mark.parametrize("terminal", [{"TERM": "dumb"}, {"TERM": "xterm", "NO_COLOR": "1"}])
def test_the_answer_is_marked_on_terminals_without_colour(
    seeded_dir: Path, terminal: dict[str, str]
) -> None:
    shown = shown_on_a_terminal(
        "--data-dir", str(seeded_dir), "ask", QUESTION, "-k", "1", **terminal
    )
    assert "»" in shown and "«" in shown and "no-fly zone" in shown


def test_the_answer_is_in_colour_on_a_colour_terminal(seeded_dir: Path) -> None:
    shown = shown_on_a_terminal(
        "--data-dir", str(seeded_dir), "ask", QUESTION, "-k", "1", TERM="xterm-256color"
    )
    assert "\x1b[" in shown and "»" not in shown


@pytest.mark.parametrize("command", [["serve"], ["mcp", "--http"]])
def test_a_busy_port_is_one_line_and_exit_1_before_anything_loads(
    tmp_path: Path, command: list[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data_dir = tmp_path / "never-made"
        done = riverbed("--data-dir", str(data_dir), *command, "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"Error: port {port} on 127.0.0.1 is in use: stop what listens there or pass --port"
    ]
    assert not data_dir.exists()  # the index was never opened, the model never loaded


def test_global_options_go_before_or_after_the_command(seeded_dir: Path) -> None:
    runner = CliRunner()
    after = runner.invoke(main, ["stats", "--data-dir", str(seeded_dir), "--json"])
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout)["documents"] == 2
    both = runner.invoke(
        main, ["--data-dir", "/no/such/index", "stats", "--data-dir", str(seeded_dir), "--json"]
    )
    assert both.exit_code == 0 and json.loads(both.stdout)["documents"] == 2  # after wins
    before = runner.invoke(main, ["--data-dir", str(seeded_dir), "stats", "--json"])
    assert json.loads(before.stdout)["documents"] == 2


def test_check_and_delete_print_json(seeded_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    checked = runner.invoke(main, ["--data-dir", str(seeded_dir), "check", "--json"])
    assert checked.exit_code == 0 and json.loads(checked.stdout) == {"ok": True, "problems": []}

    data_dir = tmp_path / "data"
    shutil.copytree(seeded_dir, data_dir)
    one = str(ROOT / "seeds" / "cnn-zelensky-interview.txt")
    deleted = runner.invoke(main, ["--data-dir", str(data_dir), "delete", one, "nope", "--json"])
    assert json.loads(deleted.stdout) == {"asked": 2, "deleted": 1}
    assert deleted.exit_code == 1  # one of them was not there


def test_an_empty_question_is_a_usage_mistake() -> None:
    for question in ("", "   "):
        result = CliRunner().invoke(main, ["ask", question])
        assert result.exit_code == 2
        assert "the question is empty" in result.output


def test_bash_completion_completes_commands_and_options() -> None:
    script = riverbed(_RIVERBED_COMPLETE="bash_source")
    assert "_riverbed_completion" in script.stdout
    words = riverbed(_RIVERBED_COMPLETE="bash_complete", COMP_WORDS="riverbed as", COMP_CWORD="1")
    assert "plain,ask" in words.stdout.splitlines()
    options = riverbed(
        _RIVERBED_COMPLETE="bash_complete", COMP_WORDS="riverbed ask --da", COMP_CWORD="2"
    )
    assert "plain,--data-dir" in options.stdout.splitlines()
