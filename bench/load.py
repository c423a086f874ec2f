"""A small HTTP/1.1 load generator: N keep-alive connections, each sending requests
back to back for a fixed time. Asyncio, so one core drives many connections with
little overhead of its own."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """What a load run saw."""

    duration: float
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    retries: int = 0

    @property
    def rate(self) -> float:
        """Placed orders per second."""
        return self.outcomes["placed"] / self.duration

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(p) - 1] * 1000


def classify(status: int, body: bytes) -> str:
    """placed, insufficient, conflict, unavailable or error."""
    if status == 201:
        return "placed"
    if status == 409:
        kind = json.loads(body).get("type", "")
        return "insufficient" if kind.endswith("insufficient-stock") else "conflict"
    return "unavailable" if status == 503 else f"error-{status}"


async def _client(
    host, port, request_for: Callable[[], bytes], deadline: float, result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request_for())
            status = int((await reader.readline()).split()[1])
            length, retries = 0, 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                name = name.lower()
                if name == "content-length":
                    length = int(value)
                elif name == "order-retries":
                    retries = int(value)
            body = await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - started)
            result.outcomes[classify(status, body)] += 1
            result.retries += retries
    finally:
        writer.close()


def run_load(
    host: str, port: int, request_for: Callable[[], bytes], *, concurrency: int, duration: float
) -> LoadResult:
    """Keep ``concurrency`` requests in flight for ``duration`` seconds."""

    async def main() -> LoadResult:
        result = LoadResult(duration=duration)
        deadline = time.perf_counter() + duration
        started = time.perf_counter()
        await asyncio.gather(
            *(_client(host, port, request_for, deadline, result) for _ in range(concurrency))
        )
        result.duration = time.perf_counter() - started
        return result

    return asyncio.run(main())


def http_post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of one keep-alive HTTP/1.1 POST with a JSON body."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{head}\r\n"
    ).encode() + body
