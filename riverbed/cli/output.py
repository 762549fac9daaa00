"""One output layer for every command: a readable form for people, `--json` for programs."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def emit_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")


def short_source(source: str) -> str:
    """A path under the working directory is shown relative to it; anything else as is."""
    try:
        path = Path(source)
        if path.is_absolute():
            return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else source
    except (ValueError, OSError):
        pass
    return source


def console(stderr: bool = False):  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_table(title: str, rows: Sequence[tuple[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows:
        table.add_row(name, str(value))
    console().print(table)


def print_passages(question: str, passages: Sequence[Any], min_relevance: float = 0.0) -> None:
    """Rank, relevance, source, then the passage with its answer sentence marked."""
    from rich.text import Text

    out = console()
    if not passages:
        out.print(
            f"Nothing here answers {question!r} (no passage reaches relevance {min_relevance:.2f})."
            if min_relevance > 0
            else f"No passage matches {question!r}."
        )
        return
    marked = not out.is_terminal  # without colour, mark the answer with »…«
    for rank, passage in enumerate(passages, start=1):
        header = Text(f"{rank}. ", style="bold")
        header.append(f"{passage.relevance:.2f}  ", style="cyan")
        header.append(short_source(passage.source), style="bold")
        if passage.title:
            header.append(f"  {passage.title}", style="dim")
        header.append(f"  [{passage.start}:{passage.end}]", style="dim")
        out.print(header)
        body = Text("   ")
        text, answer = passage.text, passage.answer
        if answer is None:
            body.append(text)
        else:
            body.append(text[: answer.start])
            body.append(f"»{answer.text}«" if marked else answer.text, style="bold yellow")
            body.append(text[answer.end :])
        out.print(body)
        if passage.also_in:
            also = ", ".join(short_source(s) for s in passage.also_in)
            out.print(Text(f"   (also in: {also})", style="dim"))
        out.print()
