"""The exception tree: one root, and whose fault it is.

``SMTPCoreError`` is the root of everything smtpcore raises on purpose.

* ``LocalProtocolError``: *you* (the code driving this side) broke the protocol rules: sent
  RCPT before MAIL, built a command with a CR in it, and so on.
* ``RemoteProtocolError``: the *peer* did. It carries ``reply_hint``, the reply a server
  should answer with (``Reply.from_hint(err.reply_hint)``).
* ``TransientReplyError`` / ``PermanentReplyError``: the adapters' convenience methods raise
  these for 4yz / 5yz replies; they carry the ``Reply``. The core never raises them: in the
  core a negative reply is an event.
* Network and timeout errors for the transports; ``MXError`` and ``DSNError`` for the services.

As in h11 and urllib3, some errors are also builtin ones (``ValueError``, ``TimeoutError``,
``OSError``) so generic handlers keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ._status import PARAM_SYNTAX, StatusHint

if TYPE_CHECKING:
    from ._events import Reply

__all__ = [
    "SMTPCoreError",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "ReplyError",
    "TransientReplyError",
    "PermanentReplyError",
    "NetworkError",
    "ConnectError",
    "ReadError",
    "WriteError",
    "SMTPTimeoutError",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "TLSError",
    "SASLError",
    "MXError",
    "DSNError",
]


class SMTPCoreError(Exception):
    """Root of every exception smtpcore raises on purpose."""

    #: When the error ends a ``send_messages`` call: the SendResult of each message
    #: finished before it, in order.
    results: list[Any] | None = None


class ProtocolError(SMTPCoreError):
    """A breach of the SMTP rules. Abstract: raise one of its two subclasses.

    ``reply_hint`` is the reply a server should send in answer (a :class:`StatusHint`).
    """

    reply_hint: StatusHint

    def __init__(self, msg: str, reply_hint: StatusHint | None = None) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract: raise its Local or Remote subclass")
        super().__init__(msg)
        self.reply_hint = PARAM_SYNTAX if reply_hint is None else reply_hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class LocalProtocolError(ProtocolError, ValueError):
    """This side broke the rules: a bad event, a bad argument, a command out of order."""

    def as_remote(self) -> RemoteProtocolError:
        """The same error seen from the other side (used at the single receive entry point)."""
        err = RemoteProtocolError(self.message, self.reply_hint)
        err.__cause__ = self
        return err


class RemoteProtocolError(ProtocolError):
    """The peer broke the rules; ``reply_hint`` says what a server should answer."""


class ReplyError(SMTPCoreError):
    """A negative reply, raised by the adapters' convenience methods. ``reply`` is the Reply."""

    #: The per-recipient SendResult, when the error ends a send_message call.
    result: Any = None

    def __init__(self, reply: Reply, command: str | None = None) -> None:
        self.reply = reply
        self.command = command
        where = f" to {command}" if command else ""
        super().__init__(f"server replied{where}: {reply}")

    @property
    def code(self) -> int:
        return self.reply.code


class TransientReplyError(ReplyError):
    """A 4yz reply: try again later."""


class PermanentReplyError(ReplyError):
    """A 5yz reply: do not retry as is."""


class NetworkError(SMTPCoreError, OSError):
    """A transport failed (connect, read or write)."""


class ConnectError(NetworkError):
    """Opening the connection failed (refused, unreachable, name not found)."""


class ReadError(NetworkError):
    """Reading from the connection failed, or the peer closed it unexpectedly."""


class WriteError(NetworkError):
    """Writing to the connection failed."""


class SMTPTimeoutError(SMTPCoreError, TimeoutError):
    """A deadline passed (per-state timeouts of RFC 5321 §4.5.3.2, or an overall one)."""


class ConnectTimeout(SMTPTimeoutError):
    """Opening the connection took longer than the connect timeout."""


class ReadTimeout(SMTPTimeoutError):
    """The peer sent nothing within the timeout of the current step."""


class WriteTimeout(SMTPTimeoutError):
    """The peer did not take our data within the timeout."""


class TLSError(NetworkError):
    """The TLS handshake or the TLS policy failed (including "TLS required but not offered")."""


class SASLError(SMTPCoreError, ValueError):
    """A SASL exchange failed: bad base64, a cancelled exchange, a malformed step.

    ``reply_hint`` is what a server should answer (501 for bad base64 and ``*``).
    """

    def __init__(self, msg: str, reply_hint: StatusHint | None = None) -> None:
        super().__init__(msg)
        self.reply_hint = PARAM_SYNTAX if reply_hint is None else reply_hint


MXErrorKind = Literal["permanent", "null-mx", "no-route", "temporary"]


class MXError(SMTPCoreError):
    """MX resolution failed. ``kind`` is one of permanent, null-mx, no-route, temporary."""

    def __init__(self, domain: str, kind: MXErrorKind, reason: str) -> None:
        super().__init__(f"{domain}: {reason}")
        self.domain = domain
        self.kind: MXErrorKind = kind
        self.reason = reason

    @property
    def is_temporary(self) -> bool:
        return self.kind == "temporary"


class DSNError(SMTPCoreError, ValueError):
    """A delivery status notification could not be parsed or built."""
