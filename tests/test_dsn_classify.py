"""smtpcore.dsn.classify: reasons from RFC 3463 codes, RFC 5321 replies and documented texts."""

from __future__ import annotations

import pytest

from smtpcore import dsn
from smtpcore._dsn_reasons import REASONS
from smtpcore._status import EnhancedStatus


def rcpt(
    status: str | None = None,
    text: str | None = None,
    *,
    action: str = "failed",
    reply: int | None = None,
    command: str | None = None,
) -> dsn.RecipientStatus:
    return dsn.RecipientStatus(
        final_recipient=dsn.TypedAddress(type="rfc822", address="x@example.com"),
        action=action,
        status=None if status is None else EnhancedStatus.parse(status),
        reply_code=reply,
        diagnostic_code=None if text is None else dsn.Diagnostic(type="smtp", text=text),
        smtp_command=command,
    )


# RFC 3463 §3: the registered meaning of the code decides when the text says nothing more.
@pytest.mark.parametrize(
    ("status", "reason", "hard"),
    [
        ("5.1.1", "userunknown", True),  # Bad destination mailbox address
        ("5.1.2", "hostunknown", True),  # Bad destination system address
        ("5.1.6", "hasmoved", True),  # Destination mailbox has moved
        ("5.1.8", "rejected", False),  # Bad sender's system address
        ("5.1.10", "notaccept", True),  # Recipient address has null MX (RFC 7505)
        ("4.1.10", "notaccept", False),
        ("5.2.2", "mailboxfull", False),  # Mailbox full
        ("4.2.2", "mailboxfull", False),
        ("5.2.3", "exceedlimit", False),  # Message length exceeds administrative limit
        ("5.3.4", "mesgtoobig", False),  # Message too big for system
        ("5.2.1", "suspend", False),  # Mailbox disabled
        ("5.7.26", "authfailure", False),  # Multiple authentication checks failed (RFC 7372)
        ("5.7.25", "requireptr", False),  # Reverse DNS validation failed (RFC 7372)
        ("4.4.7", "expired", False),  # Delivery time expired
    ],
)
def test_status_meaning(status: str, reason: str, hard: bool) -> None:
    got = dsn.classify(rcpt(status, "no further detail"))
    assert (got.reason, got.hard) == (reason, hard)
    assert got.reason in REASONS


def test_text_more_specific_than_code() -> None:
    # "550 5.1.1 ... Mailbox full": the words, not the code (p5-sisimai#236).
    assert dsn.classify(rcpt("5.1.1", "550 5.1.1 <x@example.com>... Mailbox full")).reason == (
        "mailboxfull"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org",
            "blocked",
        ),
        ("550 5.7.1 Message rejected as spam by Content Filtering", "spamdetected"),
        ("554 5.7.1 Relay access denied", "norelaying"),
        ("550 5.7.1 Client host rejected: cannot find your hostname, [192.0.2.2]", "requireptr"),
        (
            "550 5.7.1 Unauthenticated email is not accepted due to domain's DMARC policy",
            "authfailure",
        ),
        ("552 5.3.4 Message size exceeds fixed maximum message size", "mesgtoobig"),
        (
            "Host or domain name not found. Name service error for name=example.invalid",
            "hostunknown",
        ),
        ("554 5.7.1 The message contains a virus", "virusdetected"),
        ("retry timeout exceeded", "expired"),
    ],
)
def test_documented_texts(text: str, reason: str) -> None:
    assert dsn.classify(rcpt("5.0.0", text)).reason == reason


def test_unknown_user_after_data_is_filtered() -> None:
    # Accepted at RCPT, refused after the content was seen.
    after_data = rcpt("5.0.0", "550 Unknown user", command="DATA", reply=550)
    assert dsn.classify(after_data).reason == "filtered"
    at_rcpt = rcpt("5.0.0", "550 Unknown user", command="RCPT", reply=550)
    assert dsn.classify(at_rcpt).reason == "userunknown"


def test_transient_dns_failure_is_network_error() -> None:
    got = dsn.classify(rcpt("4.4.3", "Host or domain name not found (SERVFAIL)"))
    assert (got.reason, got.hard) == ("networkerror", False)


def test_delivered_and_reports_that_are_not_bounces() -> None:
    assert dsn.classify(rcpt("2.0.0", "250 ok", action="delivered")).reason == "delivered"
    feedback = dsn.Report(kind="feedback-report", feedback_type="abuse")
    assert dsn.classify(rcpt(), feedback).reason == "feedback"
    auto = dsn.Report(kind="auto-reply")
    assert dsn.classify(rcpt(), auto).reason == "vacation"


def test_x_unix_diagnostic_is_a_mailer_error() -> None:
    # RFC 3464 §2.3.6: the diagnostic type names the program that failed.
    r = dsn.RecipientStatus(
        action="failed",
        status=EnhancedStatus.parse("5.3.0"),
        diagnostic_code=dsn.Diagnostic(type="x-unix", text="255"),
    )
    assert dsn.classify(r).reason == "mailererror"


def test_nothing_known_is_undefined() -> None:
    got = dsn.classify(dsn.RecipientStatus(action="failed"))
    assert (got.reason, got.hard) == ("undefined", False)


def test_every_rule_names_a_known_reason() -> None:
    from smtpcore._dsn_reasons import DECISIVE_STATUS, REPLY_RULES, STATUS_RULES, TEXT_RULES

    named = {r for r, _, _ in TEXT_RULES} | set(DECISIVE_STATUS.values())
    named |= set(STATUS_RULES.values()) | set(REPLY_RULES.values())
    assert named <= set(REASONS)
    assert all(source for _, _, source in TEXT_RULES)


def test_provider_rule_needs_the_provider_the_command_and_a_generic_code() -> None:
    def docomo(status: str, command: str | None, host: str) -> dsn.RecipientStatus:
        return dsn.RecipientStatus(
            action="failed",
            status=EnhancedStatus.parse(status),
            reply_code=550,
            diagnostic_code=dsn.Diagnostic(type="smtp", text="550 Unknown user a@docomo.ne.jp"),
            remote_mta=host,
            smtp_command=command,
        )

    assert dsn.classify(docomo("5.0.0", "DATA", "mfsmax.docomo.ne.jp")).reason == "rejected"
    # Elsewhere, or with a specific code, the words mean what they say.
    assert dsn.classify(docomo("5.0.0", "DATA", "mx.example.jp")).reason == "filtered"
    assert dsn.classify(docomo("5.2.0", "DATA", "mfsmax.docomo.ne.jp")).reason != "rejected"
    assert dsn.classify(docomo("5.0.0", "RCPT", "mfsmax.docomo.ne.jp")).reason == "userunknown"


@pytest.mark.parametrize(
    ("exit_status", "reason"),
    [("67", "userunknown"), ("75", "systemerror"), ("255", "mailererror")],
)
def test_x_unix_exit_statuses_follow_sysexits(exit_status: str, reason: str) -> None:
    r = dsn.RecipientStatus(
        action="failed",
        status=EnhancedStatus.parse("5.0.0"),
        diagnostic_code=dsn.Diagnostic(type="x-unix", text=exit_status),
    )
    assert dsn.classify(r).reason == reason


def test_multi_line_reply_prefixes_do_not_split_phrases() -> None:
    text = (
        "550-5.7.1 [192.0.2.1] Messages with multiple 550-5.7.1 addresses in From: header "
        "are not accepted."
    )
    assert dsn.classify(rcpt("5.7.1", text)).reason == "notcompliantrfc"
