"""The load generator: keep-alive HTTP/1.1 connections posting batches, in a process of its own.

Bodies are made before the clock starts, from a few templates whose event ids get a fresh
fixed-width token per request, so every event sent is new to the server.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from dataclasses import asdict, dataclass

from . import workload


@dataclass(frozen=True)
class Load:
    """What to send: ``size``-event batches over ``connections`` connections for ``duration`` s."""

    port: int
    size: int
    connections: int
    duration: float
    #: Prefix of this load's event ids; unique per load against one database.
    prefix: str
    path: str = "/api/ingest"


@dataclass
class Result:
    """What came back within the measured window (and ``answered_204`` also after it)."""

    requests: int
    seconds: float
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float
    answered_204: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def run(load: Load) -> Result:
    """Run ``load`` from a separate process and return what it measured."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(load, sender), daemon=True)
    process.start()
    sender.close()
    try:
        result = receiver.recv()
    except EOFError:
        raise RuntimeError("the load generator died") from None
    finally:
        process.join()
    if isinstance(result, BaseException):
        raise result
    return Result(**result)


def _child(load: Load, sender) -> None:
    try:
        sender.send(asdict(asyncio.run(_generate(load))))
    except BaseException as exc:  # reported to the parent, which raises it
        sender.send(RuntimeError(f"load generator failed: {exc!r}"))
    finally:
        sender.close()


def _request(load: Load, body: bytes) -> bytes:
    head = (
        f"POST {load.path} HTTP/1.1\r\nHost: 127.0.0.1:{load.port}\r\n"
        f"Content-Type: application/json\r\nOrigin: {workload.ORIGIN}\r\n"
        f"User-Agent: {workload.USER_AGENT}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _generate(load: Load) -> Result:
    templates = [_request(load, body) for body in workload.templates(load.size)]
    counter = itertools.count()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    answered = 0
    start = time.perf_counter()
    deadline = start + load.duration

    async def connection() -> None:
        nonlocal answered
        reader, writer = await asyncio.open_connection("127.0.0.1", load.port)
        try:
            while time.perf_counter() < deadline:
                n = next(counter)
                sent = time.perf_counter()
                writer.write(workload.fill(templates[n % workload.TEMPLATES], load.prefix, n))
                status, close = await _response(reader)
                done = time.perf_counter()
                answered += status == 204
                if done <= deadline:
                    statuses[status] = statuses.get(status, 0) + 1
                    latencies.append((done - sent) * 1000)
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", load.port)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(load.connections)))
    latencies.sort()
    return Result(
        requests=len(latencies),
        seconds=load.duration,
        statuses=statuses,
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        answered_204=answered,
    )


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status and whether the server closes the connection."""
    status = int((await reader.readline()).split()[1])
    length, close = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]
