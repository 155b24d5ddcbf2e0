"""The server engine: commands out of received bytes, replies into bytes.

The application decides policy (accept this recipient?) by answering each event with a
:class:`Reply`; the engine enforces everything the RFCs decide: sequencing (503), syntax
(500/501), unadvertised parameters (555), sizes (552), recipient limits (452), the error
budget (421), bare line endings in data (554), TLS and AUTH preconditions (530/538), and it
refuses replies that are illegal for the command they answer.

A command the engine refuses comes out as :class:`InvalidCommand` carrying the reply hint;
answer it with ``Reply.from_hint(event.hint)``. The session goes on.
"""

from __future__ import annotations

import functools
from typing import Final, Literal

from ._addresses import AddressError
from ._commands import mail_param_items, parse_auth_line, parse_command, rcpt_param_items
from ._config import COMMAND_LINE_ALLOWANCE, ServerConfig
from ._connection import ConnectionBase, step_of
from ._data import BdatReader, ContentScanner, DataDecoder
from ._errors import LocalProtocolError
from ._events import (
    NEED_DATA,
    PAUSED,
    Auth,
    Bdat,
    Command,
    ConnectionClosed,
    EndOfChunk,
    EndOfMessage,
    Event,
    InvalidCommand,
    Mail,
    MessageData,
    Rcpt,
    Reply,
)
from ._extensions import MAIL_PARAMETERS, RCPT_PARAMETERS, Capabilities, parameter_allowed
from ._receivebuffer import LINE_TOO_LONG
from ._replies import format_reply
from ._state import (
    AUTH,
    CLOSED,
    DATA,
    GREETING,
    HELLO,
    MAIL,
    OUTCOMES,
    READY,
    SESSION_STATES,
    TLS,
    State,
    reply_outcome,
    step_allowed,
)
from ._status import (
    AUTH_MECH_UNKNOWN,
    AUTH_REQUIRED,
    BAD_SEQUENCE,
    BARE_LINE_ENDING,
    ENCRYPTION_REQUIRED,
    LINE_TOO_LONG as LINE_TOO_LONG_HINT,
    MESSAGE_TOO_BIG,
    NOT_IMPLEMENTED,
    PARAM_UNKNOWN,
    SYNTAX_ERROR,
    TLS_REQUIRED,
    TOO_MANY_ERRORS,
    TOO_MANY_RECIPIENTS,
    StatusHint,
)

__all__ = ["ServerConnection"]

_TOO_MANY_MESSAGES: Final = StatusHint.of(421, "4.7.0", "Too many messages, closing connection")
_NO_RECIPIENTS: Final = StatusHint.of(554, "5.5.1", "No valid recipients")
_BINARY_NEEDS_BDAT: Final = StatusHint.of(503, "5.5.1", "BODY=BINARYMIME needs BDAT")
_IMPROPER_PIPELINING: Final = StatusHint.of(
    554, "5.5.0", "Improper pipelining after DATA (RFC 2920 §3.1), closing connection"
)
_TOO_MANY_AUTH: Final = StatusHint.of(421, "4.7.0", "Too many authentication failures")
# Replies that say "you sent something wrong": they spend the error budget (Limits.errors)
# whoever chose them, the engine or the application (e.g. 500 to an unknown command).
_ERROR_CODES: Final = frozenset({500, 501, 502, 503, 504})


@functools.lru_cache(maxsize=64)
def _greeting(hostname: str, lmtp: bool, text: str) -> Reply:
    """Built once per server, not per connection (a Reply checks its text when made)."""
    kind = "LMTP" if lmtp else ""
    return Reply.of(220, f"{hostname} {kind} {text}".replace("  ", " "))


@functools.lru_cache(maxsize=64)
def _helo_reply(hostname: str) -> Reply:
    """The 250 answer to HELO (RFC 5321 §4.1.1.1: the server's name), built once per name."""
    return Reply.of(250, hostname)


# What a server's capabilities become for one session state (TLS on, AUTH hidden): the
# advertised value, its command line limit and its EHLO reply, worked out once and shared by
# every connection, not once per connection. Keyed by the identity of the capabilities and
# config (they are immutable; the entry holds them, so an id is never reused while cached).
_Advertised = tuple[Capabilities, ServerConfig, tuple[bool, bool], Capabilities, int, Reply]
_ADVERTISED: dict[tuple[int, int, bool, bool], _Advertised] = {}
_ADVERTISED_MAX: Final = 256


def _advertise(
    caps: Capabilities, config: ServerConfig, tls: bool, auth_hidden: bool
) -> _Advertised:
    """No STARTTLS under TLS (RFC 3207 §4.2), no AUTH while hidden; the command line limit
    (RFC 5321 §4.5.3.1.4 plus what the advertised extensions allow) and the EHLO reply."""
    drop = set()
    if tls and caps.has("STARTTLS"):
        drop.add("STARTTLS")
    if auth_hidden and caps.has("AUTH"):
        drop.add("AUTH")
    shown = caps
    if drop:
        lines = caps.to_ehlo_lines()
        kept = [lines[0], *(ln for ln in lines[1:] if ln.split(" ")[0].upper() not in drop)]
        shown = Capabilities.from_ehlo(kept)
    max_line = config.limits.command_line + sum(
        n for kw, n in COMMAND_LINE_ALLOWANCE.items() if shown.has(kw)
    )
    ehlo = Reply(code=250, lines=tuple(shown.to_ehlo_lines()))
    return (caps, config, (tls, auth_hidden), shown, max_line, ehlo)


class ServerConnection(ConnectionBase[Reply]):
    """One SMTP (or LMTP) session, server side, without I/O.

    ``capabilities`` is what EHLO advertises (the engine drops STARTTLS once TLS is on, and AUTH
    before TLS when ``auth_requires_tls``); it also decides which parameters are accepted.
    """

    def __init__(
        self,
        *,
        capabilities: Capabilities | None = None,
        config: ServerConfig | None = None,
        tls: bool = False,
        auth_requires_tls: bool = True,
        require_tls: bool = False,
        require_auth: bool = False,
    ) -> None:
        super().__init__(tls=tls)
        self.config = config if config is not None else ServerConfig()
        self.capabilities = (
            capabilities
            if capabilities is not None
            else Capabilities.build(domain=self.config.hostname)
        )
        self.auth_requires_tls = auth_requires_tls
        self.require_tls = require_tls
        self.require_auth = require_auth
        self.helo_name: str | None = None
        self.esmtp = False
        self.authenticated = False
        self.mail: Mail | None = None
        self.recipients: list[Rcpt] = []
        self.messages = 0
        self.errors = 0
        self.auth_failures = 0
        self.greeting_refused = False
        self.discarded_after_starttls = 0
        self._close_after = False
        self._advertised_entry: _Advertised | None = None
        self._pending: str | None = None
        self._pending_cmd: Event | None = None
        self._refusal: StatusHint | None = None
        self._replies_owed = 0
        self._decoder: DataDecoder | None = None
        self._bdat: BdatReader | None = None
        self._bdat_cmd: Bdat | None = None
        self._bdat_refusal: StatusHint | None = None
        self._bdat_total = 0
        self._scanner = ContentScanner()

    # --- what the session offers --------------------------------------------------------

    @property
    def advertised(self) -> Capabilities:
        """The capabilities as advertised now: no STARTTLS under TLS (RFC 3207 §4.2), no
        AUTH before TLS when it requires TLS, no AUTH once authenticated."""
        caps, config, tls = self.capabilities, self.config, self.tls_active
        auth_hidden = (self.auth_requires_tls and not tls) or self.authenticated
        entry = self._advertised_entry  # held, so the identities below stay meaningful
        if (
            entry is None
            or entry[0] is not caps
            or entry[1] is not config
            or entry[2] != (tls, auth_hidden)
        ):
            key = (id(caps), id(config), tls, auth_hidden)
            entry = _ADVERTISED.get(key)
            if entry is None or entry[0] is not caps or entry[1] is not config:
                entry = _advertise(caps, config, tls, auth_hidden)
                if len(_ADVERTISED) >= _ADVERTISED_MAX:
                    _ADVERTISED.clear()
                _ADVERTISED[key] = entry
            self._advertised_entry = entry
        return entry[3]

    def ehlo_reply(self) -> Reply:
        """The 250 reply to EHLO/LHLO listing what is advertised now."""
        self.advertised  # noqa: B018 - refreshes the cached entry when the session changed
        assert self._advertised_entry is not None
        return self._advertised_entry[5]

    def helo_reply(self) -> Reply:
        """The 250 reply to HELO: the server's name, no extensions (RFC 5321 §4.1.1.1)."""
        return _helo_reply(self.config.hostname)

    def greeting(self, text: str = "ESMTP ready") -> Reply:
        """The 220 opening reply (RFC 5321 §4.3.1 / §3.1)."""
        return _greeting(self.config.hostname, self.config.lmtp, text)

    @property
    def max_command_line(self) -> int:
        """RFC 5321 §4.5.3.1.4's 512 octets plus what the advertised extensions allow."""
        self.advertised  # noqa: B018 - refreshes the cached entry when the session changed
        assert self._advertised_entry is not None
        return self._advertised_entry[4]

    # --- receiving ----------------------------------------------------------------------

    def _next_event(self) -> Event | type[NEED_DATA] | type[PAUSED]:
        st = self._state
        if st is CLOSED:
            return ConnectionClosed()
        if self._pending is not None or st in (GREETING, TLS):
            return PAUSED
        if st is DATA:
            return self._next_data()
        if self._bdat is not None:
            return self._next_chunk()
        if self.errors >= self.config.limits.errors:
            # The budget is spent: whatever comes next is answered 421 and the session ends.
            return self._invalid("", "", "too many errors", TOO_MANY_ERRORS, count=False)
        line = (
            self._buffer.extract_line(
                self.config.limits.auth_line if st is AUTH else self.max_command_line
            )
            if self._buffer.may_hold_line
            else None  # the usual case once a command is answered: nothing is buffered
        )
        if line is None:
            if self._eof:
                self._state = CLOSED
                return ConnectionClosed()
            return NEED_DATA
        if line is LINE_TOO_LONG:
            return self._invalid("", "", "command line too long", LINE_TOO_LONG_HINT)
        assert isinstance(line, bytes)
        if st is AUTH:
            return self._auth_line(line)
        try:
            cmd = parse_command(
                line,
                strict=self.config.strict,
                utf8=self.mail is not None and self.mail.params.smtputf8,
            )
        except LocalProtocolError as exc:
            verb = line.split(b" ", 1)[0].decode("ascii", "replace").upper()
            return self._invalid(verb, line, exc.message, exc.reply_hint)
        return self._accept(cmd, line)

    def _accept(self, cmd: Command, line: bytes) -> Event | type[NEED_DATA]:
        step = step_of(cmd)
        refusal = self._check(cmd, step)
        if refusal is not None:
            if isinstance(cmd, Bdat):
                # RFC 3030 §2: the chunk is read and discarded, never taken as commands
                # (go-smtp#315); the refusal is the reply to the chunk.
                self._start_chunk(cmd, refusal)
                return self._next_chunk()
            return self._invalid(cmd.verb or step, line, refusal.text, refusal)
        if isinstance(cmd, Bdat):
            self._start_chunk(cmd, None)
            self._pending_cmd = cmd
            return cmd
        self._pending = step
        self._pending_cmd = cmd
        return cmd

    def _check(self, cmd: Command, step: str) -> StatusHint | None:
        """The refusal this command earns, or None. One place for every server-side rule."""
        st = self._state
        lmtp = self.config.lmtp
        if self.greeting_refused and step != "QUIT":
            # RFC 5321 §3.1: after a 554 greeting the server "MUST NOT accept any commands
            # other than QUIT" and answers 503 to them.
            return BAD_SEQUENCE.with_text("No SMTP service here")
        if step in ("EHLO", "HELO") and lmtp:
            return SYNTAX_ERROR.with_text("This is LMTP: use LHLO (RFC 2033 §4.1)")
        if step == "LHLO" and not lmtp:
            return SYNTAX_ERROR
        # One comparison per kind of command (the step names it), not an isinstance each.
        if step == "STARTTLS":
            if self.tls_active:
                return BAD_SEQUENCE.with_text("TLS already active")
            if not self.advertised.starttls:
                return NOT_IMPLEMENTED
        elif step == "AUTH":
            assert isinstance(cmd, Auth)
            if self.authenticated:
                return BAD_SEQUENCE.with_text("Already authenticated (RFC 4954 §4)")
            if self.auth_failures >= self.config.limits.auth_attempts:
                return _TOO_MANY_AUTH  # RFC 4954 §4: bound the guessing, then hang up
            if self.auth_requires_tls and not self.tls_active and self.capabilities.has("AUTH"):
                return ENCRYPTION_REQUIRED
            caps = self.advertised
            if not caps.has("AUTH"):
                return NOT_IMPLEMENTED
            if cmd.mechanism not in caps.auth_mechanisms:
                return AUTH_MECH_UNKNOWN
        if not step_allowed(st, step):
            if step == "DATA" and st is MAIL:
                return _NO_RECIPIENTS  # RFC 5321 §3.3: 503 or 554 "no valid recipients"
            if step in ("MAIL", "AUTH", "STARTTLS") and st is HELLO:
                return BAD_SEQUENCE.with_text("Send EHLO/HELO first (RFC 5321 §4.1.4)")
            return BAD_SEQUENCE
        if step == "MAIL":
            assert isinstance(cmd, Mail)
            return self._check_mail(cmd, self.advertised)
        if step == "RCPT":
            assert isinstance(cmd, Rcpt)
            if len(self.recipients) >= self.config.limits.recipients:
                return TOO_MANY_RECIPIENTS  # RFC 5321 §4.5.3.1.10
            if self._params_refused("RCPT", rcpt_param_items(cmd.params), self.advertised):
                return PARAM_UNKNOWN
        elif step == "DATA":
            if self._buffer and self.config.strict_pipelining:
                # RFC 2920 §3.1: DATA ends a group; bytes already behind it were sent before
                # the 354 could be seen. They are never taken as message data, nor as commands.
                self._close_after = True
                return _IMPROPER_PIPELINING
            if self.mail is not None and self.mail.params.body == "BINARYMIME":
                return _BINARY_NEEDS_BDAT  # RFC 3030 §3
        elif step in ("BDAT", "BDAT LAST") and not self.advertised.chunking:
            return NOT_IMPLEMENTED
        return None

    def _check_mail(self, cmd: Mail, caps: Capabilities) -> StatusHint | None:
        limits = self.config.limits
        if self.require_tls and not self.tls_active:
            return TLS_REQUIRED
        if self.require_auth and not self.authenticated:
            return AUTH_REQUIRED
        if limits.messages is not None and self.messages >= limits.messages:
            return _TOO_MANY_MESSAGES
        if self._params_refused("MAIL", mail_param_items(cmd.params), caps):
            return PARAM_UNKNOWN
        size = cmd.params.size
        advertised = caps.size_limit
        cap = limits.message_size if advertised is None else advertised
        if size is not None and cap is not None and size > cap:
            return MESSAGE_TOO_BIG  # RFC 1870 §6.1
        if cmd.reverse_path is not None and not cmd.params.smtputf8:
            try:
                cmd.reverse_path.to_ascii()
            except AddressError as exc:
                return exc.reply_hint
        return None

    def _params_refused(
        self,
        command: Literal["MAIL", "RCPT"],
        items: list[tuple[str, str | None]],
        caps: Capabilities,
    ) -> bool:
        """RFC 5321 §4.1.1.11: 555 for a parameter whose extension was not advertised. With
        ``accept_unknown_params`` the ones no extension defines pass through to the app."""
        table = MAIL_PARAMETERS if command == "MAIL" else RCPT_PARAMETERS
        for key, value in items:
            if parameter_allowed(caps, command, key, value):
                continue
            if self.config.accept_unknown_params and key not in table:
                continue
            return True
        return False

    def _invalid(
        self, verb: str, line: bytes | str, reason: str, hint: StatusHint, *, count: bool = True
    ) -> InvalidCommand:
        if count:
            self.errors += 1
        if self.errors > self.config.limits.errors:
            hint = TOO_MANY_ERRORS
        self._pending = "INVALID"
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        event = InvalidCommand(verb=verb, line=text[:200], reason=reason, hint=hint)
        self._pending_cmd = event
        return event

    def _auth_line(self, line: bytes) -> Event:
        try:
            cmd = parse_auth_line(line.decode("ascii"))
        except (LocalProtocolError, UnicodeDecodeError) as exc:
            hint = exc.reply_hint if isinstance(exc, LocalProtocolError) else SYNTAX_ERROR
            return self._invalid("AUTH", b"***", "bad AUTH response line", hint)
        self._pending = step_of(cmd)
        self._pending_cmd = cmd
        return cmd

    # --- the data phase -----------------------------------------------------------------

    def _next_data(self) -> Event | type[NEED_DATA]:
        dec = self._decoder
        assert dec is not None
        while True:
            piece = dec.decode(self._buffer)
            if piece and not dec.exceeded:
                return MessageData(data=piece)
            if dec.done:
                return self._end_of_message(
                    dec.size, dec.bare_cr_or_lf, dec.eight_bit, dec.exceeded
                )
            if not piece:
                break
        if self._eof:
            self._state = CLOSED
            return ConnectionClosed()  # the message was not whole: never delivered
        return NEED_DATA

    def _end_of_message(
        self, size: int, bare: bool, eight_bit: bool, exceeded: bool, step: str = "."
    ) -> EndOfMessage:
        refusal = None
        if exceeded:
            refusal = MESSAGE_TOO_BIG
        elif bare and self.config.bare_line_endings == "reject":
            refusal = BARE_LINE_ENDING
        self._refusal = refusal
        self._decoder = None
        self._pending = step
        self._replies_owed = len(self.recipients) if self.config.lmtp else 1
        return EndOfMessage(
            size=size, bare_line_endings=bare, eight_bit=eight_bit, exceeded=exceeded
        )

    @property
    def replies_owed(self) -> int:
        """How many replies the pending step still needs (LMTP: one per recipient), or 0."""
        if self._pending is None:
            return 1 if self._state is GREETING else 0
        return self._replies_owed if self._pending in (".", "BDAT LAST") else 1

    @property
    def refusal(self) -> StatusHint | None:
        """After EndOfMessage: the reply the engine insists on (too big, bare CR/LF), or None."""
        return self._refusal

    def _start_chunk(self, cmd: Bdat, refusal: StatusHint | None) -> None:
        limit = self.config.limits.message_size
        advertised = self.advertised.size_limit
        if advertised is not None:
            limit = advertised
        self._bdat = BdatReader(
            cmd.size,
            discard=refusal is not None,
            max_size=limit,
            received=self._bdat_total,
            scanner=self._scanner,
        )
        self._bdat_cmd = cmd
        self._bdat_refusal = refusal

    def _next_chunk(self) -> Event | type[NEED_DATA]:
        reader, cmd = self._bdat, self._bdat_cmd
        assert reader is not None and cmd is not None
        piece = reader.read(self._buffer)
        if piece and not reader.exceeded:
            return MessageData(data=piece)
        if not reader.done:
            if self._eof:
                self._state = CLOSED
                return ConnectionClosed()
            return NEED_DATA
        self._bdat = None
        self._bdat_total += cmd.size
        if self._bdat_refusal is not None:
            hint = self._bdat_refusal
            self._bdat_refusal = None
            line = f"BDAT {cmd.size} LAST" if cmd.last else f"BDAT {cmd.size}"
            return self._invalid("BDAT", line, hint.text, hint)
        if cmd.last:
            scan = self._scanner
            scan.finish()
            # Bare CR/LF are data under BODY=BINARYMIME (RFC 3030 §3), not a line-ending fault.
            binary = self.mail is not None and self.mail.params.body == "BINARYMIME"
            bare = scan.bare_cr_or_lf and not binary
            return self._end_of_message(
                self._bdat_total, bare, scan.eight_bit, reader.exceeded, step="BDAT LAST"
            )
        self._pending = "BDAT"
        self._refusal = MESSAGE_TOO_BIG if reader.exceeded else None
        return EndOfChunk(size=cmd.size)

    # --- sending ------------------------------------------------------------------------

    def _send(self, reply: Reply) -> bytes:
        if not isinstance(reply, Reply):
            raise LocalProtocolError(f"a server sends Reply events, not {type(reply).__name__}")
        st = self._state
        code = reply.code
        if st is CLOSED:
            raise LocalProtocolError("the session is closed")
        step = "GREETING" if st is GREETING else self._pending
        if step is None:
            if code == 421:  # RFC 5321 §3.8: a server shutting down may say so at any time
                self._state = CLOSED
                return format_reply(reply)
            raise LocalProtocolError("no command is waiting for a reply")
        new = OUTCOMES.get((st, step, code)) or reply_outcome(st, step, code)
        if new is None:
            raise LocalProtocolError(f"{code} is not a valid reply to {step}")
        if self._refusal is not None and step in (".", "BDAT LAST", "BDAT") and code < 400:
            raise LocalProtocolError(
                f"this message must be refused ({self._refusal.code} {self._refusal.text})"
            )
        if step == "INVALID":
            hint = self._pending_cmd.hint if isinstance(self._pending_cmd, InvalidCommand) else None
            if hint is not None and hint.code == 421 and code != 421:
                raise LocalProtocolError("too many errors: the reply must be 421")
            closing = code == 421 or self._close_after
            new = CLOSED if closing else (READY if st is AUTH else st)
        elif code in _ERROR_CODES:
            self.errors += 1
        self._apply(step, code, new)
        return format_reply(reply)

    def _apply(self, step: str, code: int, new: State) -> None:
        cmd = self._pending_cmd
        positive = code < 400
        if step in (".", "BDAT LAST") and self._replies_owed > 1 and code != 421:
            self._replies_owed -= 1  # RFC 2033 §4.2: one reply per accepted recipient
            return
        self._pending = None
        self._pending_cmd = None
        if step == "GREETING" and code == 554:
            self.greeting_refused = True
        if step in ("EHLO", "HELO", "LHLO") and positive:
            self._reset_transaction()
            self.helo_name = getattr(cmd, "hostname", None)
            self.esmtp = step != "HELO"
        elif step == "RSET" and positive:
            self._reset_transaction()
        elif step == "MAIL" and positive and isinstance(cmd, Mail):
            self.mail = cmd
        elif step == "RCPT" and positive and isinstance(cmd, Rcpt):
            self.recipients.append(cmd)
        elif step == "DATA" and positive:
            limit = self.advertised.size_limit
            self._decoder = DataDecoder(
                max_size=self.config.limits.message_size if limit is None else limit,
                bare_line_endings=self.config.bare_line_endings,
            )
        elif step in (".", "BDAT LAST"):
            if positive:
                self.messages += 1
            self._reset_transaction()
        elif step == "BDAT" and not positive:
            self._reset_transaction()
        elif step == "STARTTLS" and positive:
            # RFC 3207 §4.2 / CVE-2011-0411: whatever the client sent behind STARTTLS in
            # plaintext is thrown away, never executed after the handshake.
            self.discarded_after_starttls += len(self._buffer.clear())
        elif step in ("AUTH", "AUTH*") and code == 235:
            self.authenticated = True
        elif step in ("AUTH", "AUTH*") and code >= 500:
            self.auth_failures += 1
        self._state = new

    def _reset_transaction(self) -> None:
        self.mail = None
        self.recipients = []
        self._refusal = None
        self._bdat_total = 0
        self._bdat_refusal = None
        self._replies_owed = 0
        self._scanner = ContentScanner()

    def tls_established(self) -> None:
        """Call after the TLS handshake that followed STARTTLS: the session starts over
        (RFC 3207 §4.2: forget EHLO, AUTH and everything else learned before)."""

        def go() -> None:
            if self._state is not TLS:
                raise LocalProtocolError("tls_established() without an accepted STARTTLS")
            # RFC 3207 §4.2 / CVE-2011-0411: plaintext fed after the 220 (a later read) is
            # thrown away like what came with STARTTLS, never executed inside TLS.
            self.discarded_after_starttls += len(self._buffer.clear())
            self.tls_active = True
            self.helo_name = None
            self.esmtp = False
            self.authenticated = False
            self._reset_transaction()
            self._state = HELLO

        self._guard(go, remote=False)

    @property
    def in_session(self) -> bool:
        return self._state in SESSION_STATES
