"""The jobs process: ``flask jobs run`` runs every registered periodic job (the
rollups' fold and windows, the history's samples, folds and pruning, the sales
rates, the rollups' audit), each once per period across all jobs processes
(app/jobs/scheduler.py). Gunicorn's workers run none, so a long job never holds up
a request or a worker's monitoring report.

It is a process of its own, with its own small pool (JOBS_POOL_SIZE connections,
counted by the pool plan), its own report row (role ``jobs``: the pool page and
/metrics show it, with the job metrics) and its share of the history. ``flask
serve`` starts and stops one beside gunicorn; a deployment runs one per instance
(a second systemd unit or container running ``flask jobs run``). Any number may
run: the claims keep every period to one run. SIGTERM or Ctrl-C stops it after
the job in hand; a process killed outright loses nothing (each job works from
queues and watermarks in the database and the next run catches up).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TextIO

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.db.pool_plan import JOBS_ROLE
from app.extensions import db
from app.history.load import LoadSampler
from app.history.recorder import Sampler
from app.jobs.scheduler import JobRunner, registered
from app.jobs.sync_fallback import SyncFallbackWatcher
from app.monitoring.reporter import Reporter
from app.paths import PROJECT_ROOT

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0


def run_jobs(app: Flask, stopping: threading.Event, interval: float = TICK_SECONDS) -> None:
    """Run ``app``'s registered jobs until ``stopping`` is set, with the process's
    monitoring reporter beside them."""
    runner = JobRunner(app, registered(app))
    reporter = load_sampler = None
    if app.config["DB_INSTRUMENTATION"]:
        reporter = Reporter(app, tick=Sampler(app).tick)
        reporter.start()
    if app.config["DB_HISTORY"]:
        load_sampler = LoadSampler(app)
        load_sampler.start()
    sync_watcher = SyncFallbackWatcher(app)
    sync_watcher.start()
    log.info("jobs process: %s", ", ".join(job.name for job in runner.jobs) or "no jobs")
    try:
        while not stopping.is_set():
            with app.app_context():
                try:
                    runner.tick(db.session)
                finally:
                    db.session.remove()
            stopping.wait(interval)
    finally:
        sync_watcher.stop()
        if load_sampler is not None:
            load_sampler.stop()
        if reporter is not None:
            reporter.stop()


@click.group("jobs")
def jobs() -> None:
    """The jobs process: periodic background work, outside the web workers."""


@jobs.command("run")
@with_appcontext
def jobs_run() -> None:
    """Run every periodic job, once per period across all jobs processes, until
    SIGTERM or Ctrl-C."""
    # The jobs process's own app: built by the same factory with the jobs role, so
    # its pool is the small one the pool plan counts (the CLI's app is left unused).
    factory = current_app.extensions["stockroom.create_app"]
    app = factory({"APP_ROLE": JOBS_ROLE})
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s [jobs] %(message)s")
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("jobs process: stopping after the job in hand (signal %s)", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    run_jobs(app, stopping)


class JobsProcess:
    """``flask jobs run`` as a child process with ``env`` (``flask serve``, the
    tests): start it, stop it in order. ``log``: a file for its output (None: this
    process's own); ``pipe``: its output on ``process.stdout`` for the caller to read."""

    def __init__(self, env: dict, *, log: Path | None = None, pipe: bool = False) -> None:
        self.env = env
        self.log_path = log
        self.pipe = pipe
        self.process: subprocess.Popen | None = None
        self._log: TextIO | None = None

    def start(self) -> JobsProcess:
        """Start it in the background."""
        if self.log_path is not None:
            self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "jobs", "run"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=subprocess.PIPE if self.pipe else self._log,
            stderr=subprocess.STDOUT if self._log or self.pipe else None,
        )
        return self

    def log(self) -> str:
        """What it wrote so far (with a log file)."""
        return self.log_path.read_text() if self.log_path else ""

    def kill(self) -> int:
        """SIGKILL: no chance to finish anything (the tests' crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        return self._closed()

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (it stops after the job in hand), killed past ``timeout``."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self._closed()

    def _closed(self) -> int:
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.process.returncode if self.process else 0

    def __enter__(self) -> JobsProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
