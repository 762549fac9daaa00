"""`riverbed schedule`: run ingest jobs on a schedule (or each once, for cron and systemd timers)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from riverbed.cli.common import EXIT_SOME_FAILED, friendly_errors, settings_from, stop_on_signals

if TYPE_CHECKING:
    from pipeline.schedule import Job

DEFAULT_CONFIG = Path("riverbed.toml")


class UsageProblem(click.ClickException):
    """A bad option or config: one line, exit 2."""

    exit_code = 2


class _StderrLines(logging.Handler):
    """One timestamped line per record on the current stderr (looked up at each line)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def _log_runs_to_stderr() -> None:
    """Run lines (INFO) and APScheduler's warnings (skipped or missed runs) on stderr."""
    for name, level in (("riverbed.schedule", logging.INFO), ("apscheduler", logging.WARNING)):
        logger = logging.getLogger(name)
        if not any(isinstance(handler, _StderrLines) for handler in logger.handlers):
            handler = _StderrLines()
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


@click.command()
@click.argument("paths", nargs=-1)
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="riverbed.toml with [jobs.NAME] tables [env RIVERBED_CONFIG; default ./riverbed.toml"
    " when no PATH is given].",
)
@click.option("--every", metavar="DURATION", help="Run PATHs every 30s, 15m, 2h, 1d, …")
@click.option("--cron", metavar="EXPR", help='Run PATHs at crontab times, e.g. "*/5 * * * *".')
@click.option("--include", multiple=True, help="Only files matching this glob (repeatable).")
@click.option("--exclude", multiple=True, help="Skip files matching this glob (repeatable).")
@click.option("--prune", is_flag=True, help="Remove documents whose files are gone.")
@click.option("--once", is_flag=True, help="Run every job once and exit (for cron, timers).")
@click.pass_context
@friendly_errors
def schedule(
    ctx: click.Context,
    paths: tuple[str, ...],
    config: Path | None,
    every: str | None,
    cron: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    prune: bool,
    once: bool,
) -> None:
    """Ingest PATHs (and the jobs of a riverbed.toml) on a schedule, until SIGINT/SIGTERM.

    This process is the one writer of the data dir while it runs; a second one is refused.
    Runs never overlap, missed runs coalesce into one, a failed run is recorded and the next
    one tries again. With --once: exit 0 if every run was ok, 3 if some documents failed,
    1 if a run failed.

    \b
    Example:
      riverbed schedule --every 15m docs/ --exclude 'drafts/*'
      riverbed schedule --cron "*/5 * * * *" feeds/
      riverbed schedule --config /etc/riverbed.toml --once
    """
    from pipeline.schedule import ConfigError, run_forever, run_once

    settings = settings_from(ctx)
    try:
        jobs = gather_jobs(paths, config or settings.config, every, cron, include, exclude, prune)
        if not once:
            for job in jobs:
                job.trigger()  # every job needs a schedule unless it runs once
    except ConfigError as err:
        raise UsageProblem(str(err)) from err

    _log_runs_to_stderr()
    if not once:
        run_forever(jobs, settings)
        return
    outcomes = run_once(jobs, settings, stop_on_signals())
    statuses = {outcome.status for outcome in outcomes}
    if "failed" in statuses:
        ctx.exit(1)
    if "partial" in statuses:
        ctx.exit(EXIT_SOME_FAILED)


def gather_jobs(
    paths: tuple[str, ...],
    config: Path | None,
    every: str | None,
    cron: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    prune: bool,
) -> list[Job]:
    """The config file's jobs (./riverbed.toml by default when no PATH is given), then a job
    named "cli" for the PATHs and their options."""
    from pipeline.schedule import ConfigError, load_jobs, make_job

    if not paths and (every or cron or include or exclude or prune):
        raise ConfigError("--every, --cron, --include, --exclude and --prune go with PATHs")
    if config is None and not paths:
        if not DEFAULT_CONFIG.is_file():
            raise ConfigError(
                f"nothing to schedule: give PATHs, or jobs in ./{DEFAULT_CONFIG} (--config FILE)"
            )
        config = DEFAULT_CONFIG
    jobs = load_jobs(config) if config is not None else []
    if paths:
        absolute = [Path(path).absolute() for path in paths]
        options = {"include": list(include), "exclude": list(exclude), "prune": prune}
        jobs.append(make_job(name="cli", paths=absolute, every=every, cron=cron, **options))
    if not jobs:
        raise ConfigError(f"nothing to schedule: {config} has no [jobs.NAME] tables")
    if len({job.name for job in jobs}) < len(jobs):
        raise ConfigError(f"{config} has a job named 'cli', the name of the PATHs' job")
    return jobs
