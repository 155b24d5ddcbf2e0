"""A hypothesis RuleBasedStateMachine driving a ClientConnection/ServerConnection pair.

Arbitrary command orders, valid and invalid, against a server whose policy (accept or refuse
each command) is drawn at random, with PIPELINING and LMTP on or off. Invalid commands the
client engine refuses to send are also written raw to the server, which must answer them
without changing state. Invariants (RFC 5321 §4.1.4 sequencing, RFC 2920 reply order,
RFC 2033 §4.2 LMTP replies, RFC 3207 §4.2 STARTTLS reset):

* once neither side owes or awaits anything, client and server are in the same state;
* the only exception is LocalProtocolError, from client misuse, which puts that client in
  ERROR (the machine then goes on with a copy taken before the misuse);
* the server never yields a command while a reply is owed (it says PAUSED);
* every reply the client reads is matched to the command it answered, in order;
* after QUIT is answered with 221, both sides are CLOSED.
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, event, given, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

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
    Command,
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
    MailParams,
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
from smtpcore._commands import format_command, mail_param_items
from smtpcore._connection import step_of
from smtpcore._extensions import parameter_allowed
from smtpcore._state import TRANSITIONS

A = Address.parse

COMMANDS: list[Command] = [
    Ehlo(hostname="client.example"),
    Helo(hostname="client.example"),
    Lhlo(hostname="client.example"),
    Mail(reverse_path=A("alice@client.example")),
    Mail(reverse_path=None, params=MailParams(size=100)),
    Rcpt(forward_path=A("bob@mx.example")),
    Rcpt(forward_path=A("carol@mx.example")),
    Data(),
    Rset(),
    Vrfy(argument="bob"),
    Expn(argument="staff"),
    Help(),
    Noop(),
    Quit(),
    StartTLS(),
    Auth(mechanism="PLAIN"),
    Auth(mechanism="PLAIN", initial_response=b"\0user\0pass"),
    AuthResponse(data=b"\0user\0pass"),
    AuthCancel(),
    UnknownCommand(name="XFOO", argument="bar"),
]

BODIES = st.sampled_from(
    [b"", b"Subject: x\r\n\r\nhi\r\n", b".\r\n..\r\n.", b"a\r\n.\r\nb", b"x" * 300]
)


def _negative(data: st.DataObject, *codes: int) -> Reply:
    return Reply.of(data.draw(st.sampled_from(codes or (451, 550))), "refused")


class SessionMachine(RuleBasedStateMachine):
    client: ClientConnection
    server: ServerConnection

    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.sent: list[str] = []  # steps the client sent and the server has not answered
        self.misuses = 0
        self.raw_refusals = 0

    @initialize(
        pipelining=st.booleans(), lmtp=st.sampled_from([False, False, True]), chunking=st.booleans()
    )
    def connect(self, pipelining: bool, lmtp: bool, chunking: bool) -> None:
        caps = Capabilities.build(
            domain="mx.example",
            pipelining=pipelining,
            chunking=chunking,
            starttls=True,
            auth=("PLAIN",),
            size=1000,
            dsn=True,
            eightbitmime=True,
            smtputf8=True,
        )
        self.server = ServerConnection(
            capabilities=caps,
            config=ServerConfig(hostname="mx.example", lmtp=lmtp, limits=Limits(errors=10_000)),
            auth_requires_tls=False,
        )
        self.client = ClientConnection(config=ClientConfig(lmtp=lmtp))
        assert self.server.next_event() is PAUSED  # the greeting is owed first
        self.client.receive_data(self.server.send(self.server.greeting()))
        self.sent.append("GREETING")
        [greeting] = self._client_events()
        assert isinstance(greeting, Reply) and greeting.code == 220

    # --- helpers -----------------------------------------------------------------------

    def _client_events(self) -> list[Event]:
        out: list[Event] = []
        for _ in range(1000):
            ev = self.client.next_event()
            if ev is NEED_DATA or ev is PAUSED:
                return out
            assert isinstance(ev, Event)
            out.append(ev)
            if isinstance(ev, ConnectionClosed):
                return out
            assert isinstance(ev, Reply)
            # RFC 2920 §3.1: replies come back in the order the commands were sent
            assert self.sent, f"a reply nobody asked for: {ev}"
            expected = self.sent[0]
            assert ev.command == expected or ev.code == 421, (ev, self.sent)
            if ev.code == 421:
                self.sent.clear()
            elif not (expected in (".", "BDAT LAST") and self._more_lmtp_replies(expected)):
                self.sent.pop(0)
        raise AssertionError("the client never ran out of events")

    def _more_lmtp_replies(self, step: str) -> bool:
        return step in self.client.pending

    def _try_send(self, *events: Event) -> bytes | None:
        """Send through the client; on misuse check the ERROR rule and roll back."""
        # Capabilities are immutable (and hold mapping proxies): share, do not copy
        caps = self.client.capabilities
        backup = copy.deepcopy(self.client, {id(caps): caps})
        wire = b""
        try:
            for event in events:
                wire += self.client.send(event)
        except LocalProtocolError as exc:
            # any error moves that side into ERROR, nothing is half-sent (DESIGN.md)
            assert self.client.state is State.ERROR
            # ... and only a real misuse is refused
            assert not self._must_accept(backup, events), (events, exc)
            with_error = self.client
            self.client = backup
            self.misuses += 1
            try:
                with_error.send(Noop())
            except LocalProtocolError:
                pass
            else:  # pragma: no cover - the failure this test is for
                raise AssertionError("a client in ERROR sent bytes") from None
            return None
        return wire

    def _must_accept(self, client: ClientConnection, events: tuple[Event, ...]) -> bool:
        """A model of the simple cases the client must accept: nothing pending, and the
        step is in the table for the state the client is in (RFC 5321 §4.1.4)."""
        caps = client.capabilities
        if client.pending or client.state not in (*TRANSITIONS_STATES, State.AUTH, State.DATA):
            return False
        first = events[0]
        if isinstance(first, MessageData):
            return client.state is State.DATA and all(
                isinstance(e, (MessageData, EndOfMessage)) for e in events
            )
        if not isinstance(first, Command) or client.state is State.DATA:
            return False
        if (client.state, step_of(first)) not in TRANSITIONS:
            return False
        if isinstance(first, (Ehlo, Helo)) and client.lmtp:
            return False
        if isinstance(first, Lhlo) and not client.lmtp:
            return False
        if isinstance(first, Bdat):
            return (
                caps is not None
                and caps.chunking
                and sum(len(e.data) for e in events if isinstance(e, MessageData)) == first.size
            )
        if isinstance(first, Mail):  # RFC 5321 §4.1.1.11: only advertised parameters
            assert caps is not None
            items = mail_param_items(first.params)
            return all(parameter_allowed(caps, "MAIL", k, v) for k, v in items)
        if isinstance(first, Auth):  # RFC 4954 §4: a mechanism the server offers
            return caps is not None and first.mechanism in caps.auth_mechanisms
        return caps is not None or isinstance(first, (Ehlo, Helo, Lhlo, Rset, Noop, Quit))

    def _idle(self) -> bool:
        return not self.client.pending and self.server.replies_owed == 0

    # --- rules: the client ---------------------------------------------------------------

    @precondition(lambda self: self.client.state not in (State.CLOSED, State.TLS))
    @rule(cmd=st.sampled_from(COMMANDS))
    def client_sends(self, cmd: Command) -> None:
        before = self.client.pending
        wire = self._try_send(cmd)
        if wire is None:
            return
        assert wire.endswith(b"\r\n") and wire.count(b"\n") == 1
        assert self.client.pending == (*before, step_of(cmd))
        self.sent.append(step_of(cmd))
        self.server.receive_data(wire)

    @precondition(lambda self: self.client.state not in (State.CLOSED, State.TLS))
    @rule(n=st.integers(1, 6), answer=st.booleans(), data=st.data())
    def client_goes_on(self, n: int, answer: bool, data: st.DataObject) -> None:
        """The next command of a plain session, ``n`` of them when pipelining allows, and
        maybe the server's answers at once."""
        self._next_commands(n, data)
        if answer:
            self.server_answers(data)

    @precondition(lambda self: self.client.state is State.READY and not self.client.pending)
    @rule(recipients=st.integers(1, 3), by_chunk=st.booleans(), data=st.data())
    def client_pipelines_a_transaction(
        self, recipients: int, by_chunk: bool, data: st.DataObject
    ) -> None:
        """RFC 2920 §3.2: MAIL, the RCPTs and DATA (or BDAT LAST, RFC 3030 §4.2) in one group,
        then the server's answers."""
        self.client_sends(Mail(reverse_path=A("alice@client.example")))
        for i in range(recipients):
            self.client_sends(Rcpt(forward_path=A(f"r{i}@mx.example")))
        if by_chunk:
            self.client_sends_chunk(b"hello\r\n", True)
        else:
            self.client_sends(Data())
        self.server_answers(data)

    def _next_commands(self, n: int, data: st.DataObject) -> None:
        hello = Lhlo if self.client.lmtp else Ehlo
        choices: dict[State, list[Command | str]] = {
            State.HELLO: [hello(hostname="client.example")],
            State.READY: [
                Mail(reverse_path=A("alice@client.example")),
                Auth(mechanism="PLAIN"),
                StartTLS(),
            ],
            State.MAIL: [Rcpt(forward_path=A("bob@mx.example"))],
            State.RCPT: [
                Rcpt(forward_path=A("carol@mx.example")),
                Rcpt(forward_path=A("dave@mx.example")),
                Data(),
                "message",
                "chunk",
            ],
            State.BDAT: ["chunk"],
            State.DATA: ["message"],
            State.AUTH: [AuthResponse(data=b"\0user\0pass"), AuthCancel()],
        }
        for _ in range(n):
            state: State | None = self.client.state
            if self.client.pending:
                state = {"MAIL": State.MAIL, "RCPT": State.RCPT}.get(self.client.pending[-1])
            if state not in choices:
                return
            choice = data.draw(st.sampled_from(choices[state]))
            if choice == "message":
                self.client_sends_message(data.draw(BODIES))
            elif choice == "chunk":
                self.client_sends_chunk(data.draw(BODIES), data.draw(st.booleans()))
            else:
                assert isinstance(choice, Command)
                self.client_sends(choice)

    @precondition(lambda self: self.client.state not in (State.CLOSED, State.TLS))
    @rule(body=BODIES)
    def client_sends_message(self, body: bytes) -> None:
        wire = self._try_send(MessageData(data=body), EndOfMessage())
        if wire is None:
            return
        self.sent.append(".")
        self.server.receive_data(wire)

    @precondition(lambda self: self.client.state not in (State.CLOSED, State.TLS))
    @rule(body=BODIES, last=st.booleans())
    def client_sends_chunk(self, body: bytes, last: bool) -> None:
        bdat = Bdat(size=len(body), last=last)
        # an empty chunk (RFC 3030 §2: "BDAT 0 LAST") needs no MessageData at all
        wire = self._try_send(bdat, MessageData(data=body)) if body else self._try_send(bdat)
        if wire is None:
            return
        self.sent.append(step_of(bdat))
        self.server.receive_data(wire)

    @precondition(lambda self: self.client.state is State.TLS and self.server.state is State.TLS)
    @rule()
    def tls_handshake(self) -> None:
        # RFC 3207 §4.2: both sides forget the session and start over at EHLO
        self.client.tls_established()
        self.server.tls_established()
        assert self.client.state is self.server.state is State.HELLO

    @precondition(
        lambda self: (
            self.client.state not in (State.CLOSED, State.TLS, State.ERROR)
            and not self.client.pending
            and self.server.replies_owed == 0
            and self.server.state in TRANSITIONS_STATES
        )
    )
    @rule(cmd=st.sampled_from(COMMANDS))
    def raw_out_of_sequence(self, cmd: Command) -> None:
        """A command the client engine would refuse, written raw: the server must refuse it
        with a negative reply and leave the state alone (RFC 5321 §4.1.4: 503)."""
        state = self.server.state
        step = step_of(cmd)
        if (state, step) in TRANSITIONS or isinstance(cmd, (AuthResponse, AuthCancel)):
            return  # in sequence: that is the other rules' business
        self.server.receive_data(format_command(cmd))
        ev = self.server.next_event()
        assert isinstance(ev, InvalidCommand), (state, cmd, ev)
        assert ev.hint.code >= 500, ev
        assert self.server.next_event() is PAUSED  # the refusal is owed first
        self.server.send(Reply.from_hint(ev.hint))  # not fed to the client: it never asked
        assert self.server.state is state
        self.raw_refusals += 1

    # --- rules: the server ---------------------------------------------------------------

    @rule(data=st.data())
    def server_answers_rule(self, data: st.DataObject) -> None:
        self.server_answers(data)

    def server_answers(self, data: st.DataObject) -> None:
        """The server handles all it received, with a policy drawn per command, and the
        client reads the replies."""
        server = self.server
        for _ in range(1000):
            if server.state in (State.CLOSED, State.TLS):
                break
            ev = server.next_event()
            if ev is NEED_DATA or ev is PAUSED:
                assert server.replies_owed == 0 or ev is PAUSED
                break
            assert isinstance(ev, Event)
            if isinstance(ev, (MessageData, Bdat)):
                continue
            if isinstance(ev, ConnectionClosed):
                break
            # a reply is owed now: the server yields nothing else until it is sent
            assert server.next_event() is PAUSED, ev
            for reply in self._policy(ev, data):
                self.client.receive_data(server.send(reply))
                # after each reply, the client knows what the server knows
                self._client_events()
                assert self.client.state is server.state, (self.client.state, server.state)
        self._client_events()
        if self.closed:
            assert self.client.state is State.CLOSED and self.server.state is State.CLOSED

    def _policy(self, ev: Event, data: st.DataObject) -> list[Reply]:
        server = self.server
        if data.draw(st.integers(0, 200)) == 0:
            self.closed = True  # a 421 closes both sides as surely as QUIT
            return [Reply.of(421, "shutting down", "4.3.2")]  # RFC 5321 §3.8, any time
        accept = data.draw(st.integers(0, 3), label=f"accept {type(ev).__name__}") > 0
        if isinstance(ev, InvalidCommand):
            return [Reply.from_hint(ev.hint)]
        if isinstance(ev, (EndOfMessage, EndOfChunk)):
            out = []
            for _ in range(max(1, server.replies_owed)):
                refusal = server.refusal
                if data.draw(st.integers(0, 5), label="421 among LMTP replies") == 0:
                    self.closed = True
                    return [*out, Reply.of(421, "shutting down", "4.3.2")]
                if refusal is not None:
                    out.append(Reply.from_hint(refusal))
                else:
                    ok = data.draw(st.booleans(), label="deliver")
                    out.append(Reply.of(250, "ok") if ok else _negative(data, 452, 554))
            return out
        if isinstance(ev, (Ehlo, Lhlo)):
            return [server.ehlo_reply() if accept else _negative(data, 502, 550)]
        if isinstance(ev, Quit):
            self.closed = True
            return [Reply.of(221, "bye")]
        if isinstance(ev, Data):
            return [Reply.of(354, "go ahead") if accept else _negative(data, 451, 554)]
        if isinstance(ev, StartTLS):
            return [Reply.of(220, "ready") if accept else _negative(data, 454)]
        if isinstance(ev, (Auth, AuthResponse)):
            code = data.draw(st.sampled_from([334, 235, 535]))
            return [Reply.of(code, "" if code == 334 else "auth")]
        if isinstance(ev, AuthCancel):
            return [Reply.of(501, "cancelled", "5.0.0")]  # RFC 4954 §4
        return [Reply.of(250, "ok") if accept else _negative(data)]

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def states_agree_when_idle(self) -> None:
        if self._idle() and not self.server.trailing_data[0] and not self.sent:
            event(f"agree in {self.client.state.value}")
            assert self.client.state is self.server.state, (
                self.client.state,
                self.server.state,
            )

    @invariant()
    def record_state(self) -> None:
        event(f"state {self.client.state.value}")
        if self.client.pending:
            event(f"pending {len(self.client.pending)}")

    @invariant()
    def never_in_error(self) -> None:
        assert self.client.state is not State.ERROR
        assert self.server.state is not State.ERROR


# States in which the server reads command lines (not message data, not SASL lines).
TRANSITIONS_STATES = frozenset({State.HELLO, State.READY, State.MAIL, State.RCPT, State.BDAT})

SessionMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSession = SessionMachine.TestCase


# --- arbitrary bytes -------------------------------------------------------------------------

_VERBS = [
    b"EHLO ",
    b"HELO ",
    b"LHLO ",
    b"MAIL FROM:",
    b"RCPT TO:",
    b"DATA",
    b"BDAT ",
    b"RSET",
    b"VRFY ",
    b"EXPN ",
    b"HELP",
    b"NOOP",
    b"QUIT",
    b"STARTTLS",
    b"AUTH ",
    b"*",
    b"XFOO",
    b"",
]
_LINE = st.one_of(
    st.tuples(st.sampled_from(_VERBS), st.binary(max_size=30)).map(b"".join),
    st.binary(max_size=40),
    st.sampled_from([b"MAIL FROM:<a@b.example>", b"RCPT TO:<c@d.example>", b"BDAT 3 LAST"]),
)
_EOL = st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\n", b""])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(_LINE, _EOL), max_size=25),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_server_never_raises_on_arbitrary_bytes(
    lines: list[tuple[bytes, bytes]], strict: bool, lmtp: bool, eof: bool
) -> None:
    """Whatever a client sends, the server turns it into events (InvalidCommand for what it
    refuses) and never raises: a broken client gets replies, not a crashed server."""
    caps = Capabilities.build(
        domain="mx.example",
        pipelining=True,
        chunking=True,
        starttls=True,
        auth=("PLAIN",),
        size=1000,
        dsn=True,
        smtputf8=True,
        eightbitmime=True,
    )
    server = ServerConnection(
        capabilities=caps,
        config=ServerConfig(strict=strict, lmtp=lmtp, limits=Limits(errors=5)),
        auth_requires_tls=False,
    )
    server.send(server.greeting())
    server.receive_data(b"".join(line + eol for line, eol in lines) or b"\r\n")
    if eof:
        server.receive_data(b"")
    for _ in range(1000):
        ev = server.next_event()  # never raises
        if ev is NEED_DATA or isinstance(ev, ConnectionClosed):
            break
        if ev is PAUSED:
            assert server.state in (State.TLS, State.CLOSED), server.state
            break
        assert server.next_event() is PAUSED or isinstance(ev, (MessageData, Bdat))
        if isinstance(ev, (MessageData, Bdat)):
            continue
        if isinstance(ev, InvalidCommand):
            reply = Reply.from_hint(ev.hint)
        elif isinstance(ev, (EndOfMessage, EndOfChunk)):
            refusal = server.refusal
            for _ in range(server.replies_owed - 1):
                server.send(Reply.of(250, "ok") if refusal is None else Reply.from_hint(refusal))
            reply = Reply.of(250, "ok") if refusal is None else Reply.from_hint(refusal)
        elif isinstance(ev, Data):
            reply = Reply.of(354, "go")
        elif isinstance(ev, (Auth, AuthResponse)):
            reply = Reply.of(334, "")
        elif isinstance(ev, AuthCancel):
            reply = Reply.of(501, "cancelled")
        elif isinstance(ev, Quit):
            reply = Reply.of(221, "bye")
        elif isinstance(ev, StartTLS):
            reply = Reply.of(220, "go")
        elif isinstance(ev, (Ehlo, Lhlo)):
            reply = server.ehlo_reply()
        else:
            reply = Reply.of(250, "ok")
        server.send(reply)
    else:  # pragma: no cover - the failure this test is for
        raise AssertionError("the server never ran out of events")
    assert server.state is not State.ERROR
    assert server.errors <= 6  # the error budget (5) ends the session with 421


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=40), _EOL), max_size=20))
def test_client_raises_only_remote_protocol_error_on_arbitrary_bytes(
    lines: list[tuple[bytes, bytes]],
) -> None:
    """A broken server makes the client raise RemoteProtocolError (with a reply hint), and
    nothing else."""
    client = ClientConnection()
    client.receive_data(b"".join(line + eol for line, eol in lines))
    client.receive_data(b"")
    try:
        for _ in range(100):
            ev = client.next_event()
            if ev is NEED_DATA or isinstance(ev, ConnectionClosed):
                break
    except RemoteProtocolError as exc:
        assert client.state is State.ERROR
        assert exc.reply_hint is not None
