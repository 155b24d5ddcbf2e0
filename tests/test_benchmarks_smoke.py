"""The benchmark harness still runs (issue 8): ``benchmarks/run.py --smoke`` prints its table.

No thresholds: the numbers depend on the machine. This only keeps the harness from rotting.
It needs Postfix's smtp-source and smtp-sink, and aiosmtpd/aiosmtplib from the test extra.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from interop._require import require_program

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.interop

SCENARIOS = (
    "server-persistent",
    "server-newconn",
    "client-sync-1k",
    "client-async-1k",
    "client-async-1k-8",
    "client-big",
    "client-async-chunking",
    "client-sync-chunking",
    "codec",
    "server-idle",
)


def test_smoke_run_prints_a_table_with_every_scenario_and_ratio() -> None:
    require_program("smtp-sink")
    require_program("smtp-source")
    pytest.importorskip("aiosmtpd")
    pytest.importorskip("aiosmtplib")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert rows[0].startswith("| scenario | contender | metric | median")
    for name in SCENARIOS:
        assert f"| **{name}** |" in done.stdout
    # Each smtpcore row carries a ratio against its anchors, measured in the same run.
    ours = [r for r in rows if r.startswith("| | smtpcore")]
    assert ours
    assert all("x vs " in r for r in ours), ours
