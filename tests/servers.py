"""Test fixtures' building blocks: our servers running in the background on 127.0.0.1:0,
started and stopped deterministically (readiness events, never sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from smtpcore import Reply
from smtpcore.aio import AsyncHandler, AsyncSMTPServer, Envelope, Session
from smtpcore.sync import Handler, SMTPServer


@dataclass
class Received:
    session: Session
    envelope: Envelope
    data: bytes


@dataclass
class Recorder:
    """What a handler saw; ``refuse`` maps a recipient (str) to the reply refusing it;
    ``message_reply`` answers the data (LMTP: a list, one per recipient)."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, Reply] = field(default_factory=dict)
    message_reply: Reply | Sequence[Reply] | None = None
    got: threading.Event = field(default_factory=threading.Event)

    def rcpt(self, rcpt: Any) -> Reply | None:
        return self.refuse.get(str(rcpt.forward_path), self.refuse.get("*"))

    def message(self, session: Session, envelope: Envelope, data: bytes) -> Any:
        self.messages.append(Received(session, envelope, data))
        self.got.set()
        return self.message_reply


class AsyncRecordingHandler(AsyncHandler):
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    async def handle_rcpt(self, session: Session, envelope: Envelope, rcpt: Any) -> Reply | None:
        return self.rec.rcpt(rcpt)

    async def handle_message(self, session: Session, envelope: Envelope, data: bytes) -> Any:
        return self.rec.message(session, envelope, data)


class SyncRecordingHandler(Handler):
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    def handle_rcpt(self, session: Session, envelope: Envelope, rcpt: Any) -> Reply | None:
        return self.rec.rcpt(rcpt)

    def handle_message(self, session: Session, envelope: Envelope, data: bytes) -> Any:
        return self.rec.message(session, envelope, data)


@contextlib.contextmanager
def async_server_thread(**kw: Any) -> Iterator[tuple[AsyncSMTPServer, Recorder]]:
    """An AsyncSMTPServer on its own event loop in a thread; stopped on exit."""
    rec = kw.pop("recorder", None) or Recorder()
    handler = kw.pop("handler", None) or AsyncRecordingHandler(rec)
    host, port = kw.pop("host", "127.0.0.1"), kw.pop("port", 0)
    server = AsyncSMTPServer(handler, host, port, **kw)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:
            errors.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(server.close(grace=2.0))
        loop.run_until_complete(loop.shutdown_asyncgens())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "server did not start"
    if errors:
        raise errors[0]
    try:
        yield server, rec
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def sync_server(**kw: Any) -> Iterator[tuple[SMTPServer, Recorder]]:
    rec = kw.pop("recorder", None) or Recorder()
    handler = kw.pop("handler", None) or SyncRecordingHandler(rec)
    host, port = kw.pop("host", "127.0.0.1"), kw.pop("port", 0)
    server = SMTPServer(handler, host, port, **kw)
    server.start()
    try:
        yield server, rec
    finally:
        server.close(grace=2.0)


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) from a trustme CA, for 127.0.0.1 and localhost."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx
