"""Events are small immutable values that cannot be built invalid (DESIGN.md, habit 3).

The injection rule: a CR, LF or NUL in any text field of any event raises LocalProtocolError
when the event is built, so no byte ever reaches the wire (cf. python/cpython#87290, command
injection through smtplib arguments). A test below walks every field of every event class,
so a new text field without a check fails here.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any

import pytest

import smtpcore
from smtpcore import (
    NEED_DATA,
    PAUSED,
    Address,
    Auth,
    AuthCancel,
    AuthResponse,
    Bdat,
    ClientConnection,
    Command,
    ConnectionClosed,
    Data,
    DeliverBy,
    Ehlo,
    EndOfChunk,
    EndOfMessage,
    EnhancedStatus,
    Event,
    Expn,
    Helo,
    Help,
    InvalidCommand,
    Lhlo,
    LocalProtocolError,
    Mail,
    MailParams,
    MessageData,
    Noop,
    OriginalRecipient,
    Quit,
    Rcpt,
    RcptParams,
    Reply,
    Rset,
    StartTLS,
    StatusHint,
    UnknownCommand,
    Vrfy,
)
from smtpcore._commands import format_command

A = Address.parse
INJECTIONS = ["\r", "\n", "\x00", "\r\nRSET", "x\r\nMAIL FROM:<evil@x.example>", "\n.\n"]

# For each event with text, a builder from one string (the field under test) to the event.
# Fields are reached through the nested values too (MailParams, RcptParams, Address, ...).
TEXT_FIELDS: dict[str, Callable[[str], object]] = {
    "Ehlo.hostname": lambda s: Ehlo(hostname=f"a{s}b"),
    "Helo.hostname": lambda s: Helo(hostname=f"a{s}b"),
    "Lhlo.hostname": lambda s: Lhlo(hostname=f"a{s}b"),
    "Vrfy.argument": lambda s: Vrfy(argument=f"a{s}b"),
    "Expn.argument": lambda s: Expn(argument=f"a{s}b"),
    "Help.argument": lambda s: Help(argument=f"a{s}b"),
    "Noop.argument": lambda s: Noop(argument=f"a{s}b"),
    "Auth.mechanism": lambda s: Auth(mechanism=f"PLAIN{s}"),
    "UnknownCommand.name": lambda s: UnknownCommand(name=f"X{s}"),
    "UnknownCommand.argument": lambda s: UnknownCommand(name="XFOO", argument=f"a{s}b"),
    "Mail.reverse_path.local_part": lambda s: Mail(reverse_path=Address(f"a{s}b", "c.example")),
    "Mail.reverse_path.domain": lambda s: Mail(reverse_path=Address("a", f"c{s}.example")),
    "Rcpt.forward_path.local_part": lambda s: Rcpt(forward_path=Address(f'"a{s}"', "c.example")),
    "Rcpt.forward_path.domain": lambda s: Rcpt(forward_path=Address("a", f"[x:y{s}]")),
    "MailParams.envid": lambda s: MailParams(envid=f"id{s}"),
    "MailParams.auth": lambda s: MailParams(auth=f"a{s}@b"),
    "MailParams.extra.keyword": lambda s: MailParams(extra=((f"X{s}", None),)),
    "MailParams.extra.value": lambda s: MailParams(extra=(("X", f"v{s}"),)),
    "RcptParams.notify": lambda s: RcptParams(notify=(f"SUCCESS{s}",)),
    "RcptParams.extra.keyword": lambda s: RcptParams(extra=((f"X{s}", "v"),)),
    "RcptParams.extra.value": lambda s: RcptParams(extra=(("X", f"v{s}"),)),
    "OriginalRecipient.addr_type": lambda s: OriginalRecipient(addr_type=f"rfc822{s}", address="a"),
    "OriginalRecipient.address": lambda s: OriginalRecipient(addr_type="rfc822", address=f"a{s}"),
    "Reply.lines": lambda s: Reply(code=250, lines=(f"ok{s}",)),
    "Reply.lines[1]": lambda s: Reply(code=250, lines=("ok", f"more{s}")),
    "Reply.of.enhanced": lambda s: Reply.of(250, "ok", f"2.0.0{s}"),
}


@pytest.mark.parametrize("field", sorted(TEXT_FIELDS))
@pytest.mark.parametrize("injection", INJECTIONS)
def test_cr_lf_nul_in_any_field_raises(field: str, injection: str) -> None:
    with pytest.raises(LocalProtocolError):
        TEXT_FIELDS[field](injection)


@pytest.mark.parametrize("injection", INJECTIONS)
def test_reply_text_helpers_split_lines_and_refuse_the_rest(injection: str) -> None:
    """``Reply.of`` and ``Reply.from_hint`` take ``\\n`` as the line separator (a multi-line
    reply, RFC 5321 §4.2.1); any other CR or NUL still raises."""
    hint = StatusHint.of(550, "5.1.1", "x")
    for build in (lambda t: Reply.of(250, t), lambda t: Reply.from_hint(hint, t)):
        text = f"ok{injection}x"
        if "\n" not in injection:
            with pytest.raises(LocalProtocolError):
                build(text)
            continue
        reply = build(text)
        assert len(reply.lines) == text.count("\n") + 1
        assert not any(c in line for line in reply.lines for c in "\r\n\x00")


def test_the_builders_are_valid_without_injection() -> None:
    # the table above proves something only if each builder works with harmless text
    for field, build in TEXT_FIELDS.items():
        if field in ("Reply.of.enhanced",):
            continue
        build("")


def _text_fields(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    return [
        f.name
        for f in dataclasses.fields(cls)
        if "str" in str(hints[f.name])
        or "Address" in str(hints[f.name])
        or "Params" in str(hints[f.name])
        or "OriginalRecipient" in str(hints[f.name])
    ]


def test_every_text_field_of_every_event_is_covered() -> None:
    """Walk the event classes: each field that holds text (directly or nested) has an
    injection builder above, so a field added later without a check fails this test."""
    classes = [
        getattr(smtpcore, name)
        for name in smtpcore.__all__
        if isinstance(getattr(smtpcore, name), type)
        and dataclasses.is_dataclass(getattr(smtpcore, name))
        and getattr(smtpcore, name).__module__ == "smtpcore._events"
    ]
    assert Mail in classes and Reply in classes and MailParams in classes
    covered = {key.split(".")[0] + "." + key.split(".")[1].split("[")[0] for key in TEXT_FIELDS}
    exempt = {
        # server-side records of what was received, never formatted onto the wire
        "InvalidCommand.verb",
        "InvalidCommand.line",
        "InvalidCommand.reason",
        "InvalidCommand.hint",
        # set by the client engine, not part of the value
        "Reply.command",
        # typed values checked by their own classes (covered under their own names)
        "Mail.params",
        "Rcpt.params",
        "MailParams.body",  # Literal, checked against a fixed set
        "MailParams.ret",
        "MailParams.by",
        "RcptParams.orcpt",
        "DeliverBy.mode",
    }
    missing = []
    for cls in classes:
        for name in _text_fields(cls):
            key = f"{cls.__name__}.{name}"
            if key not in covered and key not in exempt:
                missing.append(key)
    assert missing == []


def test_typed_values_refuse_what_the_grammar_refuses() -> None:
    bad: list[Callable[[], object]] = [
        lambda: MailParams(body="9BIT"),  # type: ignore[arg-type]
        lambda: MailParams(ret="NONE"),  # type: ignore[arg-type]
        lambda: MailParams(size=-1),
        lambda: MailParams(size=10**20),  # RFC 1870 §3: at most 20 digits
        lambda: MailParams(envid=""),
        lambda: MailParams(envid="x" * 101),  # RFC 3461 §4.4
        lambda: MailParams(envid="é"),  # printable US-ASCII only
        lambda: MailParams(auth=""),  # "<>" is the empty identity (RFC 4954 §5)
        lambda: MailParams(mt_priority=10),  # RFC 6710 §3
        lambda: MailParams(extra=(("SIZE", "1"),)),  # typed parameters are set by name
        lambda: MailParams(extra=(("by", "1;R"),)),
        lambda: MailParams(extra=(("X", "a"), ("x", "b"))),  # twice, in any case
        lambda: MailParams(extra=(("X", "a=b"),)),  # "=" is not in esmtp-value
        lambda: MailParams(extra=(("X", "a b"),)),
        lambda: MailParams(extra=(("X", ""),)),
        lambda: MailParams(extra=(("-X", None),)),
        lambda: DeliverBy(seconds=0, mode="R"),  # RFC 2852 §4: R needs a positive time
        lambda: DeliverBy(seconds=10**9, mode="N"),
        lambda: DeliverBy(seconds=5, mode="X"),  # type: ignore[arg-type]
        lambda: RcptParams(notify=()),
        lambda: RcptParams(notify=("NEVER", "DELAY")),  # RFC 3461 §4.1
        lambda: RcptParams(notify=("DELAY", "delay")),
        lambda: RcptParams(extra=(("ORCPT", "rfc822;a"),)),
        lambda: OriginalRecipient(addr_type="rfc822", address=""),
        lambda: OriginalRecipient(addr_type="-x", address="a"),
        lambda: Bdat(size=-1),
        lambda: Bdat(size=10**20),
        lambda: Vrfy(argument=" "),  # RFC 5321 §4.1.1.6: VRFY needs a string
        lambda: Expn(argument=""),
        lambda: Ehlo(hostname=""),
        lambda: Ehlo(hostname="a b"),
        lambda: Auth(mechanism=""),
        lambda: Auth(mechanism="A" * 21),  # RFC 4422 §3.1: 1*20 mech-char
        lambda: Auth(mechanism="PL@IN"),
        lambda: UnknownCommand(name="1X"),
        lambda: UnknownCommand(name="RCPT", argument="TO:<a@b.example>"),  # has its own event
        lambda: UnknownCommand(name="data"),
        lambda: Reply(code=199),
        lambda: Reply(code=600),
        lambda: Reply(code=260),  # RFC 5321 §4.2: second digit 0-5
        lambda: Reply(code=True),  # type: ignore[arg-type]
        lambda: Reply(code="250"),  # type: ignore[arg-type]
        lambda: Reply(code=250, lines="one line"),  # type: ignore[arg-type]
    ]
    for i, make in enumerate(bad):
        with pytest.raises(LocalProtocolError):
            make()
            pytest.fail(f"case {i} was built")


def test_normalisation() -> None:
    assert Auth(mechanism="plain").mechanism == "PLAIN"
    assert UnknownCommand(name="xclient").name == "XCLIENT"
    assert RcptParams(notify=("success", "Delay")).notify == ("SUCCESS", "DELAY")
    assert MailParams(extra=(("x-foo", "1"),)).extra == (("X-FOO", "1"),)
    assert RcptParams(extra=(("x-bar", None),)) == RcptParams(extra=(("X-BAR", None),))
    assert Reply(code=250, lines=()).lines == ("",)


def test_events_are_frozen_slotted_keyword_only_values() -> None:
    samples: list[Any] = [
        Ehlo(hostname="a.example"),
        Mail(reverse_path=None),
        Rcpt(forward_path=A("b@c.example")),
        Bdat(size=1),
        Reply(code=250),
        MessageData(data=b"x"),
        EndOfMessage(),
        EndOfChunk(size=1),
        ConnectionClosed(),
        MailParams(),
        RcptParams(),
        InvalidCommand(verb="X", line="X", reason="r", hint=StatusHint.of(500, None, "x")),
    ]
    for ev in samples:
        assert not hasattr(ev, "__dict__")
        for f in dataclasses.fields(ev):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(ev, f.name, getattr(ev, f.name))
        assert ev == dataclasses.replace(ev)
        hash(ev)
    with pytest.raises(TypeError):
        Ehlo("a.example")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Reply(250)  # type: ignore[misc]


def test_events_compare_by_value() -> None:
    assert Mail(reverse_path=A("a@b.example")) == Mail(reverse_path=A("a@b.example"))
    assert Mail(reverse_path=A("a@b.example")) != Mail(reverse_path=A("A@b.example"))
    assert Data() == Data() and Data() != Rset() and Quit() != StartTLS()
    assert AuthCancel() == AuthCancel()
    assert AuthResponse(data=b"x") != AuthResponse(data=b"y")
    # Reply.command is a note from the client engine, not part of the value
    assert Reply(code=250, command="MAIL") == Reply(code=250, command="RCPT")
    assert Reply(code=250, lines=("a",)) != Reply(code=251, lines=("a",))
    assert isinstance(Data(), Command) and isinstance(Reply(code=250), Event)
    assert not isinstance(Reply(code=250), Command)


def test_verbs() -> None:
    verbs = {
        cls: cls.verb
        for cls in (Ehlo, Helo, Lhlo, Mail, Rcpt, Data, Bdat, Rset, Vrfy, Expn, Help, Noop)
    }
    assert verbs[Mail] == "MAIL" and verbs[Bdat] == "BDAT" and verbs[Lhlo] == "LHLO"
    assert Quit.verb == "QUIT" and StartTLS.verb == "STARTTLS" and Auth.verb == "AUTH"
    assert AuthCancel.verb == "*"


def test_reply_helpers() -> None:
    # RFC 2034 §4: the enhanced code follows the reply code on every line
    reply = Reply.of(550, "No such user\nhere", "5.1.1")
    assert reply.lines == ("5.1.1 No such user", "5.1.1 here")
    assert reply.enhanced == EnhancedStatus.parse("5.1.1")
    assert reply.message == "No such user\nhere"
    assert reply.text == "5.1.1 No such user\n5.1.1 here"
    assert reply.is_permanent and not reply.is_positive and not reply.is_transient
    assert Reply.of(451, "later", "4.3.0").is_transient
    assert Reply.of(354, "go").is_intermediate and Reply.of(354, "go").is_positive
    assert str(Reply.of(250, "a\nb")) == "250 a / 250 b"
    # an enhanced code of another class than the reply is not taken (RFC 3463 §2)
    assert Reply.of(250, "5.1.1 odd").enhanced is None
    assert Reply.of(250, "2.1.5").enhanced == EnhancedStatus.parse("2.1.5")
    assert Reply.of(250, "2.1.5x").enhanced is None
    hint = StatusHint.of(503, "5.5.1", "Bad sequence of commands")
    assert Reply.from_hint(hint) == Reply(code=503, lines=("5.5.1 Bad sequence of commands",))
    assert Reply.from_hint(hint, "Send EHLO first").message == "Send EHLO first"


def test_sentinels() -> None:
    assert repr(NEED_DATA) == "NEED_DATA" and repr(PAUSED) == "PAUSED"
    assert NEED_DATA is not PAUSED


def test_injection_never_reaches_a_connection() -> None:
    """The client writes nothing when handed a poisoned value: building it already fails,
    and binary fields (AUTH data, message data) are encoded so they cannot break a line."""
    client = ClientConnection()
    client.receive_data(b"220 mx.example\r\n250-mx.example\r\n250 AUTH PLAIN\r\n")
    client.next_event()
    client.send(Ehlo(hostname="c.example"))
    client.next_event()
    with pytest.raises(LocalProtocolError):
        client.send(Vrfy(argument="x\r\nRSET"))
    client = ClientConnection()
    for data in (b"\r\n", b"\r\nQUIT\r\n", b"\x00", b"\n.\n"):
        for cmd in (Auth(mechanism="PLAIN", initial_response=data), AuthResponse(data=data)):
            wire = format_command(cmd)
            assert wire.count(b"\n") == 1 and wire.endswith(b"\r\n") and b"\0" not in wire
