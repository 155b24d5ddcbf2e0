"""smtpcore.dsn on bounces that are not RFC 3464: each MTA's own notice format."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpcore import dsn

DATA = Path(__file__).parent / "data" / "dsn"


def parse_ok(raw: bytes | str) -> dsn.Report:
    report = dsn.parse(raw)
    assert report is not None
    return report


def test_exim_notice_two_recipients() -> None:
    report = parse_ok((DATA / "exim-text.eml").read_bytes())
    assert report.kind == "text-bounce"
    assert report.is_bounce
    bob, carol = report.recipients
    assert bob.address == "bob@example.com"
    assert bob.action == "failed"
    assert str(bob.status) == "5.1.1"
    assert bob.reply_code == 550
    # Exim names the command the reply answered ("after RCPT TO:").
    assert bob.smtp_command == "RCPT"
    assert bob.diagnostic_code is not None
    assert "Recipient address rejected: User unknown" in bob.diagnostic_code.text
    assert dsn.classify(bob).reason == "userunknown"
    assert carol.address == "carol@example.com"
    assert (str(carol.status), carol.reply_code, carol.smtp_command) == ("5.2.2", 552, "DATA")
    assert dsn.classify(carol).reason == "mailboxfull"
    # The returned message follows the "------ This is a copy" line.
    assert report.returned_headers == dsn.ReturnedHeaders(
        message_id="<lunch@example.org>",
        from_="Alice <alice@example.org>",
        to="bob@example.com, carol@example.com",
        subject="Lunch",
    )


def test_qmail_notice() -> None:
    report = parse_ok((DATA / "qmail-text.eml").read_bytes())
    (dave,) = report.recipients
    assert dave.address == "dave@example.com"
    assert (str(dave.status), dave.reply_code) == ("5.7.1", 550)
    # qmail's "Giving up on <ip>" is boiler-plate, not an expiry; the reply is a DNSBL listing.
    assert dsn.classify(dave).reason == "blocked"
    assert not dsn.classify(dave).hard


POSTFIX_TEXT = """\
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: alice@example.org
Subject: Undelivered Mail Returned to Sender
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

                   The mail system

<erin@example.com>: host mail.example.com[192.0.2.30] said: 552 5.2.2
    <erin@example.com>: Mailbox full (in reply to RCPT TO command)
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_postfix_text_any_line_ending(newline: str) -> None:
    report = parse_ok(POSTFIX_TEXT.replace("\n", newline))
    (erin,) = report.recipients
    assert erin.address == "erin@example.com"
    assert (str(erin.status), erin.reply_code, erin.smtp_command) == ("5.2.2", 552, "RCPT")
    assert dsn.classify(erin).reason == "mailboxfull"


SENDMAIL_TRANSCRIPT = """\
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>
To: alice@example.org
Subject: Returned mail: see transcript for details
Content-Type: text/plain; charset=us-ascii

   ----- The following addresses had permanent fatal errors -----
<frank@example.com>

   ----- Transcript of session follows -----
... while talking to mail.example.com.:
>>> RCPT To:<frank@example.com>
<<< 550 5.1.1 <frank@example.com>... User unknown
550 5.1.1 <frank@example.com>... User unknown

   ----- Original message follows -----
From: alice@example.org
To: frank@example.com
Subject: hi
"""


def test_sendmail_transcript() -> None:
    (frank,) = parse_ok(SENDMAIL_TRANSCRIPT).recipients
    assert frank.address == "frank@example.com"
    assert (str(frank.status), frank.reply_code, frank.smtp_command) == ("5.1.1", 550, "RCPT")
    assert dsn.classify(frank) == dsn.Classification(
        reason="userunknown", hard=True, source="status: RFC 3463 X.1.1"
    )


def test_iso_2022_jp_text_bounce_without_charset() -> None:
    body = "次のあて先へのメッセージはエラーのため送信できませんでした。\n".encode("iso-2022-jp")
    raw = (
        b"From: MAILER-DAEMON@mx.example.jp\nTo: alice@example.org\n"
        b"Subject: Undelivered Mail\n\n" + body + b"\n<grace@example.jp>: 550 5.1.1 unknown user\n"
    )
    (grace,) = parse_ok(raw).recipients
    assert grace.address == "grace@example.jp"
    assert str(grace.status) == "5.1.1"


def test_bare_reply_code_gives_class_status() -> None:
    # RFC 3463 §3.1: with only "550" known, the status is the class with nothing specific.
    raw = (
        "From: MAILER-DAEMON@mx.example.net\nTo: a@example.org\nSubject: failure notice\n\n"
        "<heidi@example.com>:\nRemote host said: 550 Requested action not taken\n"
    )
    (heidi,) = parse_ok(raw).recipients
    assert (str(heidi.status), heidi.reply_code) == ("5.0.0", 550)


def test_amazon_ses_json_notifications() -> None:
    bounce = (
        '{"notificationType":"Bounce","bounce":{"bounceType":"Permanent",'
        '"bouncedRecipients":[{"emailAddress":"ivan@example.com","action":"failed",'
        '"status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]},'
        '"mail":{"source":"alice@example.org"}}'
    )
    raw = "From: no-reply@sns.amazonaws.com\nSubject: AWS Notification Message\n\n" + bounce
    report = parse_ok(raw)
    (ivan,) = report.recipients
    assert report.is_bounce
    assert (ivan.address, str(ivan.status), ivan.reply_code) == ("ivan@example.com", "5.1.1", 550)
    complaint = (
        '{"notificationType":"Complaint","complaint":{"complainedRecipients":'
        '[{"emailAddress":"judy@example.com"}],"complaintFeedbackType":"abuse"}}'
    )
    report = parse_ok("Subject: AWS Notification Message\n\n" + complaint)
    assert report.kind == "feedback-report"
    assert not report.is_bounce
    assert report.feedback_type == "abuse"
    assert [r.address for r in report.recipients] == ["judy@example.com"]


def test_fields_in_a_part_the_mime_structure_lost() -> None:
    # A multipart/report whose boundary never appears: the RFC 3464 fields are still read.
    raw = (
        "From: MAILER-DAEMON@mx.example.net\nSubject: Returned mail\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="NOPE"\n\n'
        "--WRONG\n\nReporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: rfc822; mallory@example.com\nAction: failed\nStatus: 5.2.2\n"
        "Diagnostic-Code: smtp; 552 5.2.2 Over quota\n"
    )
    (mallory,) = parse_ok(raw).recipients
    assert (mallory.address, str(mallory.status), mallory.reply_code) == (
        "mallory@example.com",
        "5.2.2",
        552,
    )


def test_blocks_without_blank_lines() -> None:
    raw = (
        "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.net\n"
        "Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.2.2\n"
        "Final-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.1.1\n"
        "--B--\n"
    )
    report = parse_ok(raw)
    assert report.reporting_mta == "mx.example.net"
    assert [(r.address, str(r.status)) for r in report.recipients] == [
        ("a@example.com", "5.2.2"),
        ("b@example.com", "5.1.1"),
    ]


def test_ordinary_mail_mentioning_addresses_is_not_a_bounce() -> None:
    raw = (
        "From: Bob <bob@example.com>\nTo: alice@example.org\nSubject: lunch\n\n"
        "<carol@example.com>: says 550 times thanks\n"
    )
    assert dsn.parse(raw) is None


def _report(fields: str, text: str = "") -> str:
    return (
        "From: MAILER-DAEMON@mx.example.net\nSubject: Returned mail\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
        f"--B\nContent-Type: text/plain\n\n{text}\n"
        f"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        f"{fields}\n--B--\n"
    )


def test_reply_quoted_in_angle_brackets_wins() -> None:
    # A relay's own verdict wrapping the remote server's last reply (Amazon SES).
    raw = _report(
        "Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 4.4.7\n"
        "Diagnostic-Code: smtp; 554 4.4.7 Message expired: unable to deliver in 840 "
        "minutes.<421 4.4.2 Connection timed out>\n"
    )
    (rcpt,) = parse_ok(raw).recipients
    assert (str(rcpt.status), rcpt.reply_code, rcpt.raw_status) == ("4.4.2", 421, "4.4.7")
    assert dsn.classify(rcpt).reason == "expired"


def test_status_contradicting_the_action_yields_to_the_reply() -> None:
    # RFC 3464 §2.3.3: "failed" is permanent; the 5xx reply agrees, the 4.x.x field does not.
    raw = _report(
        "Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 4.5.0\n"
        "Diagnostic-Code: smtp; 550 5.5.0 Service refused\n"
    )
    (rcpt,) = parse_ok(raw).recipients
    assert (str(rcpt.status), rcpt.reply_code) == ("5.5.0", 550)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("550 5.1.1 user unknown", 550),
        ("host said: 552-5.2.2 over quota", 552),
        ("426 connection timed out", None),  # not an SMTP reply code
        ("571 No PTR record", None),
        ("Size (in bytes): 222", None),
    ],
)
def test_only_smtp_reply_codes_are_read(text: str, code: int | None) -> None:
    raw = _report(
        f"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.0.0\n"
        f"Diagnostic-Code: smtp; {text}\n"
    )
    (rcpt,) = parse_ok(raw).recipients
    assert rcpt.reply_code == code


def test_thin_report_completed_from_the_notice() -> None:
    # Exim writes the program that failed as the recipient and explains only in the text.
    text = (
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  pipe to |/usr/local/bin/filter alice@example.com\n"
        "    generated by alice@example.com\n"
    )
    raw = _report(
        "Final-Recipient: rfc822;|/usr/local/bin/filter alice@example.com\n"
        "Action: failed\nStatus: 5.0.0\n",
        text,
    )
    (rcpt,) = parse_ok(raw).recipients
    assert rcpt.address == "|/usr/local/bin/filter alice@example.com"
    assert rcpt.diagnostic_code is not None
    assert dsn.classify(rcpt).reason == "mailererror"


def test_pmdf_style_field_names() -> None:
    raw = (
        "From: PMDF e-Mail Interconnect <MAILER-DAEMON@mx.example.net>\n"
        "Subject: Delivery Notification: Delivery has failed\n\n"
        "Your message cannot be delivered to the following recipients:\n\n"
        "  Recipient address: kim@example.org\n"
        "  Reason: Remote SMTP server has rejected address\n"
        "  Diagnostic code: smtp; 550 5.1.1 User unknown\n"
        "  Remote system: dns; mx.example.org\n"
    )
    (kim,) = parse_ok(raw).recipients
    assert (kim.address, str(kim.status), kim.reply_code, kim.remote_mta) == (
        "kim@example.org",
        "5.1.1",
        550,
        "mx.example.org",
    )


def test_bounce_forwarded_as_an_attachment() -> None:
    inner = _report("Final-Recipient: rfc822; lee@example.com\nAction: failed\nStatus: 5.1.1\n")
    raw = (
        "From: gateway@example.net\nSubject: fwd\n"
        "Content-Type: multipart/mixed; boundary=OUT\n\n"
        "--OUT\nContent-Type: text/plain\n\nsee attached\n"
        "--OUT\nContent-Type: message/rfc822\n\n" + inner + "\n--OUT--\n"
    )
    report = parse_ok(raw)
    assert [r.address for r in report.recipients] == ["lee@example.com"]


def test_undeclared_euc_jp() -> None:
    body = "宛先のメールボックスがいっぱいです。\n".encode("euc-jp")
    raw = (
        b"From: postmaster@mx.example.jp\nTo: a@example.org\nSubject: Returned mail\n\n"
        + body
        + b"<nao@example.jp>: 552 5.2.2 mailbox full\n"
    )
    (nao,) = parse_ok(raw).recipients
    assert nao.address == "nao@example.jp"
    assert nao.diagnostic_code is not None
    assert "メールボックス" in parse_text(raw)


def parse_text(raw: bytes) -> str:
    import email

    from smtpcore._dsn_text import body_text

    return body_text(email.message_from_bytes(raw))


def test_automated_mail_is_not_a_bounce_without_a_non_delivery_statement() -> None:
    raw = (
        "From: Build Server <noreply@ci.example.com>\nTo: dev@example.org\n"
        "Subject: Error in nightly build\n\n"
        "The job failed. Contact <ops@example.com>: we will look into it.\n"
    )
    assert dsn.parse(raw) is None
    # The same automated sender saying it could not deliver is a bounce.
    raw = raw.replace("The job failed.", "Your message could not be delivered to:\n").replace(
        "Contact <ops@example.com>: we will look into it.", "<ops@example.com>: 550 5.1.1 unknown"
    )
    (ops,) = parse_ok(raw).recipients
    assert (ops.address, str(ops.status)) == ("ops@example.com", "5.1.1")


def test_localized_exchange_subject() -> None:
    raw = (
        "From: Microsoft Outlook <admin@example.de>\nTo: a@example.org\n"
        "Subject: Unzustellbar: Angebot\n\n"
        "Ihre Nachricht konnte nicht an folgende Empfänger zugestellt werden:\n\n"
        "    uwe@example.de\n"
        "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\n"
    )
    (uwe,) = parse_ok(raw).recipients
    assert (uwe.address, str(uwe.status), uwe.reply_code) == ("uwe@example.de", "5.1.1", 550)
    assert dsn.classify(uwe).reason == "userunknown"


def test_office365_text_ndr_reads_the_administrators_section() -> None:
    raw = (
        "From: Microsoft Outlook <postmaster@example.onmicrosoft.com>\nTo: a@example.org\n"
        "Subject: Undeliverable: Offer\n\n"
        "Your message to vera@example.net couldn't be delivered.\n\n"
        "Delivery has failed to these recipients or groups:\n\n"
        "vera@example.net\n"
        "The email address you entered couldn't be found.\n\n"
        "Diagnostic information for administrators:\n\n"
        "Generating server: DM5PR.example.prod.outlook.com\n\n"
        "vera@example.net\n"
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not "
        "found by SMTP address lookup'\n\n"
        "Original message headers:\n\n"
        "From: a@example.org\nTo: vera@example.net\nSubject: Offer\n"
    )
    report = parse_ok(raw)
    (vera,) = report.recipients
    assert (vera.address, str(vera.status), vera.reply_code) == ("vera@example.net", "5.1.10", 550)
    # RFC 7505 registered X.1.10 for null MX, but Exchange uses it for an unknown recipient.
    assert dsn.classify(vera).reason == "userunknown"
    assert report.returned_headers is not None
    assert report.returned_headers.subject == "Offer"
