"""smtpcore.testing: users test their handlers without sockets."""

from __future__ import annotations

import asyncio
from typing import Any

from smtpcore import Address, Ehlo, Mail, Reply
from smtpcore.aio import AsyncHandler
from smtpcore.sync import Handler
from smtpcore.testing import ConnectionPair, run_session, run_session_async

SCRIPT = (
    b"EHLO client.example\r\n"
    b"MAIL FROM:<a@example.org>\r\n"
    b"RCPT TO:<b@example.net>\r\n"
    b"RCPT TO:<spam@example.net>\r\n"
    b"DATA\r\n"
    b"Subject: t\r\n\r\n..dotted\r\n.\r\n"
    b"QUIT\r\n"
)


class Keep(Handler):
    def __init__(self) -> None:
        self.data: list[bytes] = []

    def handle_rcpt(self, session: Any, envelope: Any, rcpt: Any) -> Reply | None:
        if rcpt.forward_path.local_part == "spam":
            return Reply.of(550, "no", "5.7.1")
        return None

    def handle_message(self, session: Any, envelope: Any, data: bytes) -> Any:
        self.data.append(data)
        return Reply.of(250, "kept", "2.0.0")


def test_run_session_drives_a_handler() -> None:
    handler = Keep()
    out = run_session(handler, SCRIPT)
    codes = [line[:3] for line in out.split(b"\r\n") if line[3:4] == b" "]
    assert codes == [b"220", b"250", b"250", b"250", b"550", b"354", b"250", b"221"]
    assert handler.data == [b"Subject: t\r\n\r\n.dotted\r\n"]


def test_run_session_async() -> None:
    class A(AsyncHandler):
        async def handle_mail(self, session: Any, mail: Any) -> Reply | None:
            return Reply.of(451, "later", "4.3.0")

    out = asyncio.run(run_session_async(A(), b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nQUIT\r\n"))
    assert b"451 4.3.0 later\r\n" in out and out.endswith(b"221 2.0.0 Bye\r\n")


def test_connection_pair() -> None:
    pair = ConnectionPair()
    pair.server_send(pair.server.greeting())
    assert pair.client_send(Ehlo(hostname="c.example")) == [Ehlo(hostname="c.example")]
    pair.server_send(pair.server.ehlo_reply())
    mail = Mail(reverse_path=Address.parse("a@b.example"))
    assert pair.client_send(mail) == [mail]
