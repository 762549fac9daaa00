"""Scheduled ingestion: jobs from riverbed.toml and/or the command line, run by APScheduler.

A scheduler process is the writer of its data dir for its whole life: it takes the writer lock at
start, so a second scheduler (or an ingest) on the same data dir is refused at once with a clear
message instead of failing at every run. Its runs go one at a time (one worker thread; a job still
running when its next time comes is skipped, missed times coalesce into one run), each an ingest
recorded in the catalog's run history. A run that fails is recorded as failed with its reason and
the next one tries again. SIGINT/SIGTERM let the micro-batch in flight commit, record the run as
interrupted and stop the scheduler; a second SIGINT exits at once (the uncommitted batch is
rolled back by SQLite).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from index.model import ModelNotFound
from index.store import StoreError
from pipeline.ingestion import ingest_with
from pipeline.report import RunReport
from pipeline.settings import PipelineSettings
from pipeline.writer import Writer, open_writer

log = logging.getLogger("riverbed.schedule")

_DURATION = re.compile(r"([1-9][0-9]*)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(ValueError):
    """A bad job definition or config file; shown as one line."""


def parse_duration(text: str) -> timedelta:
    """'30s', '15m', '2h', '1d': a positive whole number and one unit, nothing else."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ConfigError(
            f"bad duration {text!r}: use a whole number and s, m, h or d (30s, 15m, 2h, 1d)"
        )
    return timedelta(seconds=int(match[1]) * _SECONDS[match[2]])


class Job(BaseModel):
    """What to ingest and when: `every` (a duration) or `cron` (five crontab fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    paths: list[Path] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list, description="Web pages, fetched each run.")
    feeds: list[str] = Field(default_factory=list, description="RSS or Atom feeds.")
    every: timedelta | None = None
    cron: str | None = None
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    prune: bool = False

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_duration(value)
        if value is None or isinstance(value, timedelta):
            return value
        raise ValueError("every is a duration such as '15m'")

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CronTrigger.from_crontab(value)
            except ValueError as err:
                raise ValueError(f"bad cron expression {value!r}: {err}") from err
        return value

    @field_validator("urls", "feeds")
    @classmethod
    def _web_addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"{value!r} is not an http(s) URL")
        return values

    @model_validator(mode="after")
    def _something_to_read(self) -> Job:
        if not (self.paths or self.urls or self.feeds):
            raise ValueError("give paths, urls or feeds to read")
        return self

    @model_validator(mode="after")
    def _one_schedule(self) -> Job:
        if self.every is not None and self.cron is not None:
            raise ValueError("give every or cron, not both")
        return self

    def inputs(self) -> list[Any]:
        """What a run of this job reads: paths, pages, then feeds."""
        from pipeline.sources.feeds import Feed

        return [*self.paths, *self.urls, *(Feed(url) for url in self.feeds)]

    def trigger(self) -> BaseTrigger:
        if self.every is not None:
            return IntervalTrigger(seconds=self.every.total_seconds())
        if self.cron is not None:
            return CronTrigger.from_crontab(self.cron)
        raise ConfigError(f"job {self.name!r} has no schedule: give it every or cron")


def make_job(**fields: Any) -> Job:
    """A Job, or a ConfigError naming the first problem in one line."""
    try:
        return Job.model_validate(fields)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        name = fields.get("name", "?")
        raise ConfigError(f"job {name!r}: {where + ': ' if where else ''}{message}") from err


def load_jobs(path: Path) -> list[Job]:
    """The `[jobs.NAME]` tables of a riverbed.toml; relative paths are relative to the file.

    ```toml
    [jobs.docs]
    paths = ["docs/", "notes/"]
    every = "15m"          # or: cron = "*/5 * * * *"
    exclude = ["drafts/*"]
    prune = true

    [jobs.news]
    feeds = ["https://example.org/news.rss"]
    urls = ["https://example.org/about.html"]
    every = "1h"
    ```
    """
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as err:
        raise ConfigError(f"no such config file: {path}") from err
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from err
    unknown = sorted(set(data) - {"jobs"})
    if unknown:
        raise ConfigError(f"{path}: unknown table or key {unknown[0]!r} (jobs go in [jobs.NAME])")
    tables = data.get("jobs", {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError(f"{path}: each job is a table [jobs.NAME]")
    jobs = []
    for name, table in tables.items():
        try:
            job = make_job(name=name, **table)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from err
        base = path.parent
        paths = [(base / p.expanduser()).absolute() for p in job.paths]
        jobs.append(job.model_copy(update={"paths": paths}))
    return jobs


@dataclass
class RunOutcome:
    job: str
    status: str  # ok, partial, failed, interrupted (as recorded in the catalog)
    report: RunReport
    error: str = ""


def summary(report: RunReport) -> str:
    counts = ("seen", "added", "updated", "unchanged", "deleted", "failed", "chunks")
    return ", ".join(f"{name} {getattr(report, name)}" for name in counts)


class JobRunner:
    """Runs jobs through one writer, one at a time, loading the model once."""

    def __init__(self, writer: Writer, stop: threading.Event) -> None:
        self.writer = writer
        self.stop = stop

    def run(self, job: Job) -> RunOutcome | None:
        """One recorded run of `job`; a failed run is logged, never raised. None once stopping."""
        if self.stop.is_set():
            return None
        inputs = job.inputs()
        log.info(
            "%s: run started (%s)",
            job.name,
            ", ".join(map(str, [*job.paths, *job.urls, *job.feeds])),
        )
        report = RunReport()
        try:
            run = ingest_with(
                self.writer,
                inputs,
                include=job.include,
                exclude=job.exclude,
                job=job.name,
                stop=self.stop,
                report=report,
                prune=[path for path in job.paths if path.is_dir()] if job.prune else (),
            )
        except (StoreError, ModelNotFound, OSError, ValueError) as err:
            error = str(err) or type(err).__name__
            log.info("%s: run failed: %s", job.name, error)
            return RunOutcome(job.name, "failed", report, error)
        except Exception as err:  # a bug: keep its traceback, keep the scheduler going
            log.exception("%s: run failed", job.name)
            return RunOutcome(job.name, "failed", report, str(err) or type(err).__name__)
        log.info("%s: run %s in %.1fs: %s", job.name, run.status, report.seconds, summary(report))
        return RunOutcome(job.name, run.status, report, run.error)


def run_once(
    jobs: Sequence[Job], settings: PipelineSettings, stop: threading.Event | None = None
) -> list[RunOutcome]:
    """Every job once, in order (for cron and systemd timers). Stops early when `stop` is set."""
    stop = stop or threading.Event()
    with open_writer(settings) as writer:
        runner = JobRunner(writer, stop)
        outcomes = [runner.run(job) for job in jobs]
    return [outcome for outcome in outcomes if outcome is not None]


def run_forever(jobs: Sequence[Job], settings: PipelineSettings) -> None:
    """Run the jobs on their schedules until SIGINT/SIGTERM.

    Interval jobs run once at start, then every interval; cron jobs wait for their first time.
    A signal is handled from the moment this is called: before the scheduler runs, it keeps it
    from starting; once it runs, it shuts it down after the run in flight.
    """
    stop = threading.Event()
    triggers = [(job, job.trigger()) for job in jobs]  # a job without a schedule fails here
    executor = ThreadPoolExecutor(max_workers=1)
    scheduler = BlockingScheduler(
        executors={"default": executor},
        job_defaults={
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": settings.misfire_grace_time,
        },
    )
    shut_down = _shutting_down(scheduler)
    _stop_on_signals(stop, shut_down)
    scheduler.add_listener(lambda _: stop.is_set() and shut_down(), EVENT_SCHEDULER_STARTED)
    with open_writer(settings) as writer:
        runner = JobRunner(writer, stop)
        for job, trigger in triggers:
            # an interval job's first run is now; None would mean "paused", so it is left out
            now = {"next_run_time": datetime.now(UTC)} if job.every is not None else {}
            scheduler.add_job(runner.run, trigger, args=(job,), id=job.name, name=job.name, **now)
        if not stop.is_set():
            log.info("scheduler started: %s", ", ".join(_describe(job) for job in jobs))
            scheduler.start()
        executor.shutdown(wait=True)  # the run in flight commits its batch and is recorded
    log.info("scheduler stopped")


def _describe(job: Job) -> str:
    return f"{job.name} every {job.every}" if job.every is not None else f"{job.name} {job.cron}"


def _shutting_down(scheduler: BlockingScheduler) -> Callable[[], None]:
    """Shut the scheduler down once, if it runs, from another thread: a signal handler may have
    interrupted the scheduler's own loop."""
    once = threading.Lock()

    def shut_down() -> None:
        if scheduler.running and once.acquire(blocking=False):
            threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}).start()

    return shut_down


def _stop_on_signals(stop: threading.Event, shut_down: Callable[[], None]) -> None:
    """First SIGINT/SIGTERM: finish the batch in flight, then shut down; a second SIGINT: exit."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handle(signum: int, _frame: object) -> None:
        if stop.is_set():
            if signum == signal.SIGINT:
                os._exit(130)
            return
        stop.set()
        log.info("stopping after the current batch…")
        shut_down()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
