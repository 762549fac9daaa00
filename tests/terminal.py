"""Run a command with stderr (and stdout, if asked) on a pseudo-terminal, as a person sees it."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
from collections.abc import Sequence
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(
    command: Sequence[str], *, cwd: Path, env: dict[str, str], stdout_too: bool = False
) -> tuple[str, str]:
    """(what went to the stdout pipe, what the terminal received) once the command has exited.

    With `stdout_too`, stdout goes to the terminal as well and the first value is empty."""
    leader, follower = pty.openpty()
    stdout = follower if stdout_too else subprocess.PIPE
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    out = process.stdout.read() if process.stdout else b""
    process.wait(timeout=60)
    os.close(leader)
    return out.decode(), seen.decode(errors="replace").replace("\r\n", "\n")


def without_escapes(text: str) -> str:
    return ANSI.sub("", text)
