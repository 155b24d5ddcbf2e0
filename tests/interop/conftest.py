"""Fixtures for the interop tests against Postfix, smtp-sink/smtp-source, swaks and msmtp.

``postfix``: one private Postfix instance for the whole session (tests/interop/postfix.py),
stopped at the end whatever happens. ``pf``: the same instance for one test, with the maillog
marked at the start and the queue emptied at the end, so that a message one test left
deferred can never reach the next test's server. ``relay_server``: our server (asyncio and
blocking flavours, one test each) listening on the port Postfix relays everything to.
``peer_versions``: what each peer reported, recorded for docs/interop.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import async_server_thread, sync_server

from ._require import require_program
from .postfix import Postfix, free_port, run_postfix

VERSIONS: dict[str, str] = {}


def record_version(name: str, version: str) -> None:
    """Remember a peer's version; written to $SMTPCORE_INTEROP_VERSIONS at the end."""
    VERSIONS[name] = version


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("SMTPCORE_INTEROP_VERSIONS")
    if target and VERSIONS:
        Path(target).write_text(json.dumps(VERSIONS, indent=2, sort_keys=True) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if VERSIONS:
        peers = ", ".join(f"{k} {v}" for k, v in sorted(VERSIONS.items()))
        terminalreporter.write_line(f"interop peers: {peers}")


@pytest.fixture(scope="session")
def postfix() -> Iterator[Postfix]:
    require_program("postfix")
    if os.geteuid() != 0:
        # A private instance still needs root: set-permissions, the master's privileged
        # start, and the entry in /etc/postfix/main.cf.
        if os.environ.get("SMTPCORE_REQUIRE_INTEROP") == "1":
            pytest.fail("the Postfix tests run as root (SMTPCORE_REQUIRE_INTEROP=1)")
        pytest.skip("the Postfix tests run as root")
    with run_postfix(relay_port=free_port(), trace_port=free_port()) as instance:
        record_version("postfix", instance.version)
        yield instance


@pytest.fixture
def pf(postfix: Postfix) -> Iterator[Postfix]:
    postfix.clear_queue()
    postfix.mark_log()
    try:
        yield postfix
    finally:
        postfix.clear_queue()
        # shown by pytest only when the test failed
        print(f"--- Postfix maillog during the test ---\n{postfix.new_log()}")


def listening_socket(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:port (SO_REUSEADDR: the port was ours before)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


ServerFactory = Callable[..., contextlib.AbstractContextManager[Any]]


@pytest.fixture(params=["aio", "sync"])
def server_flavour(request: pytest.FixtureRequest) -> ServerFactory:
    """``make(port=None, **kw)``: our asyncio or blocking server, as tests/servers.py runs them,
    on ``port`` when given (else a free one)."""
    base = async_server_thread if request.param == "aio" else sync_server

    def make(port: int | None = None, **kw: Any) -> contextlib.AbstractContextManager[Any]:
        if port is not None:
            kw["sock"] = listening_socket(port)
        return base(**kw)

    return make


def program_version(argv: list[str], name: str) -> str:
    """The first line a program prints about its version (recorded, not asserted)."""
    out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
    text = (out.stdout or out.stderr).strip().splitlines()
    version = text[0] if text else "unknown"
    record_version(name, version)
    return version
