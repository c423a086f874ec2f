"""A shop's primary and its synchronous standby in a directory of their own, and the
crash that takes the primary's machine down (tests/system/test_failover.py,
test_sync_fallback.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from shop import Shop

from app.devdb.embedded import EmbeddedPostgres
from app.devdb.failover import multi_host_url
from app.devdb.replica import LocalReplica


def kill_machine(server: EmbeddedPostgres) -> float:
    """SIGKILL the postmaster and every process it started, as when its machine
    dies (nothing shuts down, nothing is flushed); when it happened."""
    postmaster = int((server.pgdata / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
            children.append(int(entry))
    for pid in (postmaster, *children):
        with contextlib.suppress(ProcessLookupError):  # ended meanwhile
            os.kill(pid, signal.SIGKILL)
    return time.monotonic()


class Pair:
    """A shop's primary and its synchronous standby (``if_standby_down``: what
    commits do while it is away)."""

    def __init__(self, root: Path, database: str, *, if_standby_down: str = "wait") -> None:
        self.root = root
        self.shop = Shop(root, database=database)
        self.standby = LocalReplica(self.shop.server, root / "standby")
        self.standby.start()
        self.standby.set_sync(True, if_standby_down=if_standby_down)
        # Tries the primary, then the standby; keeps whichever takes writes.
        self.url = multi_host_url(self.shop.server, self.standby.server)

    def close(self) -> None:
        """Stop both servers and delete their directory."""
        for server in (self.standby.server, self.shop.server):
            if server.is_initialized() and server.is_running():
                server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
