"""The sans-I/O transaction plan: which commands, in which groups, and what the replies mean."""

from __future__ import annotations

import pytest

from smtpcore import Address, Capabilities, Data, LocalProtocolError, Mail, Rcpt, Reply
from smtpcore._transaction import Transaction

A = Address.parse


def caps(**kw: object) -> Capabilities:
    base: dict[str, object] = {"domain": "mx.test", "pipelining": True, "eightbitmime": True}
    base.update(kw)
    return Capabilities.build(**base)  # type: ignore[arg-type]


def reply(code: int, command: str, text: str = "x") -> Reply:
    return Reply(code=code, lines=(text,), command=command)


def test_pipelined_group_is_everything_at_once() -> None:
    # RFC 2920 §3.1: MAIL, every RCPT and DATA in one group.
    txn = Transaction(
        mail_from=A("a@x.test"), recipients=[A("b@y.test"), A("c@y.test")], capabilities=caps()
    )
    group = txn.next_commands()
    assert [type(c) for c in group] == [Mail, Rcpt, Rcpt, Data]
    assert txn.next_commands() == []


def test_without_pipelining_one_at_a_time_and_stop_after_refused_mail() -> None:
    txn = Transaction(
        mail_from=A("a@x.test"), recipients=[A("b@y.test")], capabilities=caps(pipelining=False)
    )
    [mail] = txn.next_commands()
    assert isinstance(mail, Mail)
    txn.record(reply(550, "MAIL"))
    assert txn.next_commands() == []
    result = txn.result()
    assert result.recipients[0].status == "failed"
    assert result.recipients[0].reply is not None and result.recipients[0].reply.code == 550


def test_no_data_when_every_recipient_was_refused() -> None:
    txn = Transaction(
        mail_from=None, recipients=[A("b@y.test")], capabilities=caps(pipelining=False)
    )
    txn.next_commands()
    txn.record(reply(250, "MAIL"))
    txn.next_commands()
    txn.record(reply(550, "RCPT"))
    assert txn.next_commands() == [] and not txn.ready_for_data and txn.needs_rset


def test_refused_mail_is_the_cause_not_the_following_503() -> None:
    txn = Transaction(mail_from=A("a@x.test"), recipients=[A("b@y.test")], capabilities=caps())
    txn.next_commands()
    for r in (
        reply(552, "MAIL", "too big"),
        reply(503, "RCPT", "need MAIL"),
        reply(503, "DATA", "need RCPT"),
    ):
        txn.record(r)
    outcome = txn.result().recipients[0]
    assert outcome.reply is not None and outcome.reply.code == 552
    assert outcome.status == "failed" and not txn.needs_rset


def test_partial_success_and_lmtp_replies_per_recipient() -> None:
    txn = Transaction(
        mail_from=A("a@x.test"),
        recipients=[A("b@y.test"), A("c@y.test"), A("d@y.test")],
        capabilities=caps(),
        lmtp=True,
    )
    txn.next_commands()
    for r in (
        reply(250, "MAIL"),
        reply(250, "RCPT"),
        reply(550, "RCPT"),
        reply(250, "RCPT"),
        reply(354, "DATA"),
    ):
        txn.record(r)
    assert txn.ready_for_data and txn.data_replies_expected == 2
    txn.record(reply(250, "."))
    txn.record(reply(452, ".", "full"))
    statuses = [o.status for o in txn.result().recipients]
    assert statuses == ["delivered", "failed", "deferred"]


def test_parameters_follow_content_and_capabilities() -> None:
    txn = Transaction(
        mail_from=A("a@x.test"),
        recipients=[A("b@bücher.test")],
        capabilities=caps(size=1000),
        size=10,
        eight_bit=True,
    )
    params = txn.mail.params
    assert params.body == "8BITMIME" and params.size == 10 and not params.smtputf8
    # without SMTPUTF8 the U-label domain goes out as A-labels
    assert txn.rcpts[0].forward_path.domain == "xn--bcher-kva.test"
    assert txn.result().recipients[0].address == A("b@bücher.test")
    with pytest.raises(LocalProtocolError, match="SMTPUTF8"):
        Transaction(mail_from=A("ä@x.test"), recipients=[A("b@y.test")], capabilities=caps())
    with pytest.raises(LocalProtocolError, match="SIZE"):
        Transaction(mail_from=None, recipients=[A("b@y.test")], capabilities=caps(size=5), size=10)
    with pytest.raises(LocalProtocolError, match="8BITMIME"):
        Transaction(
            mail_from=None,
            recipients=[A("b@y.test")],
            capabilities=caps(eightbitmime=False),
            eight_bit=True,
        )


def test_bdat_chosen_for_big_or_binary_messages() -> None:
    big = Transaction(
        mail_from=None,
        recipients=[A("b@y.test")],
        capabilities=caps(chunking=True),
        size=5 * 1024 * 1024,
    )
    assert big.use_bdat and not any(isinstance(c, Data) for c in big.next_commands())
    small = Transaction(
        mail_from=None, recipients=[A("b@y.test")], capabilities=caps(chunking=True), size=100
    )
    assert not small.use_bdat
    binary = Transaction(
        mail_from=None,
        recipients=[A("b@y.test")],
        capabilities=caps(chunking=True, binarymime=True),
        binary=True,
    )
    assert binary.use_bdat and binary.mail.params.body == "BINARYMIME"
