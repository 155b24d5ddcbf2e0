"""What a server hands its handler: the session and the envelope, as immutable values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._addresses import Address
from ._events import MailParams, RcptParams

__all__ = ["Session", "Envelope"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One client connection as the server sees it.

    ``peer`` is the client's address (as the socket gives it, or as a PROXY header said);
    ``helo_name`` the EHLO/HELO/LHLO argument; ``tls`` the TLS version, cipher and peer
    certificate when TLS is on; ``authenticated_as`` the SASL authentication identity.
    """

    peer: Any = None
    local: Any = None
    helo_name: str | None = None
    esmtp: bool = False
    tls: dict[str, Any] | None = None
    authenticated_as: str | None = None
    lmtp: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """One mail transaction: the reverse path, the accepted recipients and every typed
    parameter (SIZE, BODY, SMTPUTF8, DSN's RET/ENVID/NOTIFY/ORCPT, REQUIRETLS, ...)."""

    mail_from: Address | None
    mail_params: MailParams = field(default_factory=MailParams)
    recipients: tuple[Address, ...] = ()
    rcpt_params: tuple[RcptParams, ...] = ()

    @property
    def smtputf8(self) -> bool:
        return self.mail_params.smtputf8

    @property
    def requiretls(self) -> bool:
        return self.mail_params.requiretls
