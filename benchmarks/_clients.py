"""Client contenders for benchmarks/run.py, one per subprocess.

    python benchmarks/_clients.py KIND --port P --count N --size OCTETS [--conns C]

KIND is smtplib, smtpcore-sync, aiosmtplib or smtpcore-async (and their variants below:
``-batch`` sends with ``send_messages``, ``-data`` with ``use_bdat=False``, the DATA a server
without CHUNKING would get). The message is built before
the clock starts; the client connects (``--conns`` connections, asyncio kinds only), sends
``--count`` messages in all over them, says QUIT, and prints one JSON line: wall seconds and
CPU seconds (this process's own ``getrusage``) of the sending, and the peak RSS in KiB.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path

# SMTPCORE_BENCH_TREE: measure the smtpcore of another checkout (a before/after comparison).
sys.path.insert(0, os.environ.get("SMTPCORE_BENCH_TREE") or str(Path(__file__).parent.parent))


def preload() -> None:
    """Import the modules named in SMTPCORE_BENCH_PRELOAD (comma-separated, looked up on
    PYTHONPATH) before anything runs: a way to measure a proposed patch without applying it."""
    for name in filter(None, os.environ.get("SMTPCORE_BENCH_PRELOAD", "").split(",")):
        importlib.import_module(name)


SENDER = "bench@source.example"
RECIPIENT = "sink@sink.example"


def make_message(size: int) -> bytes:
    """Headers and ``size`` octets of 76-character text lines (no line starts with ".")."""
    head = (
        f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: benchmark\r\n"
        "Message-ID: <bench@source.example>\r\n\r\n"
    ).encode()
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijkl\r\n"
    body = line * (size // len(line) + 1)
    return head + body[:size].rstrip(b"\r\n") + b"\r\n"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def split(count: int, conns: int) -> list[int]:
    return [count // conns + (1 if i < count % conns else 0) for i in range(conns)]


def run_smtplib(port: int, count: int, message: bytes) -> None:
    import smtplib

    with smtplib.SMTP("127.0.0.1", port) as client:
        for _ in range(count):
            client.sendmail(SENDER, [RECIPIENT], message)


def run_smtpcore_sync(port: int, count: int, message: bytes, use_bdat: bool | None) -> None:
    from smtpcore.sync import SMTPClient

    with SMTPClient("127.0.0.1", port, tls_policy="none") as client:
        for _ in range(count):
            client.send_message(message, SENDER, [RECIPIENT], use_bdat=use_bdat)


BATCH = 100  # messages per send_messages call in the *-batch kinds


def batches(count: int, message: bytes) -> list[list[tuple[bytes, str, list[str]]]]:
    items = [(message, SENDER, [RECIPIENT])] * count
    return [items[i : i + BATCH] for i in range(0, count, BATCH)]


def run_smtpcore_sync_batch(port: int, count: int, message: bytes) -> None:
    from smtpcore.sync import SMTPClient

    with SMTPClient("127.0.0.1", port, tls_policy="none") as client:
        for chunk in batches(count, message):
            client.send_messages(chunk)


async def run_smtpcore_async_batch(port: int, count: int, message: bytes, conns: int) -> None:
    from smtpcore.aio import AsyncSMTPClient

    async def worker(n: int) -> None:
        async with AsyncSMTPClient("127.0.0.1", port, tls_policy="none") as client:
            for chunk in batches(n, message):
                await client.send_messages(chunk)

    await asyncio.gather(*(worker(n) for n in split(count, conns)))


async def run_aiosmtplib(port: int, count: int, message: bytes, conns: int) -> None:
    import aiosmtplib

    async def worker(n: int) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        async with client:
            for _ in range(n):
                await client.sendmail(SENDER, [RECIPIENT], message)

    await asyncio.gather(*(worker(n) for n in split(count, conns)))


async def run_smtpcore_async(
    port: int, count: int, message: bytes, conns: int, use_bdat: bool | None
) -> None:
    from smtpcore.aio import AsyncSMTPClient

    async def worker(n: int) -> None:
        async with AsyncSMTPClient("127.0.0.1", port, tls_policy="none") as client:
            for _ in range(n):
                await client.send_message(message, SENDER, [RECIPIENT], use_bdat=use_bdat)

    await asyncio.gather(*(worker(n) for n in split(count, conns)))


async def run_floor(port: int, count: int, message: bytes, conns: int, batch: bool) -> None:
    from _floors import run_floor_client

    await run_floor_client(port, count, message, conns, batch=batch, sender=SENDER, rcpt=RECIPIENT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    kinds = [
        "smtplib",
        "smtpcore-sync",
        "smtpcore-sync-batch",
        "smtpcore-sync-data",
        "aiosmtplib",
        "smtpcore-async",
        "smtpcore-async-batch",
        "smtpcore-async-data",
        "asyncio-floor",
        "asyncio-floor-batch",
    ]
    parser.add_argument("kind", choices=kinds)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--conns", type=int, default=1)
    args = parser.parse_args(argv)
    preload()
    message = make_message(args.size)
    # Import the contender before the clock starts: start-up is not per-message cost.
    modules = {
        "smtpcore-sync": "smtpcore.sync",
        "smtpcore-sync-batch": "smtpcore.sync",
        "smtpcore-sync-data": "smtpcore.sync",
        "smtpcore-async": "smtpcore.aio",
        "smtpcore-async-batch": "smtpcore.aio",
        "smtpcore-async-data": "smtpcore.aio",
        "asyncio-floor": "_floors",
        "asyncio-floor-batch": "_floors",
    }
    importlib.import_module(modules.get(args.kind, args.kind))
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    if args.kind == "smtplib":
        run_smtplib(args.port, args.count, message)
    elif args.kind in ("smtpcore-sync", "smtpcore-sync-data"):
        use_bdat = False if args.kind.endswith("-data") else None
        run_smtpcore_sync(args.port, args.count, message, use_bdat)
    elif args.kind == "smtpcore-sync-batch":
        run_smtpcore_sync_batch(args.port, args.count, message)
    elif args.kind == "smtpcore-async-batch":
        asyncio.run(run_smtpcore_async_batch(args.port, args.count, message, args.conns))
    elif args.kind.startswith("asyncio-floor"):
        batch = args.kind.endswith("-batch")
        asyncio.run(run_floor(args.port, args.count, message, args.conns, batch))
    elif args.kind == "aiosmtplib":
        asyncio.run(run_aiosmtplib(args.port, args.count, message, args.conns))
    else:
        use_bdat = False if args.kind.endswith("-data") else None
        asyncio.run(run_smtpcore_async(args.port, args.count, message, args.conns, use_bdat))
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall": wall, "cpu": cpu, "maxrss_kib": maxrss, "octets": len(message)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
