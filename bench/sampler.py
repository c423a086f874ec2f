"""``python -m bench sampler``: what the database load sampler costs, in CPU seconds
of its own thread and of the server backend that answers it, per second of wall
time, while some sessions are busy (so each sample has rows to count)."""

from __future__ import annotations

import os
import threading
import time
from contextlib import suppress
from datetime import UTC, datetime

import click
import psycopg
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import text

from app.config import libpq_url
from app.extensions import db
from app.history.load import LoadSampler

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a server process (same machine), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _busy(url: str, stopping: threading.Event) -> None:
    # A session that is always active: every sample counts it.
    with psycopg.connect(url, autocommit=True) as conn:
        while not stopping.is_set():
            with suppress(psycopg.Error):
                conn.execute("SELECT pg_sleep(0.5)")


@click.command("sampler")
@click.option("--seconds", type=click.IntRange(5, 600), default=30, show_default=True)
@click.option("--sessions", type=click.IntRange(0, 50), default=8, show_default=True)
@with_appcontext
def bench_sampler(seconds: int, sessions: int) -> None:
    """CPU per wall second of the load sampler (a sample a second) and its backend."""
    server = current_app.extensions.get("stockroom.embedded")
    started = server.start() if server else False
    stopping = threading.Event()
    url = libpq_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    busy = [threading.Thread(target=_busy, args=(url, stopping)) for _ in range(sessions)]
    for thread in busy:
        thread.start()
    sampler = LoadSampler(current_app._get_current_object())
    taken = 0
    try:
        session = db.session
        backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        backend_before = backend_cpu_seconds(backend)
        own_before, wall_before = time.thread_time(), time.monotonic()
        while time.monotonic() - wall_before < seconds:
            sampler.step(session, datetime.now(UTC))
            taken += 1
            time.sleep(1 - time.time() % 1)
        wall = time.monotonic() - wall_before
        own = time.thread_time() - own_before
        server_side = backend_cpu_seconds(backend) - backend_before
        # The same connection throughout: the session's pool hands back the one it had.
        still = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.remove()
    finally:
        stopping.set()
        for thread in busy:
            thread.join(timeout=5)
        if started:
            server.stop()
    click.echo(f"samples {taken:>6}  wall {wall:.1f} s  busy sessions {sessions}")
    click.echo(f"sampler thread   {own:.3f} CPU s = {own / wall:.2%} of a core")
    click.echo(
        f"its backend      {server_side:.3f} CPU s = {server_side / wall:.2%} of a core"
        + ("" if still == backend else " (backend changed: not comparable)")
    )
    click.echo(f"together         {(own + server_side) / wall:.2%} of a core (budget 1 %)")
