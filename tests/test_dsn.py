"""smtpcore.dsn: RFC 3464 / 6522 / 6533 parsing and building, from hand-written messages."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore import dsn
from smtpcore._errors import DSNError
from smtpcore._status import EnhancedStatus

DATA = Path(__file__).parent / "data" / "dsn"
UTC = timezone.utc


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def parse_ok(raw: bytes | str) -> dsn.Report:
    report = dsn.parse(raw)
    assert report is not None
    return report


# --- RFC 3464 §2.2: per-message fields ------------------------------------------------------


def test_per_message_fields() -> None:
    report = parse_ok(load("rfc3464-two-recipients.eml"))
    assert report.kind == "dsn"
    assert report.is_bounce
    assert report.reporting_mta == "mx.example.net"
    assert report.received_from_mta == "client.example.org"
    assert report.arrival_date == datetime(2026, 3, 2, 9, 59, 58, tzinfo=UTC)
    assert report.original_envelope_id == "QQ314159"
    # Extension fields are kept (RFC 3464 §2.4 "X-" fields).
    assert ("x-postfix-queue-id", "4Zabc123") in report.extra


# --- RFC 3464 §2.3: per-recipient fields, with real-world deviations ------------------------


def test_first_recipient_fields_and_deviations() -> None:
    bob = parse_ok(load("rfc3464-two-recipients.eml")).recipients[0]
    assert bob.original_recipient == dsn.TypedAddress(type="rfc822", address="bob@example.com")
    # Angle brackets around the address are tolerated.
    assert bob.final_recipient == dsn.TypedAddress(type="rfc822", address="bob@example.com")
    # "Action: error" is not RFC 3464 but is a failure.
    assert bob.action == "failed"
    assert bob.raw_action == "error"
    # Status 5.0.0 with the real code in Diagnostic-Code: the specific one, raw one kept.
    assert bob.status == EnhancedStatus.parse("5.1.1")
    assert bob.raw_status == "5.0.0"
    assert bob.reply_code == 550
    assert bob.remote_mta == "mail.example.com"
    # §2.3.6: folded Diagnostic-Code lines are joined.
    assert bob.diagnostic_code == dsn.Diagnostic(
        type="smtp",
        text="550 5.1.1 <bob@example.com>: Recipient address rejected: "
        "User unknown in virtual mailbox table",
    )
    assert bob.last_attempt_date == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert bob.final_log_id == "4Zabc123"


def test_second_recipient_missing_type_and_extension_field() -> None:
    carol = parse_ok(load("rfc3464-two-recipients.eml")).recipients[1]
    assert carol.final_recipient == dsn.TypedAddress(type=None, address="carol@example.com")
    assert carol.action == "delayed"
    assert str(carol.status) == "4.2.2"
    assert carol.reply_code == 452
    assert carol.will_retry_until == datetime(2026, 3, 5, 9, 59, 58, tzinfo=UTC)
    assert ("x-custom-field", "kept") in carol.extra


def test_returned_headers_decoded() -> None:
    report = parse_ok(load("rfc3464-two-recipients.eml"))
    assert report.returned_headers == dsn.ReturnedHeaders(
        message_id="<m1@example.org>",
        from_="Alice <alice@example.org>",
        to="bob@example.com, carol@example.com",
        subject="Grüße",
    )


@pytest.mark.parametrize("newline", [b"\r\n", b"\r", b"\n"])
def test_line_endings(newline: bytes) -> None:
    raw = load("rfc3464-two-recipients.eml").replace(b"\n", newline)
    report = parse_ok(raw)
    assert [r.address for r in report.recipients] == ["bob@example.com", "carol@example.com"]
    assert report.recipients[0].diagnostic_code is not None
    assert report.recipients[0].diagnostic_code.text.endswith("virtual mailbox table")


def test_accepts_str_and_message() -> None:
    raw = load("rfc3464-two-recipients.eml")
    from_bytes = parse_ok(raw)
    assert parse_ok(raw.decode("ascii")) == from_bytes
    assert parse_ok(email.message_from_bytes(raw)) == from_bytes


# --- RFC 6533 -------------------------------------------------------------------------------


def test_global_delivery_status_keeps_utf8_addresses() -> None:
    report = parse_ok(load("rfc6533-global.eml"))
    (rcpt,) = report.recipients
    # RFC 6533 §3: utf-8 address type, raw UTF-8 and \x{HHHH} escapes both decoded.
    assert rcpt.final_recipient == dsn.TypedAddress(type="utf-8", address="jörg@bücher.example")
    assert rcpt.original_recipient == dsn.TypedAddress(type="utf-8", address="jörg@example.de")
    assert report.returned_headers is not None
    assert report.returned_headers.subject == "Grüße"
    assert report.returned_headers.from_ == "Алиса <alice@example.org>"


# --- not bounces ----------------------------------------------------------------------------


def test_feedback_report_is_not_a_bounce() -> None:
    report = parse_ok(load("arf-abuse.eml"))
    assert report.kind == "feedback-report"
    assert not report.is_bounce
    assert report.feedback_type == "abuse"
    assert [r.address for r in report.recipients] == ["dave@example.com", "erin@example.com"]
    assert dsn.classify(report.recipients[0], report).reason == "feedback"


def test_auto_reply_is_not_a_bounce() -> None:
    report = parse_ok(load("autoreply.eml"))
    assert report.kind == "auto-reply"
    assert not report.is_bounce
    assert dsn.classify(report.recipients[0], report).reason == "vacation"


def test_plain_message_is_none() -> None:
    raw = b"From: a@example.org\nTo: b@example.org\nSubject: hello\n\nJust a letter.\n"
    assert dsn.parse(raw) is None


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_never_raises_on_junk(raw: bytes) -> None:
    report = dsn.parse(raw)
    assert report is None or isinstance(report, dsn.Report)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_junk_inside_a_report(junk: str) -> None:
    raw = (
        "Content-Type: multipart/report; report-type=delivery-status; boundary=X\n\n"
        "--X\nContent-Type: message/delivery-status\n\n" + junk + "\n--X--\n"
    )
    report = dsn.parse(raw)
    assert report is None or report.kind in dsn.KINDS


def test_undeclared_8bit_and_iso2022jp_text() -> None:
    diag = "550 5.2.2 メールボックスがいっぱいです".encode("iso-2022-jp")
    raw = (
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=X\n\n"
        b"--X\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx.example.jp\n\n"
        b"Final-Recipient: rfc822; user@example.jp\nAction: failed\nStatus: 5.2.2\n"
        b"Diagnostic-Code: smtp; " + diag + b"\n\n--X--\n"
    )
    (rcpt,) = parse_ok(raw).recipients
    assert rcpt.diagnostic_code is not None
    assert rcpt.diagnostic_code.text == "550 5.2.2 メールボックスがいっぱいです"


# --- build: RFC 3464 / 6522 structure -------------------------------------------------------

WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ORIGINAL = (
    b"From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: Hi\r\n"
    b"Message-ID: <o1@example.org>\r\n\r\nHello Bob.\r\n"
)


def _failed(addr: str = "bob@example.com") -> dsn.RecipientResult:
    return dsn.RecipientResult(
        recipient=addr,
        action="failed",
        status="5.1.1",
        diagnostic="550 5.1.1 <bob@example.com>: User unknown",
        remote_mta="mx.example.com",
        last_attempt=WHEN,
    )


def test_build_structure_rfc6522() -> None:
    msg = dsn.build(
        reporting_mta="relay.example.net",
        recipients=[_failed()],
        date=WHEN,
        original=ORIGINAL,
        envelope_id="ENV1",
        mail_from="alice@example.org",
    )
    # RFC 6522 §3: multipart/report with report-type, text first, then the status part.
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    types = [p.get_content_type() for p in msg.iter_parts()]
    assert types == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    assert "alice@example.org" in str(msg["To"])
    text = msg.as_bytes(policy=email.policy.SMTP).decode()
    assert "Reporting-MTA: dns; relay.example.net\r\n" in text
    assert "Original-Envelope-Id: ENV1\r\n" in text
    assert "Final-Recipient: rfc822; bob@example.com\r\n" in text
    # RET=HDRS: the body of the original is not returned.
    assert "Hello Bob." not in text


def test_build_full_returns_whole_message() -> None:
    msg = dsn.build(
        reporting_mta="relay.example.net",
        recipients=[_failed()],
        date=WHEN,
        original=ORIGINAL,
        ret="FULL",
    )
    parts = list(msg.iter_parts())
    assert parts[2].get_content_type() == "message/rfc822"
    assert b"Hello Bob." in msg.as_bytes()


def test_build_utf8_uses_global_delivery_status() -> None:
    msg = dsn.build(
        reporting_mta="relay.example.net",
        recipients=[_failed("jörg@bücher.example")],
        date=WHEN,
    )
    types = [p.get_content_type() for p in msg.iter_parts()]
    assert types == ["text/plain", "message/global-delivery-status"]
    (rcpt,) = parse_ok(msg.as_bytes()).recipients
    assert rcpt.final_recipient == dsn.TypedAddress(type="utf-8", address="jörg@bücher.example")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"action": "bounced"}, "action"),
        ({"status": "4.1.1"}, "does not agree"),
        ({"status": "five"}, "enhanced status"),
        ({"recipient": "bob@example.com\r\nBcc: x"}, "one non-empty line"),
        ({"will_retry_until": WHEN}, "delayed"),
    ],
)
def test_build_misuse_raises(changes: dict[str, object], message: str) -> None:
    base = {"recipient": "bob@example.com", "action": "failed", "status": "5.1.1"}
    # A result that cannot make a valid DSN cannot be built at all.
    with pytest.raises(DSNError, match=message):
        dsn.RecipientResult(**{**base, **changes})  # type: ignore[arg-type]


def test_build_needs_recipients() -> None:
    with pytest.raises(DSNError):
        dsn.build(reporting_mta="relay.example.net", recipients=[], date=WHEN)


# --- parse(build(x)) == x -------------------------------------------------------------------

_local = st.from_regex(r"[a-z][a-z0-9.]{0,10}[a-z0-9]", fullmatch=True)
_domain = st.from_regex(r"[a-z][a-z0-9]{0,10}\.(example|test|xn--bcher-kva)", fullmatch=True)
_utf8_local = st.sampled_from(["jörg", "用户", "josé", "ünal"])
_address = st.builds(
    lambda local, domain: f"{local}@{domain}", st.one_of(_local, _utf8_local), _domain
)
_word = st.from_regex(r"[A-Za-z0-9<>@.:;,()]{1,12}", fullmatch=True)
_dates = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
_ACTION_CLASS = {"failed": 5, "delayed": 4, "delivered": 2, "relayed": 2, "expanded": 2}


@st.composite
def _results(draw: st.DrawFn) -> dsn.RecipientResult:
    action = draw(st.sampled_from(sorted(_ACTION_CLASS)))
    status = EnhancedStatus(
        _ACTION_CLASS[action], draw(st.integers(1, 7)), draw(st.integers(1, 30))
    )
    words = draw(st.lists(_word, min_size=1, max_size=30))
    return dsn.RecipientResult(
        recipient=draw(_address),
        action=action,
        status=status,
        diagnostic=draw(st.none() | st.just(" ".join(words))),
        remote_mta=draw(st.none() | _domain),
        original_recipient=draw(st.none() | _address),
        last_attempt=draw(st.none() | _dates),
        will_retry_until=draw(st.none() | _dates) if action == "delayed" else None,
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(_results(), min_size=1, max_size=4),
    st.none() | _dates,
    st.none() | st.from_regex(r"[A-Za-z0-9+]{1,20}", fullmatch=True),
    st.booleans(),
)
def test_parse_build_round_trip(
    results: list[dsn.RecipientResult],
    arrival: datetime | None,
    envid: str | None,
    as_bytes: bool,
) -> None:
    msg = dsn.build(
        reporting_mta="relay.example.net",
        recipients=results,
        date=WHEN,
        original=ORIGINAL,
        arrival_date=arrival,
        envelope_id=envid,
    )
    report = parse_ok(msg.as_bytes() if as_bytes else msg)
    assert report.kind == "dsn"
    assert report.reporting_mta == "relay.example.net"
    assert report.arrival_date == arrival
    assert report.original_envelope_id == envid
    assert report.returned_headers is not None
    assert report.returned_headers.message_id == "<o1@example.org>"
    assert len(report.recipients) == len(results)
    for got, want in zip(report.recipients, results, strict=False):
        assert got.address == want.recipient
        assert got.original_recipient == (
            None
            if want.original_recipient is None
            else dsn.TypedAddress(
                type="rfc822" if want.original_recipient.isascii() else "utf-8",
                address=want.original_recipient,
            )
        )
        assert got.action == want.action
        assert got.raw_status == str(want.status)
        assert got.diagnostic_code == (
            None if want.diagnostic is None else dsn.Diagnostic(type="smtp", text=want.diagnostic)
        )
        assert got.remote_mta == want.remote_mta
        assert got.last_attempt_date == want.last_attempt
        assert got.will_retry_until == want.will_retry_until


def test_status_quoted_in_the_remote_reply_wins() -> None:
    # The reporting MTA's Status is often generic or its own; the remote reply says what
    # happened. The field stays available as raw_status.
    result = dsn.RecipientResult(
        recipient="bob@example.com", action="failed", status="5.2.2", diagnostic="550 5.1.1 x"
    )
    msg = dsn.build(reporting_mta="relay.example.net", recipients=[result], date=WHEN)
    (rcpt,) = parse_ok(msg).recipients
    assert (str(rcpt.status), rcpt.raw_status) == ("5.1.1", "5.2.2")
    # A code of another class in the text is not the answer (a 4xx retried, then 5xx).
    result = dsn.RecipientResult(
        recipient="bob@example.com", action="failed", status="5.2.2", diagnostic="451 4.3.0 x"
    )
    msg = dsn.build(reporting_mta="relay.example.net", recipients=[result], date=WHEN)
    (rcpt,) = parse_ok(msg).recipients
    assert str(rcpt.status) == "5.2.2"


def test_build_is_deterministic() -> None:
    kwargs = {"reporting_mta": "relay.example.net", "recipients": [_failed()], "date": WHEN}
    one = dsn.build(**kwargs).as_bytes()  # type: ignore[arg-type]
    two = dsn.build(**kwargs).as_bytes()  # type: ignore[arg-type]
    assert one == two
    later = dsn.build(**{**kwargs, "date": WHEN + timedelta(seconds=1)}).as_bytes()  # type: ignore[arg-type]
    assert later != one


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable"])
def test_transfer_encoded_status_part(encoding: str) -> None:
    import base64
    import quopri

    fields = (
        b"Reporting-MTA: dns; mx.example.net\n\n"
        b"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.2.2\n"
        b"Diagnostic-Code: smtp; 552 5.2.2 mailbox full, please try again much later\n"
    )
    body = base64.encodebytes(fields) if encoding == "base64" else quopri.encodestring(fields)
    raw = (
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
        b"--B\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: "
        + encoding.encode()
        + b"\n\n"
        + body
        + b"\n--B--\n"
    )
    report = parse_ok(raw)
    assert report.reporting_mta == "mx.example.net"
    (rcpt,) = report.recipients
    assert (rcpt.address, str(rcpt.status), rcpt.reply_code) == ("a@example.com", "5.2.2", 552)
