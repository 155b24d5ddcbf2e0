"""A 50 MB message streamed both ways: from an iterator through the client, in pieces to a
streaming handler, never held whole by either side; an aborted one is reported as such."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from smtpcore import Limits, ServerConfig
from smtpcore.aio import AsyncHandler
from smtpcore.sync import Handler, SMTPClient
from tests.servers import async_server_thread, sync_server

SIZE = 50 * 1024 * 1024
LINE = b"The quick brown fox jumps over the lazy dog. 0123456789 .dot at the end\r\n"
HEAD = b"Subject: big\r\n\r\n.leading dot line\r\n"


def body() -> Iterator[bytes]:
    block = LINE * (1024 * 1024 // len(LINE))
    sent = len(HEAD)
    yield HEAD
    while sent + len(block) <= SIZE:
        sent += len(block)
        yield block
    yield LINE


def expected() -> tuple[int, str]:
    h = hashlib.sha256()
    n = 0
    for piece in body():
        h.update(piece)
        n += len(piece)
    return n, h.hexdigest()


class Digest:
    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0
        self.largest = 0
        self.aborted = 0
        self.done = threading.Event()

    def piece(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.size += len(chunk)
        self.largest = max(self.largest, len(chunk))


class AsyncDigest(AsyncHandler):
    streaming = True

    def __init__(self, d: Digest) -> None:
        self.d = d

    async def handle_data(self, session: Any, envelope: Any, chunk: bytes) -> None:
        self.d.piece(chunk)

    async def handle_message(self, session: Any, envelope: Any, data: bytes) -> Any:
        assert data == b""
        self.d.done.set()

    async def handle_abort(self, session: Any, envelope: Any) -> None:
        self.d.aborted += 1
        self.d.done.set()


class SyncDigest(Handler):
    streaming = True

    def __init__(self, d: Digest) -> None:
        self.d = d

    def handle_data(self, session: Any, envelope: Any, chunk: bytes) -> None:
        self.d.piece(chunk)

    def handle_message(self, session: Any, envelope: Any, data: bytes) -> Any:
        assert data == b""
        self.d.done.set()

    def handle_abort(self, session: Any, envelope: Any) -> None:
        self.d.aborted += 1
        self.d.done.set()


@pytest.mark.parametrize("flavour", ["aio", "sync"])
@pytest.mark.parametrize("use_bdat", [False, True], ids=["DATA", "BDAT"])
def test_fifty_megabytes_streamed(flavour: str, use_bdat: bool) -> None:
    d = Digest()
    config = ServerConfig(limits=Limits(message_size=SIZE * 2))
    if flavour == "aio":
        server_cm = async_server_thread(handler=AsyncDigest(d), config=config)
    else:
        server_cm = sync_server(handler=SyncDigest(d), config=config)
    size, digest = expected()
    with server_cm as (server, _rec):
        with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
            result = client.send_message(
                body(), "a@example.org", ["b@example.net"], size=size, use_bdat=use_bdat
            )
            assert result.delivered
        assert d.done.wait(30)
    assert (d.size, d.hash.hexdigest()) == (size, digest)
    assert d.aborted == 0
    assert d.largest <= 1024 * 1024 + 4096  # pieces, never the whole message


def test_a_refused_streamed_message_is_aborted() -> None:
    d = Digest()
    # pieces within the limit reach the handler, then the limit is passed: abort, not message
    config = ServerConfig(limits=Limits(message_size=100_000))
    with async_server_thread(handler=AsyncDigest(d), config=config) as (server, _rec):

        async def go() -> None:
            from smtpcore.aio import AsyncSMTPClient

            async with AsyncSMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
                result = await client.send_message(
                    [b"Subject: x\r\n\r\n", *[b"y" * 998 + b"\r\n"] * 300],
                    "a@example.org",
                    ["b@example.net"],
                    raise_on_failure=False,
                )
                assert not result.delivered
                assert result.data_reply is not None and result.data_reply.code == 552

        asyncio.run(go())
        assert d.done.wait(10)
    assert d.aborted == 1 and 0 < d.size <= 100_000
