"""The state tables, exhaustively (h2's habit: every state x every input).

* Every entry of ``TRANSITIONS`` is driven through a real client/server pair with a reply of
  each class the step allows, and both engines land where the table says.
* Every (state, step) pair that is *not* in the table is refused: the client raises
  LocalProtocolError before writing a byte, the server answers 503 (RFC 5321 §4.1.4) or the
  documented alternative.
* Every state is reachable, every step has reply codes, replies a step does not allow are
  refused on both sides, and 421 closes from anywhere (RFC 5321 §3.8).
"""

from __future__ import annotations

from collections import deque

import pytest

from smtpcore import (
    NEED_DATA,
    PAUSED,
    Address,
    Auth,
    AuthCancel,
    AuthResponse,
    Bdat,
    Capabilities,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    Data,
    Ehlo,
    EndOfChunk,
    EndOfMessage,
    Event,
    Expn,
    Helo,
    Help,
    InvalidCommand,
    Lhlo,
    Limits,
    LocalProtocolError,
    Mail,
    MessageData,
    Noop,
    Quit,
    Rcpt,
    RemoteProtocolError,
    Reply,
    Rset,
    ServerConfig,
    ServerConnection,
    StartTLS,
    State,
    UnknownCommand,
    Vrfy,
)
from smtpcore._state import (
    GROUP_ENDERS,
    OUTCOMES,
    REPLY_CODES,
    TRANSITIONS,
    next_state,
    reply_allowed,
    reply_outcome,
)
from tests.helpers import ConnectionPair, drain

CAPS = Capabilities.build(
    domain="mx.example",
    pipelining=True,
    chunking=True,
    starttls=True,
    auth=("PLAIN",),
    size=10_000,
    dsn=True,
)

# What the client sends for each step of the tables.
STEP_EVENTS: dict[str, list[Event]] = {
    "EHLO": [Ehlo(hostname="c.example")],
    "HELO": [Helo(hostname="c.example")],
    "LHLO": [Lhlo(hostname="c.example")],
    "MAIL": [Mail(reverse_path=Address.parse("a@c.example"))],
    "RCPT": [Rcpt(forward_path=Address.parse("b@mx.example"))],
    "DATA": [Data()],
    ".": [MessageData(data=b"hi\r\n"), EndOfMessage()],
    "BDAT": [Bdat(size=3), MessageData(data=b"abc")],
    "BDAT LAST": [Bdat(size=3, last=True), MessageData(data=b"xyz")],
    "RSET": [Rset()],
    "VRFY": [Vrfy(argument="bob")],
    "EXPN": [Expn(argument="staff")],
    "HELP": [Help()],
    "NOOP": [Noop()],
    "QUIT": [Quit()],
    "STARTTLS": [StartTLS()],
    "AUTH": [Auth(mechanism="PLAIN")],
    "AUTH*": [AuthResponse(data=b"\0user\0pass")],
    "*": [AuthCancel()],
    "UNKNOWN": [UnknownCommand(name="XFOO", argument="bar")],
}
STEPS = sorted(STEP_EVENTS)
LMTP_ONLY = {"LHLO"}
NOT_LMTP = {"EHLO", "HELO"}


def new_pair(*, lmtp: bool = False) -> ConnectionPair:
    server = ServerConnection(
        capabilities=CAPS,
        config=ServerConfig(hostname="mx.example", lmtp=lmtp, limits=Limits(errors=1000)),
        auth_requires_tls=False,
    )
    return ConnectionPair(ClientConnection(config=ClientConfig(lmtp=lmtp)), server)


def answer(pair: ConnectionPair, reply: Reply) -> list[Event]:
    return pair.server_send(reply)


# A path from the start to each state; both engines walk it together.
def pair_in(state: State, *, lmtp: bool = False) -> ConnectionPair:
    pair = new_pair(lmtp=lmtp)
    if state is State.GREETING:
        return pair
    answer(pair, pair.server.greeting())
    if state is State.HELLO:
        return pair
    if state is State.ERROR:
        with pytest.raises(LocalProtocolError):
            pair.client.send(MessageData(data=b"x"))  # data before any 354
        pair.server.receive_data(b"")
        drain(pair.server)
        with pytest.raises(LocalProtocolError):
            pair.server.send(Reply.of(250, "nothing is pending"))
        return pair
    pair.client_send(Lhlo(hostname="c.example") if lmtp else Ehlo(hostname="c.example"))
    answer(pair, pair.server.ehlo_reply())
    script: dict[State, list[tuple[list[Event], Reply]]] = {
        State.READY: [],
        State.AUTH: [([Auth(mechanism="PLAIN")], Reply.of(334, ""))],
        State.TLS: [([StartTLS()], Reply.of(220, "go ahead"))],
        State.CLOSED: [([Quit()], Reply.of(221, "bye"))],
        State.MAIL: [(STEP_EVENTS["MAIL"], Reply.of(250, "ok"))],
        State.RCPT: [
            (STEP_EVENTS["MAIL"], Reply.of(250, "ok")),
            (STEP_EVENTS["RCPT"], Reply.of(250, "ok")),
        ],
        State.DATA: [
            (STEP_EVENTS["MAIL"], Reply.of(250, "ok")),
            (STEP_EVENTS["RCPT"], Reply.of(250, "ok")),
            ([Data()], Reply.of(354, "go")),
        ],
        State.BDAT: [
            (STEP_EVENTS["MAIL"], Reply.of(250, "ok")),
            (STEP_EVENTS["RCPT"], Reply.of(250, "ok")),
            (STEP_EVENTS["BDAT"], Reply.of(250, "3 octets")),
        ],
    }
    for events, reply in script[state]:
        pair.client_send(*events)
        answer(pair, reply)
    assert pair.client.state is state and pair.server.state is state
    return pair


ALL_STATES = list(State)


@pytest.mark.parametrize("state", ALL_STATES, ids=[s.value for s in ALL_STATES])
def test_every_state_is_reachable_on_both_sides(state: State) -> None:
    pair = pair_in(state)
    assert pair.client.state is state and pair.server.state is state


def test_every_state_is_reachable_in_the_table() -> None:
    seen = {State.GREETING}
    todo = deque([State.GREETING])
    while todo:
        st = todo.popleft()
        for (src, _step), t in TRANSITIONS.items():
            if src is st:
                for dst in (t.on_positive, t.on_negative, t.on_intermediate):
                    if dst is not None and dst not in seen:
                        seen.add(dst)
                        todo.append(dst)
    # ERROR is not in the table: any exception leads there (see the test above)
    assert seen == set(State) - {State.ERROR}


def test_tables_are_consistent() -> None:
    steps = {step for _, step in TRANSITIONS}
    assert steps | {"GREETING"} <= set(REPLY_CODES)
    assert set(REPLY_CODES) - steps == {"INVALID"}
    assert steps - {"GREETING"} == set(STEP_EVENTS)  # the tests below cover every step
    # RFC 2920 §3.1: these end a pipelining group
    for step in ("EHLO", "DATA", "VRFY", "EXPN", "QUIT", "NOOP", "STARTTLS", "AUTH", "BDAT LAST"):
        assert step in GROUP_ENDERS
    # ...and these do not; nor does the end of data: RFC 2920 §4's example sends "." and QUIT
    # in one go, so the next transaction may ride behind it too.
    for step in ("MAIL", "RCPT", "RSET", "BDAT", "."):
        assert step not in GROUP_ENDERS
    # 421 may answer anything (RFC 5321 §3.8), 500 and 501 any command (§4.2.4)
    for step in REPLY_CODES:
        assert reply_allowed(step, 421)
        if step not in ("GREETING", "."):
            assert reply_allowed(step, 500) and reply_allowed(step, 501)
    for state in State:
        assert next_state(state, "NOOP", 421) is State.CLOSED


def test_reply_outcome_is_reply_allowed_and_next_state_in_one() -> None:
    # The engines look the outcome up in OUTCOMES first: what it holds must be exactly what
    # the two rules say, for every state, step and reply code (RFC 5321 §4.2: 2yz-5yz).
    steps = set(REPLY_CODES) | {step for _, step in TRANSITIONS} | {"NO SUCH STEP"}
    for state in State:
        for step in steps:
            for code in range(200, 600):
                want = next_state(state, step, code) if reply_allowed(step, code) else None
                assert reply_outcome(state, step, code) is want
                if want is None:
                    assert (state, step, code) not in OUTCOMES
                else:
                    assert OUTCOMES[(state, step, code)] is want


def _codes_for(step: str) -> list[int]:
    """One reply code per class the step allows (RFC 5321 §4.3.2, RFC 4954, RFC 3030)."""
    allowed = REPLY_CODES[step]
    codes = []
    for want in ("2", "3"):
        exact = sorted(c for c in allowed if len(c) == 3 and c.startswith(want))
        if want in allowed:
            codes.append(250)
        elif exact:
            codes.extend(int(c) for c in exact)
    if "4" in allowed:
        codes.append(451 if step != "EHLO" else 450)
    if "5" in allowed:
        codes.append(554 if step == "." else 550)
    return codes


ENTRIES = [
    (state, step, code)
    for (state, step) in sorted(TRANSITIONS, key=lambda k: (k[0].value, k[1]))
    for code in _codes_for(step)
    if step != "GREETING"
]


@pytest.mark.parametrize(
    ("state", "step", "code"),
    ENTRIES,
    ids=[f"{s.value}-{step}-{code}" for s, step, code in ENTRIES],
)
def test_every_transition_is_taken_by_both_engines(state: State, step: str, code: int) -> None:
    """Drive each table entry with each reply class: both engines end where it says."""
    lmtp = step in LMTP_ONLY
    pair = pair_in(state, lmtp=lmtp)
    seen = pair.client_send(*STEP_EVENTS[step])
    assert seen and not isinstance(seen[-1], InvalidCommand), seen
    assert pair.server.next_event() is PAUSED  # a reply is owed
    if step in ("EHLO", "LHLO") and code == 250:
        reply = pair.server.ehlo_reply()
    elif step == "QUIT" and code == 250:
        reply = Reply.of(221, "bye")
    elif step in ("STARTTLS",) and code == 250:
        reply = Reply.of(220, "go")
    elif step in ("AUTH", "AUTH*") and code == 250:
        reply = Reply.of(235, "ok", "2.7.0")
    else:
        reply = Reply.of(code, "reply")
    replies = answer(pair, reply)
    assert replies and isinstance(replies[0], Reply) and replies[0].command == step
    transition = TRANSITIONS[state, step]
    if reply.code >= 400:
        expected = transition.on_negative
    elif reply.code >= 300 and transition.on_intermediate is not None:
        expected = transition.on_intermediate
    else:
        expected = transition.on_positive
    assert pair.client.state is expected, (pair.client.state, expected)
    assert pair.server.state is expected, (pair.server.state, expected)


def test_every_table_entry_is_driven() -> None:
    driven = {(state, step) for state, step, _ in ENTRIES} | {(State.GREETING, "GREETING")}
    assert driven == set(TRANSITIONS)
    # and with every reply class the step allows
    for (state, step), t in TRANSITIONS.items():
        classes = {code // 100 for s, st, code in ENTRIES if (s, st) == (state, step)}
        if step != "GREETING":
            assert {4, 5} <= classes
            if t.on_intermediate is not None:
                assert 3 in classes


@pytest.mark.parametrize("code", [220, 554, 421])
def test_greeting_transition(code: int) -> None:
    # RFC 5321 §3.1 / §4.3.2: 220, or 554 (then QUIT), or 421 (closing)
    pair = new_pair()
    answer(pair, Reply.of(code, "mx.example"))
    expected = State.CLOSED if code == 421 else TRANSITIONS[State.GREETING, "GREETING"].on_positive
    assert pair.client.state is expected and pair.server.state is expected


# The refusals a command-reading server gives for a (state, step) outside the table: 503
# (RFC 5321 §4.1.4 "bad sequence of commands") unless a more precise code is documented.
ALTERNATIVES: dict[tuple[State, str], int] = {
    (State.MAIL, "DATA"): 554,  # RFC 5321 §3.3: "554 No valid recipients" is also allowed
}
NOT_COMMANDS = {".", "AUTH*", "*"}  # outside their phase these lines are no command: 500
COMMAND_STATES = [State.HELLO, State.READY, State.MAIL, State.RCPT, State.BDAT]
MISSING = [
    (state, step) for state in COMMAND_STATES for step in STEPS if (state, step) not in TRANSITIONS
]


@pytest.mark.parametrize(
    ("state", "step"), MISSING, ids=[f"{s.value}-{step}" for s, step in MISSING]
)
def test_every_missing_entry_is_refused(state: State, step: str) -> None:
    """The client refuses to send; the same line written raw gets the server's refusal,
    and neither side changes state."""
    lmtp = step in LMTP_ONLY
    pair = pair_in(state, lmtp=lmtp)
    first = STEP_EVENTS[step][0]
    with pytest.raises(LocalProtocolError):
        pair.client.send(first)
    assert pair.client.state is State.ERROR  # the misuse is final for that engine
    # the server, given the raw line (built by a client in a state that allows it)
    raw = {
        ".": b".\r\n",
        "AUTH*": b"AHVzZXIAcGFzcw==\r\n",
        "*": b"*\r\n",
        "BDAT": b"BDAT 3\r\nabc",
        "BDAT LAST": b"BDAT 3 LAST\r\nxyz",
    }.get(step)
    if raw is None:
        from smtpcore._commands import format_command

        assert not isinstance(first, (MessageData, EndOfMessage))
        raw = format_command(first)  # type: ignore[arg-type]
    pair.server.receive_data(raw)
    [ev] = drain(pair.server)
    assert isinstance(ev, InvalidCommand), ev
    want = 500 if step in NOT_COMMANDS else ALTERNATIVES.get((state, step), 503)
    assert ev.hint.code == want, (ev, want)
    pair.server.send(Reply.from_hint(ev.hint))
    assert pair.server.state is state


def test_lmtp_and_smtp_greetings_are_exclusive() -> None:
    # RFC 2033 §4.1: LMTP uses LHLO; an LMTP server refuses EHLO/HELO with 500
    for step, lmtp in [("EHLO", True), ("HELO", True), ("LHLO", False)]:
        pair = pair_in(State.HELLO, lmtp=lmtp)
        with pytest.raises(LocalProtocolError):
            pair.client.send(STEP_EVENTS[step][0])
        pair.server.receive_data(f"{step} c.example\r\n".encode())
        [ev] = drain(pair.server)
        assert isinstance(ev, InvalidCommand) and ev.hint.code == 500


PHASE_STATES = [State.GREETING, State.DATA, State.AUTH, State.TLS, State.CLOSED, State.ERROR]


@pytest.mark.parametrize("state", PHASE_STATES, ids=[s.value for s in PHASE_STATES])
@pytest.mark.parametrize("step", [s for s in STEPS if s not in (".", "AUTH*", "*")])
def test_no_command_outside_the_command_phase(state: State, step: str) -> None:
    """In the states where no command line is read, the client refuses every command and
    the server never yields one."""
    pair = pair_in(state)
    with pytest.raises(LocalProtocolError):
        for event in STEP_EVENTS[step]:
            pair.client.send(event)
    if state is State.ERROR:
        with pytest.raises(LocalProtocolError):
            pair.server.next_event()
        return
    from smtpcore._commands import format_command

    cmd = STEP_EVENTS[step][0]
    pair.server.receive_data(format_command(cmd))  # type: ignore[arg-type]
    events = drain(pair.server)
    if state in (State.GREETING, State.TLS):
        assert events == [] and pair.server.next_event() is PAUSED
    elif state is State.CLOSED:
        assert events == [ConnectionClosed()]
    elif state is State.DATA:
        assert all(isinstance(e, MessageData) for e in events)  # it is message text
    else:  # AUTH: a SASL line, never a command (RFC 4954 §4)
        assert len(events) == 1 and isinstance(events[0], (AuthResponse, InvalidCommand))
    assert pair.server.state is state


REPLY_MISFITS: list[tuple[str, int]] = [
    ("MAIL", 354),
    ("MAIL", 334),
    ("RCPT", 354),
    ("DATA", 250),
    ("EHLO", 220),
    ("QUIT", 250),
    ("STARTTLS", 250),
    ("AUTH", 250),
    ("*", 235),  # RFC 4954 §4: a cancelled exchange fails
    ("*", 334),
    ("NOOP", 354),
]


@pytest.mark.parametrize(("step", "code"), REPLY_MISFITS)
def test_replies_a_step_does_not_allow_are_refused_on_both_sides(step: str, code: int) -> None:
    assert not reply_allowed(step, code)
    state = {"*": State.AUTH, "DATA": State.RCPT, "RCPT": State.MAIL}.get(step, State.READY)
    pair = pair_in(state)
    pair.client_send(*STEP_EVENTS[step])
    with pytest.raises(LocalProtocolError):
        pair.server.send(Reply.of(code, "wrong"))
    assert pair.server.state is State.ERROR
    pair.client.receive_data(f"{code} wrong\r\n".encode())
    with pytest.raises(RemoteProtocolError):
        pair.client.next_event()
    assert pair.client.state is State.ERROR


@pytest.mark.parametrize(
    "state", [s for s in State if s not in (State.CLOSED, State.ERROR, State.TLS)], ids=str
)
def test_421_closes_from_every_state(state: State) -> None:
    # RFC 5321 §3.8: a server shutting down may answer anything with 421 and close
    pair = pair_in(state)
    if state in COMMAND_STATES:
        pair.client_send(Noop())  # something to answer
    events = answer(pair, Reply.of(421, "shutting down", "4.3.2"))
    assert isinstance(events[0], Reply) and events[0].code == 421
    assert pair.client.state is State.CLOSED and pair.server.state is State.CLOSED


def test_client_sent_state_follows_a_pipelined_group() -> None:
    """The client checks each pipelined command against the state it would be in if all
    before it succeed (RFC 2920 §3.1), and refuses what no reply could make legal."""
    pair = pair_in(State.READY)
    pair.client.send(Mail(reverse_path=None))
    pair.client.send(Rcpt(forward_path=Address.parse("b@mx.example")))
    pair.client.send(Data())  # allowed if MAIL and RCPT succeed
    assert pair.client.pending == ("MAIL", "RCPT", "DATA")
    pair = pair_in(State.READY)
    pair.client.send(Mail(reverse_path=None))
    with pytest.raises(LocalProtocolError, match="accepted recipient"):
        pair.client.send(Data())


def _first(events: list[Event], kind: type) -> Event:
    return next(e for e in events if isinstance(e, kind))


def test_end_of_data_and_chunk_events_are_what_the_server_yields() -> None:
    pair = pair_in(State.DATA)
    events = pair.client_send(*STEP_EVENTS["."])
    assert isinstance(_first(events, EndOfMessage), EndOfMessage)
    pair = pair_in(State.RCPT)
    events = pair.client_send(*STEP_EVENTS["BDAT"])
    assert _first(events, EndOfChunk) == EndOfChunk(size=3)
    assert pair.server.next_event() is PAUSED
    assert pair.client.next_event() is NEED_DATA  # the chunk's reply is not there yet


def test_binarymime_transaction_refuses_data_on_both_sides() -> None:
    # RFC 3030 §3: a BODY=BINARYMIME message goes by BDAT; DATA gets 503 5.5.1
    from smtpcore import MailParams

    caps = Capabilities.build(
        domain="mx.example", pipelining=True, chunking=True, binarymime=True, eightbitmime=True
    )
    for use_data in (True, False):
        server = ServerConnection(capabilities=caps)
        pair = ConnectionPair(ClientConnection(), server)
        answer(pair, server.greeting())
        pair.client_send(Ehlo(hostname="c.example"))
        answer(pair, server.ehlo_reply())
        pair.client_send(Mail(reverse_path=None, params=MailParams(body="BINARYMIME")))
        answer(pair, Reply.of(250, "ok"))
        pair.client_send(Rcpt(forward_path=Address.parse("b@mx.example")))
        answer(pair, Reply.of(250, "ok"))
        if use_data:
            with pytest.raises(LocalProtocolError, match="BINARYMIME"):
                pair.client.send(Data())
            server.receive_data(b"DATA\r\n")
            [ev] = drain(server)
            assert isinstance(ev, InvalidCommand) and ev.hint.code == 503
        else:
            events = pair.client_send(Bdat(size=3, last=True), MessageData(data=b"\0\r\x80"))
            assert isinstance(events[-1], EndOfMessage) and not events[-1].bare_line_endings


@pytest.mark.parametrize("by_chunk", [False, True])
def test_421_among_lmtp_replies_closes_both_sides(by_chunk: bool) -> None:
    # RFC 2033 §4.2 replies per recipient; RFC 5321 §3.8: a 421 closes, whatever is owed
    pair = pair_in(State.READY, lmtp=True)
    for events, reply in [
        (STEP_EVENTS["MAIL"], Reply.of(250, "ok")),
        ([Rcpt(forward_path=Address.parse("a@mx.example"))], Reply.of(250, "ok")),
        ([Rcpt(forward_path=Address.parse("b@mx.example"))], Reply.of(250, "ok")),
    ]:
        pair.client_send(*events)
        answer(pair, reply)
    if by_chunk:
        pair.client_send(*STEP_EVENTS["BDAT LAST"])
    else:
        pair.client_send(Data())
        answer(pair, Reply.of(354, "go"))
        pair.client_send(*STEP_EVENTS["."])
    assert pair.server.replies_owed == 2
    answer(pair, Reply.of(421, "shutting down", "4.3.2"))
    assert pair.client.state is State.CLOSED and pair.server.state is State.CLOSED


@pytest.mark.parametrize("by_chunk", [False, True])
def test_lmtp_states_agree_after_every_reply(by_chunk: bool) -> None:
    # RFC 2033 §4.2: the transaction is over with the last per-recipient reply, on both sides
    pair = pair_in(State.READY, lmtp=True)
    for events, reply in [
        (STEP_EVENTS["MAIL"], Reply.of(250, "ok")),
        ([Rcpt(forward_path=Address.parse("a@mx.example"))], Reply.of(250, "ok")),
        ([Rcpt(forward_path=Address.parse("b@mx.example"))], Reply.of(250, "ok")),
        ([Rcpt(forward_path=Address.parse("c@mx.example"))], Reply.of(250, "ok")),
    ]:
        pair.client_send(*events)
        answer(pair, reply)
    if by_chunk:
        pair.client_send(*STEP_EVENTS["BDAT LAST"])
    else:
        pair.client_send(Data())
        answer(pair, Reply.of(354, "go"))
        pair.client_send(*STEP_EVENTS["."])
    before = pair.server.state
    for i, code in enumerate([250, 452, 250]):
        [reply] = answer(pair, Reply.of(code, f"recipient {i}"))
        assert isinstance(reply, Reply) and reply.command == ("BDAT LAST" if by_chunk else ".")
        expected = before if i < 2 else State.READY
        assert pair.server.state is expected and pair.client.state is expected
    assert pair.client.accepted_recipients == 0 and pair.client.pending == ()


def test_empty_last_chunk_leaves_no_chunk_open() -> None:
    # RFC 3030 §2: "BDAT 0 LAST" ends a message with no octets; the next transaction may
    # use DATA and its message data must not be taken for chunk data.
    pair = pair_in(State.RCPT)
    events = pair.client_send(Bdat(size=0, last=True))
    assert isinstance(events[-1], EndOfMessage) and events[-1].size == 0
    answer(pair, Reply.of(250, "ok"))
    for events_, reply in [
        (STEP_EVENTS["MAIL"], Reply.of(250, "ok")),
        (STEP_EVENTS["RCPT"], Reply.of(250, "ok")),
        ([Data()], Reply.of(354, "go")),
    ]:
        pair.client_send(*events_)
        answer(pair, reply)
    events = pair.client_send(MessageData(data=b"hello\r\n"), EndOfMessage())
    assert isinstance(events[-1], EndOfMessage) and events[-1].size == 7


def test_reply_allowed_is_the_table_read_as_written() -> None:
    # REPLY_CODES names codes ("250") and classes ("4"); reply_allowed answers for every valid
    # code (RFC 5321 §4.2: [2-5][0-5][0-9]) exactly as the table reads.
    codes = [c for c in range(200, 600) if c // 10 % 10 <= 5]
    for step, allowed in REPLY_CODES.items():
        for code in codes:
            expected = str(code) in allowed or str(code)[0] in allowed
            assert reply_allowed(step, code) is expected, (step, code)
    assert not reply_allowed("NO SUCH STEP", 250)
