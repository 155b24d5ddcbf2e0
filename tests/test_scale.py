"""The asyncio server holds 1,000 concurrent connections, and a stuck client delays nobody."""

from __future__ import annotations

import resource
import selectors
import socket
import time

import pytest

from smtpcore.sync import SMTPClient
from tests.servers import async_server_thread

N = 1000


def _raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"needs {need} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def test_a_thousand_idle_connections_and_a_working_one() -> None:
    _raise_fd_limit(2 * N + 200)
    with async_server_thread(max_connections=N + 10) as (server, rec):
        socks: list[socket.socket] = []
        sel = selectors.DefaultSelector()
        try:
            for _ in range(N):
                s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                s.setblocking(False)
                socks.append(s)
                sel.register(s, selectors.EVENT_READ)
            greeted: set[int] = set()
            deadline = time.monotonic() + 60
            while len(greeted) < N and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1.0):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    data = sock.recv(512)
                    assert data.startswith(b"220 "), data
                    greeted.add(sock.fileno())
                    sel.unregister(sock)
            assert len(greeted) == N
            # every one of them is idle (a stuck client); a new client is served at once
            start = time.monotonic()
            with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
                client.send_message(b"Subject: x\r\n\r\nhi\r\n", "a@x.test", ["b@y.test"])
            assert time.monotonic() - start < 10
            assert len(rec.messages) == 1
        finally:
            sel.close()
            for s in socks:
                s.close()
