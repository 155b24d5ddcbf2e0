"""The client engine: commands into bytes, received bytes into replies.

A FIFO matches each reply to its command across a PIPELINING group (RFC 2920). The engine
knows which commands may be grouped, when message data may flow (only after 354), and what
the replies did to the session; it refuses misuse with :class:`LocalProtocolError` and a
broken server with :class:`RemoteProtocolError`.
"""

from __future__ import annotations

from collections import deque

from ._commands import format_command, mail_param_items, rcpt_param_items
from ._config import ClientConfig
from ._connection import ConnectionBase, step_of
from ._data import DataEncoder
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    NEED_DATA,
    PAUSED,
    Auth,
    Bdat,
    Command,
    ConnectionClosed,
    EndOfMessage,
    Event,
    Mail,
    MessageData,
    Rcpt,
    Reply,
)
from ._extensions import Capabilities, parameter_allowed
from ._receivebuffer import LINE_TOO_LONG
from ._replies import ReplyAssembler
from ._state import (
    AUTH,
    CLOSED,
    DATA,
    GREETING,
    GROUP_ENDERS,
    HELLO,
    MAIL,
    OUTCOMES,
    READY,
    TLS,
    TRANSITIONS,
    reply_outcome,
    step_allowed,
)

__all__ = ["ClientConnection"]


class ClientConnection(ConnectionBase[Event]):
    """One SMTP (or LMTP) session, client side, without I/O.

    ``send(command)`` returns the bytes to write; ``receive_data()`` and ``next_event()`` turn
    the server's bytes into :class:`Reply` events, each with ``command`` set to what it answered.
    """

    def __init__(self, *, config: ClientConfig | None = None, tls: bool = False) -> None:
        super().__init__(tls=tls)
        self.config = config if config is not None else ClientConfig()
        self.capabilities: Capabilities | None = None
        self.authenticated = False
        self.accepted_recipients = 0
        self.greeting_refused = False
        self._assembler = ReplyAssembler(self.config.limits)
        # (step, how many replies it takes: LMTP, one per accepted recipient) for each command
        # sent and not answered yet, oldest first. Plain tuples: one is made per command.
        self._pending: deque[tuple[str, int]] = deque()
        self._sent_state = GREETING  # the state if every pending command succeeds
        self._smtputf8 = False
        self._binarymime = False
        self._encoder: DataEncoder | None = None
        self._chunk_left = 0
        self._chunk_cmd: Bdat | None = None

    @property
    def lmtp(self) -> bool:
        return self.config.lmtp

    @property
    def pending(self) -> tuple[str, ...]:
        """The steps still waiting for a reply, oldest first."""
        return tuple(step for step, _ in self._pending)

    @property
    def can_pipeline(self) -> bool:
        return self.capabilities is not None and self.capabilities.pipelining

    # --- sending ------------------------------------------------------------------------

    def _send(self, event: Event) -> bytes:
        st = self._state
        if st in (CLOSED, TLS):
            raise LocalProtocolError(f"cannot send in state {st.value}")
        if not isinstance(event, Command):
            if isinstance(event, MessageData):
                return self._send_data(event.data)
            if isinstance(event, EndOfMessage):
                if self._encoder is None or self._pending:
                    raise LocalProtocolError("EndOfMessage outside the DATA phase")
                out = self._encoder.finish()
                self._encoder = None
                self._expect(".")
                return out
            raise LocalProtocolError(f"a client sends commands, not {type(event).__name__}")
        if self._chunk_left or self._encoder is not None:
            raise LocalProtocolError("finish the message data before the next command")
        if st is GREETING:
            raise LocalProtocolError("wait for the server's greeting (RFC 5321 §3.1)")
        step = step_of(event)
        items = self._check_send(event, step)
        out = format_command(event, utf8=self._smtputf8 and step == "RCPT", items=items)
        if step == "MAIL":
            assert isinstance(event, Mail)
            self._smtputf8 = event.params.smtputf8
            self._binarymime = event.params.body == "BINARYMIME"
        self._expect(step)
        if isinstance(event, Bdat):
            self._chunk_left = event.size
            # "BDAT 0 LAST" (RFC 3030 §2) has no data to wait for
            self._chunk_cmd = event if event.size else None
        return out

    def _check_send(self, cmd: Command, step: str) -> list[tuple[str, str | None]] | None:
        """Refuse ``cmd`` when it may not be sent now; for MAIL and RCPT, their parameters
        as (keyword, wire value) pairs, checked against what the server advertised."""
        if self._pending:
            # Nothing is ever queued behind a group ender (this check refuses it), so only
            # the newest pending step can be one.
            last = self._pending[-1][0]
            if last in GROUP_ENDERS:
                raise LocalProtocolError(
                    f"{step} cannot follow {last} before its reply (RFC 2920 §3.1)"
                )
            if not self.can_pipeline:
                raise LocalProtocolError(
                    f"the server did not offer PIPELINING: wait for the reply to "
                    f"{last} before sending {step}"
                )
        state = self._sent_state
        if self.greeting_refused and step != "QUIT":
            raise LocalProtocolError("the server refused service (554 greeting): only QUIT")
        if step in ("AUTH*", "*"):  # an AuthResponse or AuthCancel
            if self._state is not AUTH:
                raise LocalProtocolError("an AUTH response needs a 334 challenge first")
            return None
        if step in ("EHLO", "HELO") and self.lmtp:
            raise LocalProtocolError("LMTP greets with LHLO (RFC 2033 §4.1)")
        if step == "LHLO" and not self.lmtp:
            raise LocalProtocolError("LHLO is for LMTP sessions")
        if not step_allowed(state, step):
            if step == "DATA" and state is MAIL:
                raise LocalProtocolError("DATA needs at least one accepted recipient")
            raise LocalProtocolError(f"{step} is not allowed in state {state.value}")
        caps = self.capabilities or Capabilities.from_ehlo(["unknown"])
        if step == "MAIL":
            assert isinstance(cmd, Mail)
            if cmd.params.requiretls and not self.tls_active:
                # RFC 8689 §4.2.1: a REQUIRETLS message never goes over plaintext.
                raise LocalProtocolError("REQUIRETLS needs TLS (RFC 8689 §4.2.1)")
            items = mail_param_items(cmd.params)
            for key, value in items:
                if not parameter_allowed(caps, "MAIL", key, value):
                    raise LocalProtocolError(f"the server did not advertise {key} (MAIL)")
            if (
                cmd.reverse_path is not None
                and cmd.reverse_path.needs_smtputf8
                and not cmd.params.smtputf8
            ):
                raise LocalProtocolError("a non-ASCII sender needs SMTPUTF8 (RFC 6531 §3.4)")
            return items
        if step == "RCPT":
            assert isinstance(cmd, Rcpt)
            items = rcpt_param_items(cmd.params)
            for key, value in items:
                if not parameter_allowed(caps, "RCPT", key, value):
                    raise LocalProtocolError(f"the server did not advertise {key} (RCPT)")
            if cmd.forward_path.needs_smtputf8 and not self._smtputf8:
                raise LocalProtocolError("a non-ASCII recipient needs MAIL ... SMTPUTF8")
            return items
        if step == "DATA" and self._binarymime:
            raise LocalProtocolError("BODY=BINARYMIME is sent with BDAT, never DATA (RFC 3030 §3)")
        if step in ("BDAT", "BDAT LAST") and not caps.chunking:
            raise LocalProtocolError("the server did not advertise CHUNKING (RFC 3030)")
        if (
            step == "AUTH"
            and isinstance(cmd, Auth)
            and caps.auth_mechanisms
            and cmd.mechanism not in (caps.auth_mechanisms)
        ):
            raise LocalProtocolError(f"the server does not offer AUTH {cmd.mechanism}")
        return None

    def _expect(self, step: str) -> None:
        # LMTP (RFC 2033 §4.2): one reply per accepted recipient after the end of the data.
        # BDAT LAST may be pipelined behind RCPTs still unanswered (RFC 3030 §4.2), so the
        # count (0 here) is fixed when the first of those replies arrives.
        if step in (".", "BDAT LAST"):
            self._pending.append((step, 0 if self.config.lmtp else 1))
            self._sent_state = READY
        else:
            self._pending.append((step, 1))
            # next_state(..., 250), read from the table here: one call less per command
            after = TRANSITIONS.get((self._sent_state, step))
            if after is not None:
                self._sent_state = after.on_positive

    def _send_data(self, data: bytes) -> bytes:
        if self._chunk_left or self._chunk_cmd is not None:
            if len(data) > self._chunk_left:
                raise LocalProtocolError(
                    f"BDAT chunk overflow: {len(data)} octets, {self._chunk_left} announced"
                )
            self._chunk_left -= len(data)
            if not self._chunk_left:
                self._chunk_cmd = None
            return bytes(data)
        if self._encoder is None:
            raise LocalProtocolError("message data may follow only a 354 reply to DATA")
        return self._encoder.encode(data)

    # --- receiving ----------------------------------------------------------------------

    def _next_event(self) -> Event | type[NEED_DATA] | type[PAUSED]:
        if self._state is TLS:
            return PAUSED
        if self._state is CLOSED:
            return ConnectionClosed()
        buf = self._buffer
        # The usual reply, one line, taken where it lies in the buffer in one match.
        quick = self._assembler.take_reply(buf)
        if quick is not None:
            return self._on_reply(quick)
        while True:
            # Be liberal in what we accept (RFC 1122 §1.2.2): a reply line ended by a bare LF
            # is read as a line; it cannot smuggle anything into a client.
            line = (
                buf.extract_line(self.config.limits.reply_line, allow_bare_lf=True)
                if buf.may_hold_line
                else None  # nothing buffered: the usual case once a reply group is read
            )
            if line is None and buf.discarding:
                # RFC 5321 §4.5.3.1.5: past the limit the reply is broken whatever follows;
                # say so now rather than read an endless line until a timeout.
                raise LocalProtocolError(
                    f"reply line longer than {self.config.limits.reply_line} octets"
                )
            if line is None:
                if self._eof:
                    self._state = CLOSED
                    return ConnectionClosed()
                return NEED_DATA
            if line is LINE_TOO_LONG:
                raise LocalProtocolError(
                    f"reply line longer than {self.config.limits.reply_line} octets"
                )
            assert isinstance(line, bytes)
            reply = self._assembler.add_line(line)
            if reply is not None:
                return self._on_reply(reply)

    def _on_reply(self, reply: Reply) -> Reply:
        st = self._state
        code = reply.code
        owed = 0  # replies the pending step takes (0: no step pending)
        if st is GREETING:
            step = "GREETING"
        elif self._pending:
            step, owed = self._pending[0]
            owed = owed or max(1, self.accepted_recipients)  # see _expect (LMTP)
        elif code == 421:  # RFC 5321 §3.8: the server is closing the channel
            self._state = CLOSED
            return reply  # fresh from the assembler: command is None
        else:
            raise LocalProtocolError(f"unsolicited reply {reply}")
        new = OUTCOMES.get((st, step, code)) or reply_outcome(st, step, code)
        if new is None:
            raise LocalProtocolError(f"{code} is not a valid reply to {step}: {reply}")
        if step == "DATA" and code == 354:
            new = DATA  # the server waits for data now, whatever we thought of it
        positive = code < 400
        if owed > 1:
            self._pending[0] = (step, owed - 1)
            if code != 421:
                new = st  # RFC 2033 §4.2: the transaction ends with the last reply
        elif owed:
            self._pending.popleft()
        if step == "GREETING" and code == 554:
            self.greeting_refused = True  # RFC 5321 §3.1: the client should send QUIT
        if step in ("EHLO", "LHLO") and positive:
            self.capabilities = Capabilities.from_ehlo(reply.lines)
            self._reset_transaction()
        elif step == "HELO" and positive:
            self.capabilities = Capabilities.from_ehlo([reply.lines[0] or "unknown"])
            self._reset_transaction()
        elif step in ("RSET", ".", "BDAT LAST") and (positive or step != "RSET"):
            if self._pending_count(step) == 0:  # the last of the pipelined ones
                self._reset_transaction()
        elif step == "RCPT" and positive:
            self.accepted_recipients += 1
        elif step == "BDAT" and not positive:
            self._reset_transaction()
        elif step == "DATA" and code == 354:
            self._encoder = DataEncoder()
        elif step in ("AUTH", "AUTH*") and code == 235:
            self.authenticated = True
        elif step == "STARTTLS" and code == 220 and self._buffer:
            # The response-injection defence (RFC 3207 §5; "Why TLS is better without
            # STARTTLS", 2021): nothing may follow the 220 before the handshake.
            raise LocalProtocolError("the server sent data behind its 220 to STARTTLS")
        if step == "MAIL" and not positive:
            self._smtputf8 = self._binarymime = False
        self._state = new
        if not self._pending:
            self._sent_state = new
        # The reply is fresh from the assembler, seen by no one yet: name its command in place
        # (a frozen value's field is set once, here, before anyone can hold it).
        object.__setattr__(reply, "command", step)
        return reply

    def _pending_count(self, step: str) -> int:
        return sum(1 for pending, _ in self._pending if pending == step)

    def _reset_transaction(self) -> None:
        self.accepted_recipients = 0
        self._smtputf8 = self._binarymime = False

    def tls_established(self) -> None:
        """Call after the TLS handshake that followed a 220 to STARTTLS: the session starts
        over, the capabilities are forgotten and EHLO must be sent again (RFC 3207 §4.2)."""

        def go() -> None:
            if self._state is not TLS:
                raise LocalProtocolError("tls_established() without a 220 to STARTTLS")
            if self._buffer:
                # RFC 3207 §5 response injection: plaintext that came after the 220 (in a
                # later read) must never be taken for a reply inside the TLS session.
                raise RemoteProtocolError("the server sent data behind its 220 to STARTTLS")
            self.tls_active = True
            self.capabilities = None
            self.authenticated = False
            self._reset_transaction()
            self._state = self._sent_state = HELLO

        self._guard(go, remote=False)
