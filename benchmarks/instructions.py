"""Machine instructions per message or connection, counted by valgrind's callgrind.

    python benchmarks/instructions.py server smtpcore aiosmtpd asyncio-floor
    python benchmarks/instructions.py server smtpcore --persistent --counts 2000,6000
    python benchmarks/instructions.py client smtpcore-async-batch aiosmtplib --conns 8
    python benchmarks/instructions.py --smoke      # tiny loads, a few seconds per contender (CI)

run.py times the contenders; on a shared 2-core VM its medians move by a few per cent from
run to run, so a change worth 1-3 % hides in the noise there. callgrind counts the
instructions a process executes in user space, the same from run to run within about 0.1 %.
Each contender runs twice under callgrind, with a small and a larger load (smtp-source
against a server kind of benchmarks/_servers.py, or a client kind of benchmarks/_clients.py
against smtp-sink); the difference over the difference in load is the cost of one more
message (or connection), start-up and imports cancelled out. System calls are not counted:
the kernel's share of the CPU (sends, receives, accept) is the same for every contender that
makes the same calls, and run.py's CPU times include it.

It needs valgrind (Debian package valgrind) and, like run.py, smtp-source and smtp-sink.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from run import HERE, PYTHON, SOURCE_ARGS, BenchError, program, read_line, server

_TOTAL = re.compile(r"^(?:summary|totals): (\d+)", re.M)


def valgrind(out: Path) -> list[str]:
    """The command prefix that runs a program under callgrind, its counts going to ``out``."""
    path = shutil.which("valgrind")
    if path is None:
        raise BenchError("valgrind not found (Debian package valgrind)")
    return [path, "--tool=callgrind", f"--callgrind-out-file={out}"]


def run_checked(cmd: list[str], timeout: float, what: str) -> None:
    """Run ``cmd`` to its end (bounded); a failure is a BenchError naming ``what``."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise BenchError(f"{what} failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def total(out_file: Path) -> int:
    """The instruction count callgrind wrote for the whole run."""
    m = _TOTAL.search(out_file.read_text(errors="replace"))
    if m is None:
        raise BenchError(f"no instruction total in {out_file}")
    return int(m.group(1))


def server_run(kind: str, count: int, persistent: bool, work: Path) -> int:
    """Instructions of one server process that took ``count`` messages from smtp-source."""
    out = work / f"server-{kind}-{count}.cg"
    proc = subprocess.Popen(
        [*valgrind(out), PYTHON, str(HERE / "_servers.py"), kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = json.loads(read_line(proc, 300.0))["port"]  # slow under valgrind
        args = ["-s", "8", "-m", str(count), "-l", "1024", f"127.0.0.1:{port}"]
        if persistent:
            args.insert(0, "-d")
        run_checked([program("smtp-source"), *SOURCE_ARGS, *args], 600, "smtp-source")
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    return total(out)


def client_run(kind: str, count: int, conns: int, work: Path) -> int:
    """Instructions of one client process that sent ``count`` messages to smtp-sink."""
    out = work / f"client-{kind}-{count}.cg"
    with server("smtp-sink") as sink:
        args = [kind, "--port", str(sink.port), "--count", str(count), "--conns", str(conns)]
        run_checked([*valgrind(out), PYTHON, str(HERE / "_clients.py"), *args], 900, kind)
    return total(out)


def per_unit(run_one: Callable[[int], int], counts: tuple[int, int]) -> float:
    """Instructions per unit of load: two runs, the difference over the loads' difference."""
    small, large = (run_one(n) for n in counts)
    return float(large - small) / (counts[1] - counts[0])


def measure(
    side: str, kind: str, counts: tuple[int, int], args: argparse.Namespace, work: Path
) -> float:
    start = time.perf_counter()
    if side == "server":
        value = per_unit(lambda n: server_run(kind, n, args.persistent, work), counts)
        unit = "message" if args.persistent else "connection (one message)"
    else:
        value = per_unit(lambda n: client_run(kind, n, args.conns, work), counts)
        unit = "message"
    took = time.perf_counter() - start
    print(
        f"{side} {kind}: {value:,.0f} instructions per {unit} "
        f"(loads {counts[0]} and {counts[1]}, {took:.0f} s)"
    )
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("side", nargs="?", choices=["server", "client"])
    parser.add_argument("kinds", nargs="*", help="contenders; the ratios are against the last")
    parser.add_argument("--persistent", action="store_true", help="server: 8 sessions (-d)")
    parser.add_argument("--conns", type=int, default=8, help="client: connections")
    parser.add_argument("--counts", help="the two loads, e.g. 200,600")
    parser.add_argument("--smoke", action="store_true", help="tiny loads (CI)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="smtpcore-cg-") as tmp:
        work = Path(tmp)
        if args.smoke:
            # A check that it still runs, not a measurement: the loads are too small.
            measure("server", "smtpcore", (4, 12), args, work)
            measure("client", "smtpcore-async-batch", (10, 30), args, work)
            return 0
        if args.side is None or not args.kinds:
            parser.error("name a side (server or client) and at least one contender")
        counts = (200, 600) if args.side == "server" and not args.persistent else (1000, 3000)
        if args.counts:
            a, b = (int(n) for n in args.counts.split(","))
            if not 0 < a < b:
                parser.error("--counts needs two loads, the second the larger")
            counts = (a, b)
        results = {kind: measure(args.side, kind, counts, args, work) for kind in args.kinds}
    anchor = args.kinds[-1]
    print(f"\n| contender | instructions per unit | {anchor} / contender |")
    print("|---|---|---|")
    for kind, value in results.items():
        print(f"| {kind} | {value:,.0f} | {results[anchor] / value:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
