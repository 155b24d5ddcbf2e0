"""Command line codec: events to wire bytes and wire lines to events. No state.

The grammar is RFC 5321 §4.1.1 (commands), §4.1.2 (paths and parameters), RFC 1870 (SIZE),
RFC 6152 (BODY), RFC 6531 (SMTPUTF8), RFC 3461 (RET, ENVID, NOTIFY, ORCPT), RFC 4954 (AUTH),
RFC 8689 (REQUIRETLS), RFC 6710 (MT-PRIORITY), RFC 2852 (BY) and RFC 3030 (BDAT).

Parsing raises :class:`LocalProtocolError` whose ``reply_hint`` is the answer a server owes;
the server connection turns it into an :class:`InvalidCommand` event.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable
from typing import Any, Final, Literal

from ._addresses import (
    Address,
    AddressError,
    format_path,
    parse_path,
    split_path_and_params,
    utf8_addr_unitext_decode,
    utf8_addr_xtext_decode,
    utf8_addr_xtext_encode,
    xtext_decode,
    xtext_encode,
)
from ._errors import LocalProtocolError
from ._events import (
    Auth,
    AuthCancel,
    AuthResponse,
    Bdat,
    Command,
    Data,
    DeliverBy,
    Ehlo,
    Expn,
    Helo,
    Help,
    Lhlo,
    Mail,
    MailParams,
    Noop,
    OriginalRecipient,
    Quit,
    Rcpt,
    RcptParams,
    Rset,
    StartTLS,
    UnknownCommand,
    Vrfy,
)
from ._status import (
    AUTH_BAD_BASE64,
    BAD_SENDER_SYNTAX,
    NON_ASCII_ADDRESS,
    PARAM_SYNTAX,
    SYNTAX_ERROR,
    StatusHint,
)

__all__ = [
    "format_command",
    "parse_command",
    "parse_auth_line",
    "mail_param_items",
    "rcpt_param_items",
    "parse_mail_params",
    "parse_rcpt_params",
]


# --- formatting -----------------------------------------------------------------------------


def mail_param_items(p: MailParams) -> list[tuple[str, str | None]]:
    """The MAIL FROM parameters as (KEYWORD, wire value) pairs, in a fixed order."""
    out: list[tuple[str, str | None]] = []
    if p.size is not None:
        out.append(("SIZE", str(p.size)))
    if p.body is not None:
        out.append(("BODY", p.body))
    if p.smtputf8:
        out.append(("SMTPUTF8", None))
    if p.ret is not None:
        out.append(("RET", p.ret))
    if p.envid is not None:
        out.append(("ENVID", xtext_encode(p.envid)))
    if p.auth is not None:
        out.append(("AUTH", "<>" if p.auth == "<>" else xtext_encode(p.auth)))
    if p.requiretls:
        out.append(("REQUIRETLS", None))
    if p.mt_priority is not None:
        out.append(("MT-PRIORITY", str(p.mt_priority)))
    if p.by is not None:
        out.append(("BY", f"{p.by.seconds};{p.by.mode}{'T' if p.by.trace else ''}"))
    out.extend(p.extra)
    return out


def rcpt_param_items(p: RcptParams) -> list[tuple[str, str | None]]:
    """The RCPT TO parameters as (KEYWORD, wire value) pairs."""
    out: list[tuple[str, str | None]] = []
    if p.notify is not None:
        out.append(("NOTIFY", ",".join(p.notify)))
    if p.orcpt is not None:
        if p.orcpt.addr_type.lower() == "utf-8":
            value = utf8_addr_xtext_encode(p.orcpt.address)
        else:
            value = xtext_encode(p.orcpt.address)
        out.append(("ORCPT", f"{p.orcpt.addr_type};{value}"))
    out.extend(p.extra)
    return out


def _format_items(items: list[tuple[str, str | None]]) -> str:
    if not items:
        return ""
    return "".join([f" {k}" if v is None else f" {k}={v}" for k, v in items])


def format_command(
    cmd: Command, *, utf8: bool = False, items: list[tuple[str, str | None]] | None = None
) -> bytes:
    """The wire form of ``cmd`` with its CRLF. ``utf8`` allows UTF-8 (SMTPUTF8 in effect).
    ``items``: a MAIL's or RCPT's parameters as ``mail_param_items``/``rcpt_param_items``
    gave them, when the caller has them already."""
    line: str
    if isinstance(cmd, Mail):
        params = _format_items(mail_param_items(cmd.params) if items is None else items)
        line = f"MAIL FROM:{format_path(cmd.reverse_path)}{params}"
        utf8 = utf8 or cmd.params.smtputf8
    elif isinstance(cmd, Rcpt):
        params = _format_items(rcpt_param_items(cmd.params) if items is None else items)
        line = f"RCPT TO:{format_path(cmd.forward_path)}{params}"
    elif isinstance(cmd, (Data, Rset, Quit, StartTLS)):  # third: DATA is in every transaction
        line = cmd.verb
    elif isinstance(cmd, (Ehlo, Helo, Lhlo)):
        line = f"{cmd.verb} {cmd.hostname}"
    elif isinstance(cmd, Bdat):
        line = f"BDAT {cmd.size}{' LAST' if cmd.last else ''}"
    elif isinstance(cmd, (Vrfy, Expn)):
        line = f"{cmd.verb} {cmd.argument}"
    elif isinstance(cmd, (Help, Noop)):
        line = f"{cmd.verb} {cmd.argument}" if cmd.argument else cmd.verb
    elif isinstance(cmd, Auth):
        line = f"AUTH {cmd.mechanism}"
        if cmd.initial_response is not None:
            # RFC 4954 §4: an empty initial response is sent as a single "=".
            line += " " + (_b64(cmd.initial_response) if cmd.initial_response else "=")
    elif isinstance(cmd, AuthResponse):
        line = _b64(cmd.data)
    elif isinstance(cmd, AuthCancel):
        line = "*"
    elif isinstance(cmd, UnknownCommand):
        line = f"{cmd.name} {cmd.argument}" if cmd.argument else cmd.name
    else:  # pragma: no cover - every Command subclass is listed above
        raise LocalProtocolError(f"cannot send {cmd!r}")
    if not line.isascii() and not utf8:
        raise LocalProtocolError(
            f"non-ASCII in {cmd.verb or 'command'} needs SMTPUTF8 (RFC 6531 §3.2): {line!r}",
            NON_ASCII_ADDRESS,
        )
    try:
        return (line + "\r\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in some text field: no UTF-8 form
        raise LocalProtocolError(f"{cmd.verb or 'command'} has no UTF-8 form: {line!r}") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- parsing --------------------------------------------------------------------------------

_ESMTP_KEYWORD: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
# RFC 6531 §3.3: esmtp-value =/ UTF8-non-ascii
_ESMTP_VALUE: Final = re.compile(r"[\x21-\x3c\x3e-\x7e\x80-\U0010ffff]+")
_LENIENT_SEP: Final = re.compile(r"[ \t]+")
_DIGITS: Final = re.compile(r"[0-9]{1,20}")
_BY: Final = re.compile(r"([+-]?[0-9]{1,9});([RrNn])([Tt]?)")
_PRIORITY: Final = re.compile(r"[+-]?[0-9]")


def _bad(msg: str, hint: StatusHint = PARAM_SYNTAX) -> LocalProtocolError:
    return LocalProtocolError(msg, hint)


def _split_params(
    text: str, *, strict: bool, utf8: bool | None = False
) -> list[tuple[str, str | None]]:
    """RFC 5321 §4.1.2: Mail-parameters = esmtp-param *(SP esmtp-param).

    ``utf8``: whether SMTPUTF8 is in effect; None means "if these parameters include
    SMTPUTF8" (MAIL decides for itself). RFC 6531 §3.3 allows UTF-8 in an esmtp-value only
    then; RFC 5321's esmtp-value is ASCII.
    """
    # Only SP separates parameters (and HT, leniently): str.split() would also cut at
    # U+00A0 and other Unicode spaces that an RFC 6531 esmtp-value may hold.
    lenient = text.strip(" \t")
    items = text.split(" ") if strict else _LENIENT_SEP.split(lenient) if lenient else []
    out: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for item in items:
        if not item:
            raise _bad("empty parameter (two spaces in a row)")
        keyword, eq, value = item.partition("=")
        if not _ESMTP_KEYWORD.fullmatch(keyword):
            raise _bad(f"bad parameter keyword {keyword!r}")
        if eq and not _ESMTP_VALUE.fullmatch(value):
            raise _bad(f"bad value for parameter {keyword}")
        upper = keyword.upper()
        if upper in seen:
            raise _bad(f"parameter {upper} given twice")
        seen.add(upper)
        out.append((upper, value if eq else None))
    allowed = "SMTPUTF8" in seen if utf8 is None else utf8
    if not allowed and any(v is not None and not v.isascii() for _k, v in out):
        raise _bad("a non-ASCII parameter value needs SMTPUTF8 (RFC 6531 §3.3)")
    return out


def _need(value: str | None, keyword: str) -> str:
    if value is None:
        raise _bad(f"{keyword} needs a value")
    return value


def _no_value(value: str | None, keyword: str) -> bool:
    if value is not None:
        raise _bad(f"{keyword} takes no value")
    return True


def _decode_xtext(value: str, keyword: str) -> str:
    try:
        return xtext_decode(value)
    except AddressError as exc:
        raise _bad(f"{keyword}: {exc.message}") from None


def parse_mail_params(text: str, *, strict: bool = True) -> MailParams:
    kw: dict[str, Any] = {}
    extra: list[tuple[str, str | None]] = []
    for key, value in _split_params(text, strict=strict, utf8=None):
        if key == "SIZE":
            v = _need(value, key)
            if not _DIGITS.fullmatch(v):
                raise _bad("SIZE must be a number (RFC 1870 §3)")
            kw["size"] = int(v)
        elif key == "BODY":
            v = _need(value, key).upper()
            if v not in ("7BIT", "8BITMIME", "BINARYMIME"):
                raise _bad(f"unknown BODY value {v}", PARAM_SYNTAX)
            kw["body"] = v
        elif key == "SMTPUTF8":
            kw["smtputf8"] = _no_value(value, key)
        elif key == "RET":
            v = _need(value, key).upper()
            if v not in ("FULL", "HDRS"):
                raise _bad("RET must be FULL or HDRS (RFC 3461 §4.3)")
            kw["ret"] = v
        elif key == "ENVID":
            kw["envid"] = _decode_xtext(_need(value, key), key)
        elif key == "AUTH":
            v = _need(value, key)
            kw["auth"] = "<>" if v == "<>" else _decode_xtext(v, key)
        elif key == "REQUIRETLS":
            kw["requiretls"] = _no_value(value, key)
        elif key == "MT-PRIORITY":
            v = _need(value, key)
            if not _PRIORITY.fullmatch(v):
                raise _bad("MT-PRIORITY must be -9..9 (RFC 6710 §3)")
            kw["mt_priority"] = int(v)
        elif key == "BY":
            m = _BY.fullmatch(_need(value, key))
            if m is None:
                raise _bad("BY must be <seconds>;R or N[T] (RFC 2852 §4)")
            mode: Literal["R", "N"] = "R" if m[2].upper() == "R" else "N"
            kw["by"] = DeliverBy(seconds=int(m[1]), mode=mode, trace=bool(m[3]))
        else:
            extra.append((key, value))
    try:
        return MailParams(extra=tuple(extra), **kw)
    except LocalProtocolError as exc:
        raise _bad(exc.message) from None


def parse_rcpt_params(text: str, *, strict: bool = True, utf8: bool = False) -> RcptParams:
    notify: tuple[str, ...] | None = None
    orcpt: OriginalRecipient | None = None
    extra: list[tuple[str, str | None]] = []
    for key, value in _split_params(text, strict=strict, utf8=utf8):
        if key == "NOTIFY":
            notify = tuple(_need(value, key).upper().split(","))
        elif key == "ORCPT":
            addr_type, semi, raw = _need(value, key).partition(";")
            if not semi or not raw:
                raise _bad("ORCPT must be addr-type;address (RFC 3461 §4.2)")
            decode: Callable[[str], str]
            if addr_type.lower() == "utf-8":
                # RFC 6533 §3: utf-8-addr-xtext, or utf-8-addr-unitext under SMTPUTF8
                decode = utf8_addr_unitext_decode if utf8 else utf8_addr_xtext_decode
            else:
                decode = xtext_decode
            try:
                orcpt = OriginalRecipient(addr_type=addr_type, address=decode(raw))
            except (AddressError, LocalProtocolError) as exc:
                raise _bad(f"ORCPT: {exc}") from None
        else:
            extra.append((key, value))
    try:
        return RcptParams(notify=notify, orcpt=orcpt, extra=tuple(extra))
    except LocalProtocolError as exc:
        raise _bad(exc.message) from None


def _path_and_params(arg: str, prefix: str, *, strict: bool) -> tuple[str, str]:
    """``FROM:<path> params`` -> (path, params). Lenient mode allows ``FROM: <path>``."""
    if arg[: len(prefix)].upper() != prefix:
        raise _bad(f"expected {prefix}", PARAM_SYNTAX)
    rest = arg[len(prefix) :]
    if strict and rest.startswith(" "):
        raise _bad(f"no space allowed after {prefix} (RFC 5321 §4.1.1.2)")
    try:
        return split_path_and_params(rest if strict else rest.lstrip(" "), strict=strict)
    except AddressError as exc:
        raise _bad(exc.message, exc.reply_hint) from None


def parse_auth_line(line: str) -> AuthResponse | AuthCancel:
    """A client line inside a SASL exchange (RFC 4954 §4): base64, or ``*`` to cancel."""
    if line == "*":
        return AuthCancel()
    try:
        return AuthResponse(data=base64.b64decode(line, validate=True) if line != "=" else b"")
    except (binascii.Error, ValueError):
        raise _bad("cannot decode base64 response", AUTH_BAD_BASE64) from None


_NO_ARGS: Final = {"DATA": Data, "RSET": Rset, "QUIT": Quit, "STARTTLS": StartTLS}
_HELLOS: Final[dict[str, type[Ehlo] | type[Helo] | type[Lhlo]]] = {
    "EHLO": Ehlo,
    "HELO": Helo,
    "LHLO": Lhlo,
}


# Whole command lines parsed before, and their (immutable) commands: clients send the same
# lines again and again ("DATA", "QUIT", their HELO, their MAIL FROM). Bounded in entries
# and in the length of a line kept (RFC 5321 §4.5.3.1.4's 512 octets with the CRLF): a peer
# that sends ever new lines only empties it now and then, and no configured command-line
# limit makes it big. Errors are never kept, and neither is an AUTH line (a credential must
# not outlive its session in a process-wide table).
_PARSED: dict[tuple[bytes, bool, bool], Command] = {}
_PARSED_MAX: Final = 256
_PARSED_LINE_MAX: Final = 510


def parse_command(raw: bytes, *, strict: bool = False, utf8: bool = False) -> Command:
    """A command line (without CRLF) to a Command event.

    ``utf8`` says an SMTPUTF8 transaction is in effect (UTF-8 addresses in RCPT; MAIL decides
    for itself through its SMTPUTF8 parameter). Raises LocalProtocolError with the reply hint.
    """
    if type(raw) is not bytes or len(raw) > _PARSED_LINE_MAX:
        return _parse_command(raw, strict, utf8)
    key = (raw, strict, utf8)
    cmd = _PARSED.get(key)
    if cmd is None:
        cmd = _parse_command(raw, strict, utf8)
        if not isinstance(cmd, Auth):
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[key] = cmd
    return cmd


def _parse_command(raw: bytes, strict: bool, utf8: bool) -> Command:
    try:
        line = raw.decode("ascii")
    except UnicodeDecodeError:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("invalid UTF-8 in command", SYNTAX_ERROR) from None
    if "\x00" in line or "\r" in line or "\n" in line:
        raise _bad("NUL, CR or LF in a command line", SYNTAX_ERROR)
    if not strict:
        line = line.rstrip(" \t")
    verb, _sp, arg = line.partition(" ")
    upper = verb.upper()
    if not verb:
        raise _bad("empty command", SYNTAX_ERROR)
    if strict and _sp and not arg:
        # RFC 5321 §4.1.1: an SP is always followed by an argument ("QUIT " is not QUIT)
        raise _bad(f"trailing space after {upper[:20]}")
    if not line.isascii() and upper not in ("MAIL", "RCPT", "VRFY", "EXPN"):
        raise _bad("non-ASCII command", SYNTAX_ERROR)
    if upper in _NO_ARGS:
        if arg:
            raise _bad(f"{upper} takes no arguments")
        return _NO_ARGS[upper]()
    if upper in _HELLOS:
        if not arg or (strict and " " in arg):
            raise _bad(f"{upper} needs exactly one argument (RFC 5321 §4.1.1.1)")
        return _hello(upper, arg.split(" ")[0] if not strict else arg)
    if upper == "MAIL":
        return _parse_mail(arg, strict)
    if upper == "RCPT":
        return _parse_rcpt(arg, strict, utf8)
    if upper == "BDAT":
        m = re.fullmatch(r"([0-9]{1,20})(?: +(LAST))?", arg, re.IGNORECASE)
        if m is None:
            raise _bad("BDAT needs a size and optionally LAST (RFC 3030 §2)")
        return Bdat(size=int(m[1]), last=m[2] is not None)
    if upper == "AUTH":
        mech, _, initial = arg.partition(" ")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,20}", mech):
            raise _bad("AUTH needs a mechanism name (RFC 4954 §4)")
        if not initial:
            return Auth(mechanism=mech)
        response = parse_auth_line(initial)
        if isinstance(response, AuthCancel):
            raise _bad("bad initial response", AUTH_BAD_BASE64)
        return Auth(mechanism=mech, initial_response=response.data)
    if upper in ("VRFY", "EXPN"):
        if not arg.strip():
            raise _bad(f"{upper} needs an argument")
        return (Vrfy if upper == "VRFY" else Expn)(argument=arg)
    if upper in ("HELP", "NOOP"):
        return (Help if upper == "HELP" else Noop)(argument=arg)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", verb):
        raise _bad(f"command unrecognized: {verb[:20]!r}", SYNTAX_ERROR)
    return UnknownCommand(name=verb, argument=arg)


# A client sends the same few paths over and over (one sender, the same recipients), and
# greets with the same name; commands are immutable values, so the parse of an argument is
# kept (bounded: a peer cycling through names only evicts). Errors are not kept: they are
# raised again by a new parse.
@functools.lru_cache(maxsize=256)
def _hello(verb: str, hostname: str) -> Ehlo | Helo | Lhlo:
    """EHLO/HELO/LHLO: a client names itself the same way on every connection."""
    return _HELLOS[verb](hostname=hostname)


@functools.lru_cache(maxsize=256)
def _parse_mail(arg: str, strict: bool) -> Mail:
    try:
        path, params = _path_and_params(arg, "FROM:", strict=strict)
    except LocalProtocolError as exc:
        raise _bad(exc.message, _sender_hint(exc.reply_hint)) from None
    mp = parse_mail_params(params, strict=strict) if params else MailParams()
    sender = _parse_address(path, utf8=mp.smtputf8, strict=strict, null=True)
    return Mail(reverse_path=sender, params=mp)


@functools.lru_cache(maxsize=256)
def _parse_rcpt(arg: str, strict: bool, utf8: bool) -> Rcpt:
    path, params = _path_and_params(arg, "TO:", strict=strict)
    rp = parse_rcpt_params(params, strict=strict, utf8=utf8) if params else RcptParams()
    rcpt = _parse_address(path, utf8=utf8, strict=strict, null=False)
    assert rcpt is not None
    return Rcpt(forward_path=rcpt, params=rp)


def _parse_address(path: str, *, utf8: bool, strict: bool, null: bool) -> Address | None:
    try:
        return parse_path(path, smtputf8=utf8, strict=strict, null=null, postmaster=not null)
    except AddressError as exc:
        hint = _sender_hint(exc.reply_hint) if null else exc.reply_hint
        raise _bad(exc.message, hint) from None


def _sender_hint(hint: StatusHint) -> StatusHint:
    """RFC 3463 §3.2: X.1.3 is the destination's bad syntax, X.1.7 the sender's."""
    if hint.code == 501 and hint.enhanced is not None and hint.enhanced.subject == 1:
        return BAD_SENDER_SYNTAX
    return hint


def wire_verb(cmd: Command) -> str:
    """The command word a reply answers, for logging and Reply.command."""
    return cmd.name if isinstance(cmd, UnknownCommand) else (cmd.verb or "AUTH")
