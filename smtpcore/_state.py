"""The SMTP session as tables. Everything that moves the session from state to state is here.

As in h11's ``_state.py``, this file does not know which role "we" play: the server applies a
transition when it *sends* a reply, the client when it *receives* one; both read the same
tables. Anything missing from ``TRANSITIONS`` is a sequencing error (503, RFC 5321 §4.1.4).

A transition is keyed on (state, step) where step is the command word, ``"."`` for the end of
the message data, ``"BDAT LAST"`` for the last chunk, ``"AUTH*"`` for a line inside a SASL
exchange, ``"*"`` for its cancellation and ``"GREETING"`` for the connection's opening reply.
Its value is the state after a positive (2yz) reply, after a negative one, and after an
intermediate (3yz) one where that differs.
"""

from __future__ import annotations

import enum
from typing import Final, NamedTuple

__all__ = [
    "State",
    "Transition",
    "TRANSITIONS",
    "REPLY_CODES",
    "GROUP_ENDERS",
    "SESSION_STATES",
    "next_state",
    "reply_allowed",
    "reply_outcome",
    "OUTCOMES",
    "step_allowed",
]


class State(enum.Enum):
    """Where a session stands; both engines expose it as ``.state``."""

    # Members are singletons compared by identity, so identity is a valid hash; Enum's own
    # hashes the name in Python code, and the state tables are looked up by (State, step)
    # several times per command.
    __hash__ = object.__hash__
    # For the same reason the engines compare with module globals (``CLOSED`` below):
    # on Python 3.10 and 3.11, EnumType's __getattr__ puts every ``State.X`` through a hook,
    # some 1,000 machine instructions each; that was a tenth of the asyncio server's cost of
    # a connection (callgrind, benchmarks/README.md).

    GREETING = "GREETING"  # the server's opening reply is owed / awaited
    HELLO = "HELLO"  # EHLO/HELO/LHLO expected (at start, and after STARTTLS)
    READY = "READY"  # a session, no mail transaction
    MAIL = "MAIL"  # MAIL accepted, no recipient yet
    RCPT = "RCPT"  # at least one recipient accepted
    DATA = "DATA"  # message data flowing (after 354)
    BDAT = "BDAT"  # a CHUNKING transaction under way (RFC 3030)
    AUTH = "AUTH"  # inside a SASL exchange (after a 334)
    TLS = "TLS"  # STARTTLS accepted: paused until the TLS handshake is done
    CLOSED = "CLOSED"  # QUIT answered, or a 421
    ERROR = "ERROR"

    def __repr__(self) -> str:
        return self.value


class Transition(NamedTuple):
    on_positive: State  # after a 2yz reply
    on_negative: State  # after a 4yz or 5yz reply
    on_intermediate: State | None = None  # after a 3yz reply (354, 334), when it differs


S = State
T = Transition

# The members as module globals, for the engines' comparisons on every command: on Python
# 3.10 and 3.11 ``State.CLOSED`` goes through EnumType's __getattr__ hook (see State), a
# global does not. ``from ._state import CLOSED``.
GREETING: Final = State.GREETING
HELLO: Final = State.HELLO
READY: Final = State.READY
MAIL: Final = State.MAIL
RCPT: Final = State.RCPT
DATA: Final = State.DATA
BDAT: Final = State.BDAT
AUTH: Final = State.AUTH
TLS: Final = State.TLS
CLOSED: Final = State.CLOSED
ERROR: Final = State.ERROR

# States in which a session exists (after a successful EHLO/HELO/LHLO).
SESSION_STATES: Final = frozenset({S.READY, S.MAIL, S.RCPT, S.BDAT})
# States in which no transaction runs but hello is still wanted.
_PRE_SESSION: Final = frozenset({S.HELLO})
_ANY_COMMAND_STATE: Final = SESSION_STATES | _PRE_SESSION


def _build() -> dict[tuple[State, str], Transition]:
    t: dict[tuple[State, str], Transition] = {}
    # RFC 5321 §3.1 / §4.3.2: the connection opens with 220 (or 554, after which the client
    # should QUIT; or 421, closing).
    t[S.GREETING, "GREETING"] = T(S.HELLO, S.HELLO)
    for st in _ANY_COMMAND_STATE:
        # §4.1.4: EHLO later in a session resets it exactly as RSET would; a refused EHLO
        # leaves the state as it was (the client may fall back to HELO).
        for hello in ("EHLO", "HELO", "LHLO"):
            t[st, hello] = T(S.READY, st)
        # §4.1.1.5 RSET: abort the transaction; §4.1.1.6-10 VRFY, EXPN, HELP, NOOP, QUIT are
        # allowed at any time (VRFY and EXPN do not touch the transaction).
        t[st, "RSET"] = T(S.HELLO if st is S.HELLO else S.READY, st)
        for verb in ("VRFY", "EXPN", "HELP", "NOOP", "UNKNOWN"):
            t[st, verb] = T(st, st)
        t[st, "QUIT"] = T(S.CLOSED, st)
    # RFC 3207 §4: STARTTLS after EHLO, outside a transaction; 220 pauses for the handshake.
    t[S.READY, "STARTTLS"] = T(S.TLS, S.READY)
    # RFC 4954 §4: AUTH after EHLO, not during a transaction. 334 enters the exchange,
    # 235 ends it well, anything else ends it badly.
    t[S.READY, "AUTH"] = T(S.READY, S.READY, S.AUTH)
    t[S.AUTH, "AUTH*"] = T(S.READY, S.READY, S.AUTH)
    t[S.AUTH, "*"] = T(S.READY, S.READY)
    # §4.1.4: MAIL starts a transaction only outside one.
    t[S.READY, "MAIL"] = T(S.MAIL, S.READY)
    # §4.1.1.3: RCPT after MAIL, once or more.
    t[S.MAIL, "RCPT"] = T(S.RCPT, S.MAIL)
    t[S.RCPT, "RCPT"] = T(S.RCPT, S.RCPT)
    # §4.1.1.4: DATA with at least one accepted recipient; 354 opens the data, and the reply
    # after the end of data closes the transaction either way.
    t[S.RCPT, "DATA"] = T(S.RCPT, S.RCPT, S.DATA)
    t[S.DATA, "."] = T(S.READY, S.READY)
    # RFC 3030 §2-3: BDAT chunks; any negative reply fails the transaction, and the reply to
    # the LAST chunk closes it.
    t[S.RCPT, "BDAT"] = T(S.BDAT, S.READY)
    t[S.BDAT, "BDAT"] = T(S.BDAT, S.READY)
    t[S.RCPT, "BDAT LAST"] = T(S.READY, S.READY)
    t[S.BDAT, "BDAT LAST"] = T(S.READY, S.READY)
    return t


TRANSITIONS: Final[dict[tuple[State, str], Transition]] = _build()

# Which reply codes may answer each step (RFC 5321 §4.3.2, RFC 3207 §4, RFC 4954 §4-6,
# RFC 3030 §2). "2", "4", "5" stand for a whole class. 421 may answer anything (§3.8) and
# 500/501 any command (§4.2.4): both are in every 4 and 5 class.
REPLY_CODES: Final[dict[str, frozenset[str]]] = {
    "GREETING": frozenset({"220", "4", "5"}),
    "EHLO": frozenset({"250", "4", "5"}),
    "HELO": frozenset({"250", "4", "5"}),
    "LHLO": frozenset({"250", "4", "5"}),
    "MAIL": frozenset({"2", "4", "5"}),
    "RCPT": frozenset({"2", "4", "5"}),
    "DATA": frozenset({"354", "4", "5"}),
    ".": frozenset({"2", "4", "5"}),
    "BDAT": frozenset({"2", "4", "5"}),
    "BDAT LAST": frozenset({"2", "4", "5"}),
    "RSET": frozenset({"2", "4", "5"}),
    "VRFY": frozenset({"2", "4", "5"}),
    "EXPN": frozenset({"2", "4", "5"}),
    "HELP": frozenset({"2", "4", "5"}),
    "NOOP": frozenset({"2", "4", "5"}),
    "QUIT": frozenset({"221", "4", "5"}),
    "STARTTLS": frozenset({"220", "4", "5"}),
    "AUTH": frozenset({"235", "334", "4", "5"}),
    "AUTH*": frozenset({"235", "334", "4", "5"}),
    "*": frozenset({"4", "5"}),
    "UNKNOWN": frozenset({"2", "4", "5"}),
    "INVALID": frozenset({"4", "5"}),
}

# RFC 2920 §3.1: "The EHLO, DATA, VRFY, EXPN, TURN, QUIT, and NOOP commands can only appear
# as the last command in a group" (TURN is not implemented); RFC 3207 §4.2 and RFC 4954 §4
# add STARTTLS and AUTH (their outcome changes what may follow); RFC 3030 §4.2 lets BDAT
# chunks be pipelined, LAST ends. The end of message data (".") is no command and ends no
# group: RFC 2920 §4's own example sends "." and QUIT in one go, and a client may send the
# next MAIL behind it (the transaction ends whatever the reply to "." says).
GROUP_ENDERS: Final = frozenset(
    {
        "EHLO",
        "HELO",
        "LHLO",
        "DATA",
        "VRFY",
        "EXPN",
        "QUIT",
        "NOOP",
        "HELP",
        "STARTTLS",
        "AUTH",
        "AUTH*",
        "*",
        "BDAT LAST",
        "UNKNOWN",
    }
)


def _expand(allowed: frozenset[str]) -> frozenset[int]:
    """Every valid reply code (RFC 5321 §4.2: [2-5][0-5][0-9]) that ``allowed`` names."""
    codes = (c for c in range(200, 600) if c // 10 % 10 <= 5)
    return frozenset(c for c in codes if str(c) in allowed or str(c)[0] in allowed)


# REPLY_CODES worked out into the codes themselves, once: the check runs for every reply.
_REPLY_INTS: Final[dict[str, frozenset[int]]] = {k: _expand(v) for k, v in REPLY_CODES.items()}


def reply_allowed(step: str, code: int) -> bool:
    """Whether ``code`` may answer ``step`` (see REPLY_CODES)."""
    allowed = _REPLY_INTS.get(step)
    return allowed is not None and code in allowed


def step_allowed(state: State, step: str) -> bool:
    return (state, step) in TRANSITIONS


def next_state(state: State, step: str, code: int) -> State:
    """The state after ``code`` answered ``step`` in ``state``. 421 always closes (§3.8)."""
    if code == 421:
        return S.CLOSED
    transition = TRANSITIONS.get((state, step))
    if transition is None:
        return state  # a refused out-of-sequence command changes nothing
    if code >= 400:
        return transition.on_negative
    if code >= 300 and transition.on_intermediate is not None:
        return transition.on_intermediate
    return transition.on_positive


# What reply_outcome worked out, by (state, step, code): an engine looks here first, with no
# call at all. Bounded: at most one entry per state, step and valid code (RFC 5321 §4.2),
# some tens of thousands even for a peer that tries every code; a few dozen in practice.
OUTCOMES: Final[dict[tuple[State, str, int], State]] = {}


def reply_outcome(state: State, step: str, code: int) -> State | None:
    """The state after ``code`` answered ``step`` in ``state`` (:func:`next_state`), or None
    when ``code`` may not answer ``step`` (:func:`reply_allowed`). Kept in OUTCOMES."""
    if not reply_allowed(step, code):
        return None
    new = OUTCOMES[(state, step, code)] = next_state(state, step, code)
    return new
