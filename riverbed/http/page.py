"""The search page of `riverbed serve`: `/` searches the index, `/runs` shows its stats and runs.

Server-rendered HTML over the same `Index` the HTTP API uses. The search box is a plain GET form,
so a search is a link and the page needs no JavaScript. Whatever the user can get wrong (no index
yet, a date that is not a date) comes back as a message on the page, never as a server error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader

from index.api import Index
from index.models import Filters, Passage
from index.store.base import StoreError
from riverbed.cli.output import short_source

K_CHOICES = (3, 5, 10, 20)
DEFAULT_K = 5
MODES = ("hybrid", "dense", "lexical")
RUNS_SHOWN = 50
STYLESHEET = Path(__file__).parent / "static" / "page.css"


def web_link(url: str | None) -> str:
    """A document's URL if it is a web address: no javascript: or data: links from documents."""
    return url if url and url.lower().startswith(("http://", "https://")) else ""


def readable_time(stamp: str | None) -> str:
    """An ISO UTC timestamp as the runs view shows it: 2024-05-01 12:00:00."""
    return str(stamp or "").replace("T", " ").removesuffix("+00:00")


router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(
    env=Environment(
        loader=PackageLoader("riverbed.http", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
templates.env.filters["when"] = readable_time
templates.env.filters["short"] = short_source
templates.env.filters["web_link"] = web_link


class Problem(ValueError):
    """Something in the form the page cannot search with; its text is shown to the user."""


@dataclass
class SearchForm:
    """The search form as the user filled it in (echoed back into the form)."""

    q: str = ""
    k: str = ""
    mode: str = ""
    source: str = ""
    after: str = ""
    before: str = ""

    @property
    def narrowed(self) -> bool:
        """Whether filters leave some documents out."""
        return bool(self.source or self.after or self.before)

    @property
    def has_filters(self) -> bool:
        return self.narrowed or bool(self.mode) or self.k not in ("", str(DEFAULT_K))

    def link(self, **changes: str) -> str:
        """This search as a page link, with some fields changed (empty fields left out)."""
        fields = {**vars(self), **changes}
        return "/?" + urlencode({name: value for name, value in fields.items() if value})


@dataclass
class Result:
    """A passage split around its answer sentence, so the template can mark the answer."""

    passage: Passage
    before: str
    answer: str
    after: str


@dataclass
class Page:
    form: SearchForm
    results: list[Result] = field(default_factory=list)
    searched: bool = False
    seconds: float = 0.0
    problem: str = ""


@router.get("/", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: str = "",
    k: str = "",
    mode: str = "",
    source: str = "",
    after: str = "",
    before: str = "",
) -> HTMLResponse:
    form = SearchForm(q=q, k=k, mode=mode, source=source, after=after, before=before)
    page, status = Page(form=form), 200
    if q.strip():
        try:
            page = run_search(request.app.state.backend.index, form)
        except StoreError as problem:  # no index yet, or one built with another model
            page.problem, status = str(problem), 409
        except ValueError as problem:  # a Problem of the form, or a filter the library refuses
            page.problem, status = str(problem), 400
    context = {
        "view": "search",
        "page": page,
        "k_choices": K_CHOICES,
        "default_k": DEFAULT_K,
        "default_mode": request.app.state.backend.settings.mode,
        "modes": MODES,
    }
    return templates.TemplateResponse(request, "search.html", context, status_code=status)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request) -> HTMLResponse:
    index: Index = request.app.state.backend.index
    problem, stats, runs = "", {}, []
    try:
        stats, runs = index.stats(), [describe_run(run) for run in index.runs(RUNS_SHOWN)]
    except StoreError as error:
        problem = str(error)
    context = {
        "view": "runs",
        "stats": stats,
        "runs": runs,
        "problem": problem,
        "runs_shown": RUNS_SHOWN,
    }
    return templates.TemplateResponse(
        request, "runs.html", context, status_code=409 if problem else 200
    )


@router.api_route("/static/page.css", methods=["GET", "HEAD"])
def stylesheet() -> FileResponse:
    return FileResponse(
        STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


# -- reading the form and searching ------------------------------------------------------------


def run_search(index: Index, form: SearchForm) -> Page:
    """Search the index as the form asks; raises Problem for a form it cannot search with."""
    k = parse_k(form.k)
    if form.mode and form.mode not in MODES:
        raise Problem(f"mode must be one of {', '.join(MODES)}")
    filters = Filters(
        sources=[full_source(form.source)] if form.source.strip() else None,
        published_after=parse_day("from", form.after, end_of_day=False),
        published_before=parse_day("to", form.before, end_of_day=True),
    )
    after, before = filters.published_after, filters.published_before
    if after and before and after > before:
        raise Problem("the 'from' date is after the 'to' date")
    started = time.perf_counter()
    passages = index.search(
        form.q.strip(),
        k=k,
        mode=form.mode or None,  # type: ignore[arg-type]
        filters=None if filters.is_empty() else filters,
    )
    seconds = time.perf_counter() - started
    results = [split_at_answer(passage) for passage in passages]
    return Page(form=form, results=results, searched=True, seconds=seconds)


def full_source(text: str) -> str:
    """A source as the index spells it: a path that exists here is made absolute, as ingest does."""
    text = text.strip()
    return str(Path(text).resolve()) if Path(text).exists() else text


def parse_k(text: str) -> int:
    if not text.strip():
        return DEFAULT_K
    try:
        k = int(text)
    except ValueError:
        raise Problem(f"'{text}' is not a number of results") from None
    if not 1 <= k <= max(K_CHOICES):
        raise Problem(f"the number of results must be between 1 and {max(K_CHOICES)}")
    return k


def parse_day(label: str, text: str, end_of_day: bool) -> datetime | None:
    """An ISO date or datetime (UTC unless it says otherwise); a bare date as a bound of a range
    covers that whole day."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day, clock.max if end_of_day else clock.min, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Problem(f"the '{label}' date '{text}' is not a date: use YYYY-MM-DD") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def split_at_answer(passage: Passage) -> Result:
    answer = passage.answer
    if answer is None or not 0 <= answer.start < answer.end <= len(passage.text):
        return Result(passage, passage.text, "", "")
    text = passage.text
    return Result(
        passage, text[: answer.start], text[answer.start : answer.end], text[answer.end :]
    )


# -- the runs view -----------------------------------------------------------------------------


def describe_run(run: dict[str, Any]) -> dict[str, Any]:
    """A stored run with its report's counts at the top level and how long it took."""
    report = run.get("report") or {}
    return {
        **run,
        "counts": {
            name: report.get(name, 0)
            for name in ("seen", "added", "updated", "unchanged", "deleted", "failed")
        },
        "failures": report.get("failures") or [],
        "duration": duration(run.get("started_at"), run.get("ended_at")),
    }


def duration(started: str | None, ended: str | None) -> str:
    if not started or not ended:
        return ""
    try:
        seconds = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):
        return ""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
