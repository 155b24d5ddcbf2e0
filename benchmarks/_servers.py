"""Server contenders for benchmarks/run.py, one per subprocess.

    python benchmarks/_servers.py smtpcore|smtpcore-stream|aiosmtpd|asyncio-floor

Binds 127.0.0.1 port 0, prints one JSON line ``{"port", "cpu", "rss_kib"}`` (CPU seconds and
resident memory at readiness, so the parent can subtract start-up costs), serves until
SIGTERM, then prints ``{"messages", "octets"}`` and exits 0. The parent reads the process's
CPU time and peak RSS with ``os.wait4``.

The ``smtpcore`` and ``aiosmtpd`` handlers take each message whole (as ``bytes``), count it
and drop it; ``smtpcore-stream`` is a streaming handler (``handle_data`` per piece) that
only counts. ``asyncio-floor`` is benchmarks/_floors.py's canned-reply protocol.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any

# SMTPCORE_BENCH_TREE: measure the smtpcore of another checkout (a before/after comparison).
sys.path.insert(0, os.environ.get("SMTPCORE_BENCH_TREE") or str(Path(__file__).parent.parent))


def preload() -> None:
    """Import the modules named in SMTPCORE_BENCH_PRELOAD (comma-separated, looked up on
    PYTHONPATH) before anything runs: a way to measure a proposed patch without applying it."""
    for name in filter(None, os.environ.get("SMTPCORE_BENCH_PRELOAD", "").split(",")):
        importlib.import_module(name)


MAX_MESSAGE = 256 * 1024 * 1024  # both contenders accept the 100 MiB scenario


def rss_kib() -> int:
    """Current resident set size of this process (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() // 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Counter:
    def __init__(self) -> None:
        self.messages = 0
        self.octets = 0

    def add(self, size: int) -> None:
        self.messages += 1
        self.octets += size


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve_smtpcore(counter: Counter) -> asyncio.AbstractServer | Any:
    from smtpcore._config import Limits, ServerConfig
    from smtpcore.aio import AsyncHandler, AsyncSMTPServer

    class Handler(AsyncHandler):
        async def handle_message(self, session: Any, envelope: Any, data: bytes) -> None:
            counter.add(len(data))

    config = ServerConfig(hostname="bench.smtpcore", limits=Limits(message_size=MAX_MESSAGE))
    server = AsyncSMTPServer(Handler(), "127.0.0.1", 0, config=config, max_connections=5000)
    await server.start()
    return server


async def serve_smtpcore_streaming(counter: Counter) -> Any:
    from smtpcore._config import Limits, ServerConfig
    from smtpcore.aio import AsyncHandler, AsyncSMTPServer

    class Handler(AsyncHandler):
        streaming = True

        def __init__(self) -> None:
            self.size = 0

        async def handle_data(self, session: Any, envelope: Any, chunk: bytes) -> None:
            self.size += len(chunk)

        async def handle_message(self, session: Any, envelope: Any, data: bytes) -> None:
            counter.add(self.size)
            self.size = 0

    config = ServerConfig(hostname="bench.smtpcore", limits=Limits(message_size=MAX_MESSAGE))
    server = AsyncSMTPServer(Handler(), "127.0.0.1", 0, config=config, max_connections=5000)
    await server.start()
    return server


async def serve_aiosmtpd(counter: Counter) -> Any:
    from aiosmtpd.smtp import SMTP

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            counter.add(len(envelope.content))
            return "250 OK"

    handler = Handler()
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=MAX_MESSAGE, hostname="bench.aiosmtpd"),
        "127.0.0.1",
        0,
    )


async def serve_floor(counter: Counter) -> Any:
    from _floors import FloorServerProtocol

    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: FloorServerProtocol(counter.add), "127.0.0.1", 0)


async def main(kind: str) -> None:
    raise_fd_limit()
    counter = Counter()
    if kind == "smtpcore":
        server = await serve_smtpcore(counter)
        port = server.port
    elif kind == "smtpcore-stream":
        server = await serve_smtpcore_streaming(counter)
        port = server.port
    elif kind in ("aiosmtpd", "asyncio-floor"):
        server = await (serve_aiosmtpd if kind == "aiosmtpd" else serve_floor)(counter)
        port = server.sockets[0].getsockname()[1]
    else:
        raise SystemExit(f"unknown server {kind!r}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(json.dumps({"port": port, "cpu": cpu_seconds(), "rss_kib": rss_kib()}), flush=True)
    await stop.wait()
    if kind.startswith("smtpcore"):
        await server.close(grace=0.5)
    else:
        server.close()
        await server.wait_closed()
    print(json.dumps({"messages": counter.messages, "octets": counter.octets}), flush=True)


if __name__ == "__main__":
    preload()
    asyncio.run(main(sys.argv[1]))
