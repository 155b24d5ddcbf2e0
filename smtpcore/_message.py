"""From a message to what the envelope and the transaction need: sans-I/O.

* :func:`envelope_from_headers`: sender and recipients from the headers, with the Resent-*
  rules of RFC 5322 §3.6.6 (as smtplib's ``send_message`` applies them).
* :func:`message_bytes`: an ``EmailMessage`` rendered for SMTP (CRLF, no Bcc), UTF-8 headers
  kept when SMTPUTF8 is in use (RFC 6532).
* :func:`scan_message`: what a message needs: 8BITMIME for 8-bit octets (RFC 6152),
  SMTPUTF8 for UTF-8 in the header section (RFC 6531 §3.2), its size after CRLF
  normalisation (RFC 1870 §3: the SIZE is the octet count with CRLF line ends, before
  dot-stuffing).
"""

from __future__ import annotations

import copy
import email.policy
import email.utils
import functools
from collections.abc import Iterable, Iterator, Sequence
from email.message import Message
from typing import BinaryIO, NamedTuple

from ._addresses import Address, AddressError
from ._data import normalize_line_endings
from ._errors import LocalProtocolError

__all__ = [
    "envelope_from_headers",
    "message_bytes",
    "scan_message",
    "MessageScan",
    "iter_chunks",
    "as_address",
    "prepare_message",
    "PreparedMessage",
]


def _addresses(values: list[str]) -> list[Address]:
    out: list[Address] = []
    for _name, addr in email.utils.getaddresses(values):
        if not addr:
            continue
        try:
            out.append(Address.parse(addr))
        except AddressError as exc:
            raise LocalProtocolError(f"bad address in the headers: {addr!r}: {exc}") from None
    return out


def envelope_from_headers(msg: Message) -> tuple[Address | None, list[Address]]:
    """The reverse path and the recipients a message's headers ask for.

    RFC 5322 §3.6.6: when the message was resent (exactly one Resent-Date block is the
    common case; with several, the most recent block is the first one), the Resent-Sender /
    Resent-From and Resent-To/Cc/Bcc fields apply instead of Sender / From and To/Cc/Bcc.
    """
    resent_dates = msg.get_all("Resent-Date") or []
    prefix = "Resent-" if resent_dates else ""
    if len(resent_dates) > 1:
        raise LocalProtocolError("several Resent- blocks: give mail_from and rcpt_to explicitly")
    senders = msg.get_all(prefix + "Sender") or msg.get_all(prefix + "From") or []
    sender_list = _addresses([str(s) for s in senders])
    sender = sender_list[0] if sender_list else None
    values: list[str] = []
    for field in ("To", "Cc", "Bcc"):
        values.extend(str(v) for v in msg.get_all(prefix + field) or [])
    recipients = _addresses(values)
    if not recipients:
        raise LocalProtocolError("the message names no recipient: give rcpt_to")
    return sender, recipients


def message_bytes(msg: Message, *, smtputf8: bool = False) -> bytes:
    """The message as SMTP sends it: CRLF line ends, Bcc and Resent-Bcc removed."""
    clone = copy.deepcopy(msg)
    del clone["Bcc"]
    del clone["Resent-Bcc"]
    return clone.as_bytes(policy=email.policy.SMTPUTF8 if smtputf8 else email.policy.SMTP)


class MessageScan(NamedTuple):  # immutable; a NamedTuple is built in a third of the time
    size: int  # octets after CRLF normalisation
    eight_bit: bool  # any octet >= 0x80 (RFC 6152)
    utf8_headers: bool  # UTF-8 in the header section (RFC 6532: needs SMTPUTF8)
    data: bytes  # the normalised message


def scan_message(data: bytes, *, binary: bool = False) -> MessageScan:
    """What a message needs from the session. A ``binary`` one (BODY=BINARYMIME, RFC 3030
    §3) is taken as it is: a bare CR or LF is data there, not a line end to repair."""
    norm = data if binary else normalize_line_endings(data)
    end = norm.find(b"\r\n\r\n")
    headers = norm if end < 0 else norm[:end]
    # Positional: a NamedTuple's keywords cost as much again, once per message sent.
    return MessageScan(len(norm), not norm.isascii(), not headers.isascii(), norm)


def iter_chunks(
    source: bytes | bytearray | memoryview | BinaryIO | Iterable[bytes], size: int
) -> Iterable[bytes]:
    """The message in pieces of at most ``size`` octets, without loading a file whole."""
    if type(source) is bytes and len(source) <= size:
        return (source,)  # the usual message: one piece, as it is
    return _iter_chunks(source, size)


def _iter_chunks(
    source: bytes | bytearray | memoryview | BinaryIO | Iterable[bytes], size: int
) -> Iterator[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
        return
    read = getattr(source, "read", None)
    if read is not None:
        for _ in range(1 << 40):
            piece = read(size)
            if not piece:
                return
            if not isinstance(piece, bytes):
                raise LocalProtocolError("a message file must be opened in binary mode")
            yield piece
        return
    for piece in source:
        if not isinstance(piece, (bytes, bytearray, memoryview)):
            raise LocalProtocolError("a message iterable must yield bytes")
        yield bytes(piece)


def as_address(value: Address | str | None) -> Address | None:
    """An envelope address from an Address or its text; "" and "<>" are the null path."""
    if value is None or isinstance(value, Address):
        return value
    if type(value) is not str:
        return Address.parse(value)  # its own typed error for what is not text
    return None if value in ("", "<>") else _parse_address(value)


@functools.lru_cache(maxsize=1024)
def _parse_address(text: str) -> Address:
    """Address.parse, remembered: a bulk sender names the same few addresses again and
    again, and an Address is immutable."""
    return Address.parse(text)


class PreparedMessage(NamedTuple):
    """A message ready for a transaction: its envelope and what it needs."""

    sender: Address | None
    recipients: tuple[Address, ...]
    source: bytes | BinaryIO | Iterable[bytes]
    size: int | None
    eight_bit: bool
    utf8_headers: bool


def prepare_message(
    message: Message | bytes | bytearray | memoryview | BinaryIO | Iterable[bytes],
    mail_from: Address | str | None,
    rcpt_to: Sequence[Address | str] | None,
    *,
    smtputf8: bool,
    size: int | None = None,
    eight_bit: bool | None = None,
    binary: bool = False,
) -> PreparedMessage:
    """The envelope (from the headers when not given) and the content of a message.

    An ``email.message.Message`` is rendered for SMTP (UTF-8 headers kept when the server
    offers SMTPUTF8) and scanned; bytes are scanned (their line ends made CRLF unless
    ``binary``); a file or an iterable is streamed as it is, with the caller's ``size`` and
    ``eight_bit``.
    """
    sender = as_address(mail_from)
    utf8_headers = False
    source: bytes | BinaryIO | Iterable[bytes]
    if isinstance(message, Message):
        if mail_from is None or rcpt_to is None:
            hdr_from, hdr_to = envelope_from_headers(message)
            sender = hdr_from if mail_from is None else sender
            rcpt_to = hdr_to if rcpt_to is None else rcpt_to
        message = message_bytes(message, smtputf8=smtputf8)
    if isinstance(message, (bytes, bytearray, memoryview)):
        scan = scan_message(bytes(message), binary=binary)
        source = scan.data
        size, eight_bit, utf8_headers = scan.size, scan.eight_bit, scan.utf8_headers
    else:
        source = message
    if not rcpt_to:
        raise LocalProtocolError("no recipients")
    recipients = tuple([a for r in rcpt_to if (a := as_address(r)) is not None])
    return PreparedMessage(sender, recipients, source, size, bool(eight_bit), utf8_headers)
