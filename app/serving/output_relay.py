"""Child processes' output passed through to this process's stdout, line by line,
so that ``flask serve`` can tell when start-up has gone quiet and print its banner
after the last boot line rather than in the middle of them."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, TextIO


class OutputRelay:
    """Copies each stream given to :meth:`follow` to ``out`` (stdout by default),
    one thread per stream, and remembers when a line last came and which streams
    have written anything yet."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._lock = threading.Lock()
        self._last_line = time.monotonic()
        self._spoken: set[str] = set()
        self._threads: list[threading.Thread] = []

    def follow(self, name: str, stream: IO[bytes] | None) -> None:
        """Relay ``stream`` (a child's stdout pipe) until it closes."""
        if stream is None:
            return
        thread = threading.Thread(
            target=self._copy, args=(name, stream), name=f"relay-{name}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def _copy(self, name: str, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace")
                with self._lock:
                    self.out.write(line)
                    self.out.flush()
                    self._last_line = time.monotonic()
                    self._spoken.add(name)

    def has_spoken(self, name: str) -> bool:
        """Whether the stream called ``name`` wrote a line yet."""
        with self._lock:
            return name in self._spoken

    def write(self, text: str) -> None:
        """Write ``text`` to ``out`` whole, never between two relayed lines' halves."""
        with self._lock:
            self.out.write(text)
            self.out.flush()

    def wait_quiet(
        self,
        quiet: float,
        timeout: float,
        *,
        until: tuple[str, ...] = (),
    ) -> bool:
        """Block until every stream in ``until`` has spoken and no line came for
        ``quiet`` seconds; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                silent_for = time.monotonic() - self._last_line
                spoken = all(name in self._spoken for name in until)
            if spoken and silent_for >= quiet:
                return True
            time.sleep(0.05)
        return False

    def join(self, timeout: float = 5) -> None:
        """Wait (bounded) for the streams to close, once their processes have ended."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
