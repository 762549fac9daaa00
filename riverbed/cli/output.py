"""One output layer for every command: a readable form for people, `--json` for programs.

To a terminal, rich lays text out to its width, in colour. To a pipe or a file, lines are as long
as their content (a title is never split for grep or awk) and carry no trailing spaces (rich pads
table cells to their column's width).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


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


UNWRAPPED = 1_000_000  # the width of a pipe: nothing is wrapped


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else UNWRAPPED
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def show(*renderables: RenderableType, out: Console | None = None) -> None:
    """Print renderables one under the other on stdout (see the module's docstring)."""
    from rich.console import Group

    out = out or console()
    if out.is_terminal:
        out.print(Group(*renderables))
        return
    with out.capture() as captured:
        out.print(Group(*renderables))
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def marks_answers(out: Console) -> bool:
    """Whether the answer sentence needs »…« around it: where no colour can show it (a pipe,
    a file, a dumb terminal, NO_COLOR)."""
    return out.color_system is None or out.no_color


def print_table(title: str, rows: Sequence[tuple[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows:
        table.add_row(name, str(value))
    show(table)


def print_passages(question: str, passages: Sequence[Any], min_relevance: float = 0.0) -> None:
    """Rank, relevance, source, then the passage with its answer sentence marked."""
    from rich.text import Text

    from index.pages import pages_label

    out = console()
    if not passages:
        nothing = (
            f"Nothing here answers {question!r} (no passage reaches relevance {min_relevance:.2f})."
            if min_relevance > 0
            else f"No passage matches {question!r}."
        )
        show(Text(nothing), out=out)
        return
    marked = marks_answers(out)
    lines: list[RenderableType] = []
    for rank, passage in enumerate(passages, start=1):
        header = Text(f"{rank}. ", style="bold")
        # The rank is the order; relevance says how well it answers, whatever the question.
        header.append(f"relevance {passage.relevance:.2f}  ", style="cyan")
        header.append(short_source(passage.source), style="bold")
        pages = pages_label(passage.page, passage.last_page)
        if pages:
            header.append(f"  {pages}", style="bold")
        if passage.title:
            header.append(f"  {passage.title}", style="dim")
        header.append(f"  [{passage.start}:{passage.end}]", style="dim")
        lines.append(header)
        body = Text("   ")
        text, answer = passage.text, passage.answer
        if answer is None:
            body.append(text)
        else:
            body.append(text[: answer.start])
            body.append(f"»{answer.text}«" if marked else answer.text, style="bold yellow")
            body.append(text[answer.end :])
        lines.append(body)
        if passage.also_in:
            also = ", ".join(short_source(s) for s in passage.also_in)
            lines.append(Text(f"   (also in: {also})", style="dim"))
        lines.append(Text())
    show(*lines, out=out)
