"""What the client and server engines share: the receive side, the state, the error rule.

Pull model, as in h11: ``receive_data(bytes)`` (``b""`` is end of file), then ``next_event()``
until it returns ``NEED_DATA`` or ``PAUSED``; ``send(event)`` returns the bytes to write.
Any exception raised by ``next_event()`` or ``send()`` moves the connection to ``ERROR``.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Generic, TypeVar

from ._commands import wire_verb
from ._errors import LocalProtocolError
from ._events import (
    NEED_DATA,
    PAUSED,
    AuthCancel,
    AuthResponse,
    Bdat,
    Command,
    Event,
    UnknownCommand,
)
from ._receivebuffer import ReceiveBuffer
from ._state import ERROR, GREETING, State

__all__ = ["ConnectionBase", "step_of"]

R = TypeVar("R")
Out = TypeVar("Out", bound=Event)  # what this side sends: any event (client), a Reply (server)


# The step of each command type whose step does not depend on its fields (all but four).
_FIXED_STEPS: dict[type[Command], str] = {}


def step_of(cmd: Command) -> str:
    """The key of ``cmd`` in the state tables (see ``_state``)."""
    step = _FIXED_STEPS.get(type(cmd))
    if step is not None:
        return step
    if isinstance(cmd, Bdat):
        return "BDAT LAST" if cmd.last else "BDAT"
    if isinstance(cmd, AuthResponse):
        return "AUTH*"
    if isinstance(cmd, AuthCancel):
        return "*"
    if isinstance(cmd, UnknownCommand):
        return "UNKNOWN"
    step = _FIXED_STEPS[type(cmd)] = wire_verb(cmd)  # a ClassVar of its type
    return step


class ConnectionBase(Generic[Out]):
    """The receive buffer, end-of-file flag and state of one side of a connection."""

    def __init__(self, *, tls: bool) -> None:
        self._buffer = ReceiveBuffer()
        self._eof = False
        self._state = GREETING
        self.tls_active = tls

    if TYPE_CHECKING:

        @property
        def state(self) -> State:
            """Where the session stands (read-only)."""

    else:
        # A property whose getter is C code: read several times per command by the servers.
        state = property(attrgetter("_state"), doc="Where the session stands (read-only).")

    @property
    def buffered(self) -> int:
        """How many received octets are not processed yet."""
        return len(self._buffer)

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """Bytes received but not processed yet, and whether end of file was seen."""
        return self._buffer.peek(), self._eof

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Hand received bytes to the engine; ``b""`` means the peer closed the connection."""
        if self._eof and data:
            raise LocalProtocolError("received data after end of file")
        if data:
            self._buffer.feed(data)
        else:
            self._eof = True

    # The two calls of the pull model, with the error rule inline (they are the hot path:
    # a closure and a call per event cost more than the rule itself).

    def next_event(self) -> Event | type[NEED_DATA] | type[PAUSED]:
        """The next event, ``NEED_DATA`` (feed :meth:`receive_data`), or ``PAUSED`` (a client
        waits for its own commands or for TLS; a server owes a reply or starts TLS).

        An error here is the peer's (:class:`RemoteProtocolError`) and moves to ``ERROR``."""
        if self._state is ERROR:
            raise LocalProtocolError("the connection is in the ERROR state")
        try:
            return self._next_event()
        except LocalProtocolError as exc:
            self._state = ERROR
            raise exc.as_remote() from None
        except BaseException:
            self._state = ERROR
            raise

    def send(self, event: Out) -> bytes:
        """The wire bytes of ``event``: a client's Command, MessageData or EndOfMessage; a
        server's Reply, checked against what is pending.

        An error here is ours (:class:`LocalProtocolError`) and moves to ``ERROR``."""
        if self._state is ERROR:
            raise LocalProtocolError("the connection is in the ERROR state")
        try:
            return self._send(event)
        except BaseException:
            self._state = ERROR
            raise

    def _next_event(self) -> Event | type[NEED_DATA] | type[PAUSED]:
        raise NotImplementedError

    def _send(self, event: Out) -> bytes:
        raise NotImplementedError

    def _guard(self, fn: Callable[[], R], *, remote: bool) -> R:
        """Run ``fn``; on any error move to ERROR (and, when ``remote``, blame the peer)."""
        if self._state is ERROR:
            raise LocalProtocolError("the connection is in the ERROR state")
        try:
            return fn()
        except LocalProtocolError as exc:
            self._state = ERROR
            if remote:
                raise exc.as_remote() from None
            raise
        except BaseException:
            self._state = ERROR
            raise
