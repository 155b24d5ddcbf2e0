"""Mailboxes and paths: parsing and formatting (RFC 5321 §4.1.2, RFC 6531 §3.3), IDNA, xtext."""

from __future__ import annotations

import idna

from ._errors import LocalProtocolError
from ._status import BAD_ADDRESS_SYNTAX, StatusHint

__all__ = ["AddressError", "domain_to_ascii"]


class AddressError(LocalProtocolError):
    """An address, path or domain that the grammar refuses."""

    def __init__(self, msg: str, reply_hint: StatusHint | None = None) -> None:
        super().__init__(msg, BAD_ADDRESS_SYNTAX if reply_hint is None else reply_hint)


def domain_to_ascii(domain: str) -> str:
    """A domain name (U-labels or A-labels, any case, optional trailing dot) to lower-case A-labels.

    IDNA 2008 with the UTS 46 mapping (non-transitional). Raises :class:`AddressError` for an
    invalid name: a bad label, a label over 63 octets, a name over 253 octets (RFC 1035 §2.3.4,
    RFC 5321 §4.5.3.1.2).
    """
    name = domain[:-1] if domain.endswith(".") else domain
    if not name:
        raise AddressError("empty domain name")
    try:
        ascii_name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise AddressError(f"invalid domain name {domain!r}: {exc}") from None
    ascii_name = ascii_name.lower()
    if len(ascii_name) > 253:
        raise AddressError(f"domain name longer than 253 octets: {domain!r}")
    return ascii_name
