"""Our servers (asyncio and blocking) as the next hop of Postfix's own SMTP client.

Mail goes into the private Postfix through its smtpd (smtplib as the submitting client) or
its ``sendmail``; Postfix's queue manager hands it to its SMTP client, which relays it to
our server (``relayhost = [127.0.0.1]:PORT``). The maillog and the queue show what Postfix
made of our replies: a 4xx defers and is retried, a 5xx bounces, and the bounce Postfix
writes (sent back through our server, since the sender's domain is remote) parses with
``smtpcore.dsn.parse``.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Sequence
from typing import Any

import pytest

from smtpcore import Address, EnhancedStatus, OriginalRecipient, Reply
from smtpcore.dsn import parse as parse_dsn
from tests.servers import Received, Recorder

from .conftest import ServerFactory
from .postfix import Postfix, TraceProxy, poll

pytestmark = pytest.mark.interop

A = Address.parse
DEADLINE = 20.0


def submit(
    pf: Postfix,
    sender: str,
    recipients: Sequence[str],
    data: bytes,
    mail_options: Sequence[str] = (),
    rcpt_options: Sequence[str] = (),
) -> None:
    """Hand a message to Postfix's smtpd (smtplib is the submitting client)."""
    with smtplib.SMTP("127.0.0.1", pf.smtpd_port, local_hostname="submit.test", timeout=10) as s:
        refused = s.sendmail(sender, list(recipients), data, list(mail_options), list(rcpt_options))
        assert refused == {}


def arrived(rec: Recorder, marker: bytes, count: int = 1) -> list[Received]:
    """Poll (bounded) until ``count`` messages carrying ``marker`` reached our server."""

    def found() -> list[Received]:
        hits = [m for m in list(rec.messages) if marker in m.data]
        return hits if len(hits) >= count else []

    return poll(found, DEADLINE, f"{count} message(s) with {marker!r}")


def split_trace(data: bytes, original: bytes) -> list[bytes]:
    """The header lines Postfix put in front of ``original`` (which must arrive whole)."""
    assert data.endswith(original), data[:600]
    prefix = data[: len(data) - len(original)]
    assert prefix.endswith(b"\r\n") and b"\r\n\r\n" not in prefix
    headers: list[bytes] = []
    for line in prefix.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t"):
            headers[-1] += b"\r\n" + line
        else:
            headers.append(line)
    return headers


def marked(marker: str, body: bytes = b"Body line.\r\n") -> bytes:
    return (
        f"From: alice@sender.test\r\nTo: bob@plain.test\r\nSubject: {marker}\r\n"
        f"Message-ID: <{marker}@sender.test>\r\nDate: Sun, 29 Nov 2026 00:00:00 +0000\r\n\r\n"
    ).encode() + body


def unique(name: str) -> str:
    return f"{name}-{time.monotonic_ns()}"


def test_relayed_whole_with_pipelining_and_8bit(pf: Postfix, server_flavour: ServerFactory) -> None:
    marker = unique("relay")
    body = b".dot\r\n..two\r\n" + "Grüße\r\n".encode() + b"z" * 998 + b"\r\n.\r\n"
    original = marked(marker, body)
    proxy = None
    with server_flavour(port=pf.relay_port) as (_server, rec):
        proxy = TraceProxy(pf.trace_port, pf.relay_port)
        try:
            submit(
                pf,
                "alice@sender.test",
                ["bob@trace.test", "carol@trace.test"],
                original,
                mail_options=["BODY=8BITMIME"],
            )
            [got] = arrived(rec, marker.encode())
        finally:
            proxy.close()
    headers = split_trace(got.data, original)
    assert len(headers) == 1 and headers[0].startswith(b"Received: from submit.test")
    env = got.envelope
    assert env.mail_from == A("alice@sender.test")
    assert env.recipients == (A("bob@trace.test"), A("carol@trace.test"))
    assert env.mail_params.body == "8BITMIME"  # RFC 6152, as declared to Postfix
    # RFC 3461 §4.2: Postfix records each original recipient and hands it on as ORCPT.
    assert [p.orcpt for p in env.rcpt_params] == [
        OriginalRecipient(addr_type="rfc822", address="bob@trace.test"),
        OriginalRecipient(addr_type="rfc822", address="carol@trace.test"),
    ]
    # RFC 1870 §4: SIZE is the sender's estimate; Postfix's is its queue file's count, which
    # is off by one from the octets it then sends here.
    assert env.mail_params.size is not None
    assert abs(env.mail_params.size - len(got.data)) <= 2
    # RFC 2920: Postfix's client sends MAIL and every RCPT (and DATA) in one group.
    group = next(r for r in proxy.client_reads if r.startswith(b"MAIL FROM:"))
    lines = group.split(b"\r\n")
    assert lines[0].startswith(b"MAIL FROM:<alice@sender.test> SIZE=")
    assert lines[1:4] == [
        b"RCPT TO:<bob@trace.test> ORCPT=rfc822;bob@trace.test",
        b"RCPT TO:<carol@trace.test> ORCPT=rfc822;carol@trace.test",
        b"DATA",
    ]
    # Postfix's SMTP client has no CHUNKING: it sends DATA though we offer BDAT.
    assert b"BDAT" not in proxy.client_bytes()
    pf.wait_log(r"to=<carol@trace\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*status=sent")


def test_sendmail_submission_large_body(pf: Postfix, server_flavour: ServerFactory) -> None:
    # Local submission through sendmail (pickup): Postfix adds its own headers; a 3 MB body
    # arrives unchanged.
    marker = unique("sendmail")
    body = b"".join(b"%06d " % i + b"q" * 70 + b"\r\n" for i in range(40000))
    headers_in = f"Subject: {marker}\r\nTo: bob@plain.test\r\n\r\n".encode()
    with server_flavour(port=pf.relay_port) as (_server, rec):
        pf.sendmail(
            "alice@sender.test",
            ["bob@plain.test"],
            headers_in.replace(b"\r\n", b"\n") + body.replace(b"\r\n", b"\n"),
        )
        [got] = arrived(rec, marker.encode())
    assert got.data.endswith(b"\r\n\r\n" + body)
    head = got.data[: -len(body)]
    assert f"\r\nSubject: {marker}\r\n".encode() in head
    assert b"\r\nMessage-Id: <" in head  # added by Postfix's cleanup for local submissions
    assert got.envelope.mail_from == A("alice@sender.test")
    pf.wait_log(r"pickup\[\d+\]: \w+: uid=0 from=<alice@sender\.test>")


def test_starttls_verified_by_postfix(pf: Postfix, server_flavour: ServerFactory) -> None:
    # tls.test goes by a transport at security level "secure": Postfix verifies our
    # certificate (trustme, for localhost) and sends nothing in plaintext (RFC 3207).
    marker = unique("tls")
    original = marked(marker)
    with server_flavour(port=pf.relay_port, tls_context=pf.server_tls_context()) as (_, rec):
        submit(pf, "alice@sender.test", ["bob@tls.test"], original)
        [got] = arrived(rec, marker.encode())
    split_trace(got.data, original)
    assert got.session.tls is not None and got.session.tls["version"].startswith("TLSv1")
    assert got.session.helo_name == "postfix.test"
    pf.wait_log(r"Verified TLS connection established to localhost\[127\.0\.0\.1\]:\d+")
    pf.wait_log(r"to=<bob@tls\.test>, relay=localhost\[127\.0\.0\.1\]:\d+, .*status=sent")


def test_dsn_parameters_relayed(pf: Postfix, server_flavour: ServerFactory) -> None:
    # RFC 3461 §4: RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT, handed on unchanged to a
    # next hop that offers DSN (ENVID and ORCPT travel as xtext: "+2B" is "+").
    marker = unique("dsn")
    original = marked(marker)
    with server_flavour(port=pf.relay_port) as (_server, rec):
        submit(
            pf,
            "alice@sender.test",
            ["bob@plain.test"],
            original,
            mail_options=["RET=HDRS", f"ENVID={marker}+2Bx"],
            rcpt_options=["NOTIFY=SUCCESS,DELAY,FAILURE", "ORCPT=rfc822;Bob+2B1@plain.test"],
        )
        [got] = arrived(rec, marker.encode())
    env = got.envelope
    assert env.mail_params.ret == "HDRS"
    assert env.mail_params.envid == f"{marker}+x"
    [params] = env.rcpt_params
    # RFC 3461 §4.1: a set of conditions; Postfix writes them in its own order.
    assert params.notify is not None
    assert sorted(params.notify) == ["DELAY", "FAILURE", "SUCCESS"]
    assert params.orcpt == OriginalRecipient(addr_type="rfc822", address="Bob+1@plain.test")


def test_4xx_defers_and_postfix_retries(pf: Postfix, server_flavour: ServerFactory) -> None:
    marker = unique("defer")
    original = marked(marker)
    rec = Recorder(message_reply=Reply.of(451, "Try again later", "4.3.0"))
    with server_flavour(port=pf.relay_port, recorder=rec):
        # NOTIFY=FAILURE: no delay notice (delay_warning_time is 1 s here) joins the retries
        submit(
            pf, "alice@sender.test", ["bob@plain.test"], original, rcpt_options=["NOTIFY=FAILURE"]
        )
        match = pf.wait_log(
            r"(\w+): to=<bob@plain\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*"
            r"status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: "
            r"451 4\.3\.0 Try again later \(in reply to end of DATA command\)\)"
        )
        queue_id = match.group(1)
        assert queue_id in pf.queue_ids()
        rec.message_reply = None  # now accept it
        pf.flush()
        pf.wait_log(rf"{queue_id}: to=<bob@plain\.test>, .*status=sent \(250 2\.0\.0 OK: queued\)")
        pf.wait_log(rf"{queue_id}: removed")
        attempts = arrived(rec, marker.encode(), count=2)
    assert queue_id not in pf.queue_ids()
    # the retry carries the same message
    assert attempts[0].data == attempts[1].data
    split_trace(attempts[1].data, original)


class DeferAllButNotices(Recorder):
    """451 to every message except delivery notices (null sender), which are taken."""

    def message(self, session: Any, envelope: Any, data: bytes) -> Any:
        super().message(session, envelope, data)
        if envelope.mail_from is None:
            return None
        return Reply.of(451, "Greylisted, try again later", "4.7.1")


def test_4xx_delay_notice_parses(pf: Postfix, server_flavour: ServerFactory) -> None:
    # RFC 3461 §4.1 NOTIFY=DELAY: once the message has waited delay_warning_time, Postfix
    # tells the sender (RFC 3464 action "delayed") and keeps trying.
    marker = unique("delay")
    original = marked(marker)
    rec = DeferAllButNotices()
    with server_flavour(port=pf.relay_port, recorder=rec):
        submit(
            pf,
            "alice@sender.test",
            ["bob@plain.test"],
            original,
            mail_options=[f"ENVID={marker}"],
            rcpt_options=["NOTIFY=DELAY,FAILURE"],
        )
        pf.wait_log(r"to=<bob@plain\.test>, .*status=deferred \(host .* said: 451 4\.7\.1 ")
        notices = poll(
            lambda: [m for m in list(rec.messages) if m.envelope.mail_from is None],
            DEADLINE,
            "the delay notice",
        )
    notice = notices[0]
    assert notice.envelope.recipients == (A("alice@sender.test"),)
    report = parse_dsn(notice.data)
    assert report is not None and report.kind == "dsn"
    assert report.original_envelope_id == marker
    [status] = report.recipients
    assert status.final_recipient is not None
    assert status.final_recipient.address == "bob@plain.test"
    assert status.action == "delayed"
    assert status.status == EnhancedStatus.parse("4.7.1")
    assert status.diagnostic_code is not None
    assert "451 4.7.1 Greylisted, try again later" in status.diagnostic_code.text


def test_5xx_bounces_and_the_bounce_parses(pf: Postfix, server_flavour: ServerFactory) -> None:
    # A 550 to one RCPT: Postfix delivers to the other recipient and returns a DSN
    # (RFC 3464) for the refused one to the sender, through our server again.
    marker = unique("bounce")
    original = marked(marker)
    rec = Recorder(refuse={"victim@plain.test": Reply.of(550, "No such user here", "5.1.1")})
    with server_flavour(port=pf.relay_port, recorder=rec):
        submit(
            pf,
            "alice@sender.test",
            ["victim@plain.test", "bob@plain.test"],
            original,
            mail_options=[f"ENVID={marker}"],
        )
        pf.wait_log(r"to=<victim@plain\.test>, .*status=bounced \(host .* said: 550 5\.1\.1")
        pf.wait_log(r"to=<bob@plain\.test>, .*status=sent")
        bounces = poll(
            lambda: [m for m in list(rec.messages) if m.envelope.mail_from is None],
            DEADLINE,
            "the bounce",
        )
    delivered = [m for m in rec.messages if m.envelope.mail_from is not None]
    assert [m.envelope.recipients for m in delivered] == [(A("bob@plain.test"),)]
    [bounce] = bounces
    assert bounce.envelope.recipients == (A("alice@sender.test"),)
    report = parse_dsn(bounce.data)
    assert report is not None and report.is_bounce
    assert report.reporting_mta is not None and "postfix.test" in report.reporting_mta
    assert report.original_envelope_id == marker
    [status] = report.recipients
    assert status.final_recipient is not None
    assert status.final_recipient.address == "victim@plain.test"
    assert status.action == "failed"
    assert status.status == EnhancedStatus.parse("5.1.1")
    assert status.diagnostic_code is not None
    assert "550 5.1.1 No such user here" in status.diagnostic_code.text
    assert status.remote_mta is not None and "127.0.0.1" in status.remote_mta
    assert report.returned_headers is not None
    assert report.returned_headers.subject == marker


class RefuseMessagesButBounces(Recorder):
    """Refuses every message with 554 5.6.0 after the data, except bounces (null sender)."""

    def message(self, session: Any, envelope: Any, data: bytes) -> Any:
        super().message(session, envelope, data)
        if envelope.mail_from is None:
            return None
        return Reply.of(554, "Content rejected", "5.6.0")


def test_5xx_at_end_of_data_bounces_every_recipient(
    pf: Postfix, server_flavour: ServerFactory
) -> None:
    marker = unique("databounce")
    original = marked(marker)
    rec = RefuseMessagesButBounces()
    with server_flavour(port=pf.relay_port, recorder=rec):
        submit(pf, "alice@sender.test", ["bob@plain.test", "carol@plain.test"], original)
        report = None
        for bounce in poll(
            lambda: [m for m in list(rec.messages) if m.envelope.mail_from is None],
            DEADLINE,
            "the bounce",
        ):
            report = parse_dsn(bounce.data)
    assert report is not None and report.is_bounce
    finals = sorted(r.final_recipient.address for r in report.recipients if r.final_recipient)
    assert finals == ["bob@plain.test", "carol@plain.test"]
    for r in report.recipients:
        assert r.action == "failed"
        assert r.status == EnhancedStatus.parse("5.6.0")
        assert r.diagnostic_code is not None
        assert "554 5.6.0 Content rejected" in r.diagnostic_code.text


class PerRecipientLMTP(Recorder):
    """LMTP (RFC 2033 §4.2): one reply per recipient after the data; mailboxes named
    ``full*`` are over quota (452), ``no*`` do not exist (550), the rest take the message."""

    def message(self, session: Any, envelope: Any, data: bytes) -> Any:
        super().message(session, envelope, data)
        replies = []
        for rcpt in envelope.recipients:
            if rcpt.local_part.startswith("full"):
                replies.append(Reply.of(452, "Mailbox full", "4.2.2"))
            elif rcpt.local_part.startswith("no"):
                replies.append(Reply.of(550, "No such mailbox", "5.1.1"))
            else:
                replies.append(Reply.of(250, f"Delivered to {rcpt}", "2.0.0"))
        return replies


def test_lmtp_per_recipient_replies(pf: Postfix, server_flavour: ServerFactory) -> None:
    # Postfix's LMTP client reads one reply per accepted recipient after the data and acts on
    # each: delivered, deferred (4xx), bounced (5xx). The sender is local, so its bounce is
    # discarded inside Postfix.
    marker = unique("lmtp")
    original = marked(marker)
    rec = PerRecipientLMTP()
    with server_flavour(port=pf.relay_port, recorder=rec, lmtp=True):
        submit(
            pf,
            "alice@postfix.test",
            ["bob@lmtp.test", "full@lmtp.test", "nobody@lmtp.test"],
            original,
        )
        pf.wait_log(
            r"to=<bob@lmtp\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*status=sent "
            r"\(250 2\.0\.0 Delivered to bob@lmtp\.test\)"
        )
        pf.wait_log(
            r"to=<full@lmtp\.test>, .*status=deferred \(host .* said: "
            r"452 4\.2\.2 Mailbox full \(in reply to end of DATA command\)\)"
        )
        pf.wait_log(
            r"to=<nobody@lmtp\.test>, .*status=bounced \(host .* said: "
            r"550 5\.1\.1 No such mailbox \(in reply to end of DATA command\)\)"
        )
        got = arrived(rec, marker.encode())[0]  # Postfix may retry full@ meanwhile
    split_trace(got.data, original)
    assert got.session.lmtp and got.session.helo_name == "postfix.test"
    assert got.envelope.recipients == (
        A("bob@lmtp.test"),
        A("full@lmtp.test"),
        A("nobody@lmtp.test"),
    )
