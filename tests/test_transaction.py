"""The sans-I/O transaction plan: which commands, in which groups, and what the replies mean."""

from __future__ import annotations

import pytest

from smtpcore import Address, Capabilities, Data, LocalProtocolError, Mail, Rcpt, Reply
from smtpcore._transaction import BDAT_WITH_ENVELOPE_MAX, Transaction

A = Address.parse


def caps(**kw: object) -> Capabilities:
    base: dict[str, object] = {"domain": "mx.test", "pipelining": True, "eightbitmime": True}
    base.update(kw)
    return Capabilities.build(**base)  # type: ignore[arg-type]


def reply(code: int, command: str, text: str = "x") -> Reply:
    return Reply(code=code, lines=(text,), command=command)


def chunking_txn(content: bytes = b"0123456789", rcpts: int = 1, lmtp: bool = False) -> Transaction:
    """A small message held in memory, to b@, c@... at a server with CHUNKING and PIPELINING."""
    return Transaction(
        mail_from=A("a@x.test"),
        recipients=[A(f"{name}@y.test") for name in "bcdefg"[:rcpts]],
        capabilities=caps(chunking=True),
        size=len(content),
        content=content,
        lmtp=lmtp,
    )


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


def test_small_whole_message_rides_with_the_envelope_as_bdat_last() -> None:
    # RFC 3030 §4.2's example pipelines MAIL, RCPT and "BDAT 986 LAST" with its data: with
    # CHUNKING and PIPELINING a small message held in memory needs one round trip.
    body = b"Subject: x\r\n\r\nhello\r\n"

    def plan(content: bytes | None = body, **kw: object) -> Transaction:
        use_bdat = kw.pop("use_bdat", None)
        return Transaction(
            mail_from=A("a@x.test"),
            recipients=[A("b@y.test")],
            capabilities=caps(**kw),
            size=None if content is None else len(content),
            content=content,
            use_bdat=use_bdat,  # type: ignore[arg-type]
        )

    txn = plan(chunking=True)
    assert txn.use_bdat and txn.bdat_with_envelope
    assert txn.envelope_chunk is body  # the adapter's chunk: the message itself, no copy
    assert [type(c) for c in txn.next_commands()] == [Mail, Rcpt]  # BDAT is the adapter's
    assert plan(b"x" * BDAT_WITH_ENVELOPE_MAX, chunking=True).bdat_with_envelope
    # Too big to risk before the RCPT replies: DATA below the BDAT threshold, chunks above.
    over = plan(b"x" * (BDAT_WITH_ENVELOPE_MAX + 1), chunking=True)
    assert not over.use_bdat and not over.bdat_with_envelope
    # Not in memory (a file, an iterable): nothing to send with the envelope.
    assert not plan(None, chunking=True).bdat_with_envelope
    # No CHUNKING, or no PIPELINING (the data would wait for the replies anyway): DATA.
    assert not plan().use_bdat
    assert not plan(chunking=True, pipelining=False).use_bdat
    # The caller decides: never BDAT, or BDAT (with the envelope only when it may).
    assert not plan(chunking=True, use_bdat=False).use_bdat
    forced = plan(chunking=True, pipelining=False, use_bdat=True)
    assert forced.use_bdat and not forced.bdat_with_envelope


@pytest.mark.parametrize(
    ("content", "with_envelope"),
    [
        (b"MAIL FROM:<evil@x.test>\r\n", False),
        (b"Subject: x\r\n\r\nrcpt to:<victim@y.test>\r\n", False),
        (b"Subject: x\r\n\r\n \t Mail From:<evil@x.test>\r\nRcPt TO:<victim@y.test>\r\n", False),
        (b"Subject: x\r\n\r\nmailbox full, said the server\r\n", False),  # a word so begun
        (b"Subject: mail\r\n\r\nthe mail, the rcpt\r\n", True),  # not at a line start
        (b"Subject: x\r\n\r\nmaybe\r\nrapid\r\nDATA\r\n", True),  # other words, verbs
    ],
)
def test_message_with_envelope_lines_waits_for_the_replies(
    content: bytes, with_envelope: bool
) -> None:
    # A server that takes a refused chunk for commands (RFC 3030 §2 forbids it; go-smtp#315)
    # would run a line beginning with MAIL or RCPT: such a message waits for the envelope's
    # replies, with DATA. Other lines keep the one round trip.
    txn = chunking_txn(content)
    assert txn.bdat_with_envelope is with_envelope
    assert txn.use_bdat is with_envelope
    assert (Data() in txn.next_commands()) is not with_envelope


def test_bdat_with_the_envelope_is_answered_once() -> None:
    txn = chunking_txn(rcpts=2)
    txn.next_commands()
    assert not txn.ready_for_data
    for r in (reply(250, "MAIL"), reply(250, "RCPT"), reply(550, "RCPT")):
        txn.record(r)
    assert txn.ready_for_data  # what the adapter's data step would look at ...
    txn.record(reply(250, "BDAT LAST"))
    assert not txn.ready_for_data  # ... and the data went with the envelope: nothing to send
    assert not txn.needs_rset
    result = txn.result()
    assert result.delivered == (A("b@y.test"),)
    assert result.outcome(A("c@y.test")).status == "failed"


@pytest.mark.parametrize(
    ("mail", "rcpt", "data", "rset"),
    [
        (250, 250, 250, False),  # delivered: the transaction is over
        (250, 250, 452, True),  # RFC 3030 §2: a refused chunk leaves the state in doubt
        (250, 550, 554, True),  # nobody accepted: the server still holds the MAIL
        (550, 503, 503, False),  # no transaction was ever opened
    ],
)
def test_refused_bdat_is_cleared_with_rset(mail: int, rcpt: int, data: int, rset: bool) -> None:
    txn = chunking_txn()
    txn.next_commands()
    for r in (reply(mail, "MAIL"), reply(rcpt, "RCPT"), reply(data, "BDAT LAST")):
        txn.record(r)
    assert txn.needs_rset is rset
    result = txn.result()
    assert bool(result.delivered) is (data == 250)
    if mail == rcpt == 250:
        assert result.data_reply is not None and result.data_reply.code == data
    else:
        # Refused because the envelope failed first (as a pipelined DATA's 503, RFC 2920
        # §3.1): not the message's answer; the envelope's replies decide.
        assert result.data_reply is None and txn.early_data_reply is not None
        assert result.recipients[0].reply is not None
        assert result.recipients[0].reply.code == (mail if mail != 250 else rcpt)


def test_lmtp_bdat_rset_only_when_every_recipient_was_refused() -> None:
    # RFC 2033 §4.2: one reply per accepted recipient; a mixed answer is a finished delivery.
    def run(*codes: int) -> Transaction:
        txn = chunking_txn(rcpts=2, lmtp=True)
        txn.next_commands()
        for r in (reply(250, "MAIL"), reply(250, "RCPT"), reply(250, "RCPT")):
            txn.record(r)
        assert txn.data_replies_expected == 2
        for code in codes:
            txn.record(reply(code, "BDAT LAST"))
        return txn

    assert not run(250, 452).needs_rset
    assert run(452, 552).needs_rset
    assert run(250, 452).result().delivered == (A("b@y.test"),)


def test_answered_data_is_neither_ready_nor_open() -> None:
    # Once the end of data is answered there is nothing left to send or to end, and no
    # transaction to clear (RFC 5321 §4.1.1.4: the reply to the end of data closes it).
    txn = Transaction(mail_from=A("a@x.test"), recipients=[A("b@y.test")], capabilities=caps())
    txn.next_commands()
    for r in (reply(250, "MAIL"), reply(250, "RCPT"), reply(354, "DATA")):
        txn.record(r)
    assert txn.ready_for_data and not txn.data_open_without_recipients
    txn.record(reply(554, "."))
    assert not txn.ready_for_data
    assert not txn.data_open_without_recipients
    assert not txn.needs_rset
    assert txn.result().recipients[0].status == "failed"
