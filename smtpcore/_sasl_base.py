"""The SASL building blocks shared by every mechanism: step results, the two abstract step
objects, the credential callbacks, the AUTH wire codec (RFC 4954 §4) and SASLprep (RFC 4013).

Nothing here does I/O, reads a clock or rolls dice. The public names are re-exported by
:mod:`smtpcore.sasl`; import them from there.
"""

from __future__ import annotations

import binascii
import hmac
import re
import stringprep
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final, Protocol, runtime_checkable

from ._errors import SASLError
from ._status import (
    AUTH_BAD_BASE64,
    AUTH_CANCELLED,
    AUTH_FAILED,
    AUTH_TOO_LONG,
    PARAM_SYNTAX,
    StatusHint,
)

__all__ = [
    "AUTH_LINE_LIMIT",
    "CANCEL",
    "AUTH_MALFORMED",
    "AUTH_UNEXPECTED_INITIAL_RESPONSE",
    "Challenge",
    "Success",
    "Failure",
    "StepResult",
    "ClientMechanism",
    "ServerMechanism",
    "CredentialStore",
    "ScramCredentialStore",
    "ScramCredentials",
    "TokenStore",
    "AuthorizationPolicy",
    "DictCredentials",
    "decode_response",
    "encode_challenge",
    "encode_response",
    "decode_challenge",
    "mask_auth_line",
    "saslprep",
]

# RFC 4954 §4: "12288 octets is considered to be a sufficient line length limit for handling
# of deployed authentication mechanisms."  We apply it to the base64 text of one exchange line
# (without its CRLF), which is what servers such as Postfix (smtpd_sasl_response_limit) count.
AUTH_LINE_LIMIT: Final = 12288

# RFC 4954 §4: "If the client wishes to cancel the authentication exchange, it issues a line
# with a single '*'."
CANCEL: Final = b"*"

# A client message that does not follow the mechanism's syntax. RFC 4954 names no code for it;
# we answer like any other argument syntax error.
AUTH_MALFORMED: Final = PARAM_SYNTAX.with_text("Malformed authentication message")
# RFC 4954 §4: an initial response to a mechanism where the client does not begin the exchange
# "MUST reject the AUTH command with a 501 reply ... enhanced status code of 5.7.0".
AUTH_UNEXPECTED_INITIAL_RESPONSE: Final = StatusHint.of(
    501, "5.7.0", "Initial response not allowed for this mechanism"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Challenge:
    """The server sends ``data`` in a 334 reply (base64, see :func:`encode_challenge`)."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Success:
    """The exchange succeeded: the server answers 235.

    ``authzid`` is the authorization identity exactly as the client sent it ("" when none).
    ``final_data`` is additional data with success (RFC 4422 §3.6). RFC 4954 §4 says "the SMTP
    protocol doesn't support the SASL feature of returning additional data with a successful
    outcome", so the SMTP servers here send such data (SCRAM's server-final message) as a last
    334 challenge and expect an empty response; ``final_data`` is then None. It is only set by a
    mechanism built with ``final_in_success=True`` for a protocol whose profile allows it.
    """

    authcid: str
    authzid: str
    final_data: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """The exchange failed. ``reason`` is for the server's log, never for the client (the
    same ``hint`` is used for a wrong password and an unknown user); ``hint`` is the reply."""

    reason: str
    hint: StatusHint


StepResult = Challenge | Success | Failure


# ---------------------------------------------------------------------------------------------
# Step objects


class ClientMechanism(ABC):
    """The client side of one SASL exchange. One object per AUTH attempt.

    * :meth:`initial_response` gives the raw bytes to send as ``AUTH MECH <base64>`` (None when
      the mechanism does not begin the exchange). A caller may skip it, for instance when the
      AUTH line would pass 512 octets (RFC 4954 §4): the server then sends an empty 334
      challenge and :meth:`respond` with ``b""`` returns the same first message
      (RFC 4422 §5 (2a)).
    * :meth:`respond` takes each decoded 334 challenge and returns the raw response. It raises
      :class:`SASLError` when the challenge makes no sense; the caller then cancels with ``*``.
    * :meth:`verify_success` is called on the 235 reply; it raises :class:`SASLError` when a
      mechanism that authenticates the server (SCRAM) has not seen valid proof.
    """

    name: ClassVar[str]

    @property
    @abstractmethod
    def done(self) -> bool:
        """True once the client has nothing more to send (and has verified the server)."""

    def initial_response(self) -> bytes | None:
        return None

    @abstractmethod
    def respond(self, challenge: bytes) -> bytes: ...

    def verify_success(self, data: bytes | None = None) -> None:
        """Check the success outcome; ``data`` is additional data with success, if any."""
        if data:
            raise SASLError(f"{self.name}: the server sent unexpected data with its success")


class ServerMechanism(ABC):
    """The server side of one SASL exchange. One object per AUTH command.

    Call :meth:`step` first with the decoded initial response (None when the AUTH command had
    none), then with each decoded client response, until it returns :class:`Success` or
    :class:`Failure`. Calling it again after that raises :class:`SASLError`.
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self._finished = False
        self._steps = 0

    @property
    def done(self) -> bool:
        return self._finished

    def step(self, response: bytes | None) -> StepResult:
        if self._finished:
            raise SASLError(f"{self.name}: step() called after the exchange finished")
        if response is None and self._steps > 0:
            raise SASLError(f"{self.name}: only the first step may come without a response")
        self._steps += 1
        result = self._step(response)
        if not isinstance(result, Challenge):
            self._finished = True
        return result

    @abstractmethod
    def _step(self, response: bytes | None) -> StepResult: ...


def _fail(reason: str, hint: StatusHint = AUTH_FAILED) -> Failure:
    return Failure(reason=reason, hint=hint)


# ---------------------------------------------------------------------------------------------
# Credentials


class CredentialStore(Protocol):
    """What a server needs to check passwords.

    ``password_for`` is used by CRAM-MD5 and by SCRAM when no SCRAM credentials are stored;
    ``verify_password`` by PLAIN and LOGIN. Either may return None / False for unknown users.
    A store may also implement :class:`ScramCredentialStore`, :class:`TokenStore` and
    :class:`AuthorizationPolicy`; the mechanisms look for those methods with ``isinstance``.
    """

    def password_for(self, username: str) -> str | None: ...

    def verify_password(self, username: str, password: str) -> bool: ...


@runtime_checkable
class ScramCredentialStore(Protocol):
    """Optional: stored SCRAM keys, so the server need not keep passwords (RFC 5802 §3)."""

    def scram_credentials(self, username: str) -> ScramCredentials | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ScramCredentials:
    """What a SCRAM server stores for one user instead of the password (RFC 5802 §3):
    the salt, the iteration count, StoredKey = H(ClientKey) and ServerKey."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    def __post_init__(self) -> None:
        if not self.salt:
            raise SASLError("SCRAM salt must not be empty")
        if self.iterations < 1:
            raise SASLError("SCRAM iteration count must be positive")


@runtime_checkable
class TokenStore(Protocol):
    """Optional: OAuth 2.0 bearer tokens for XOAUTH2."""

    def verify_token(self, username: str, token: str) -> bool: ...


@runtime_checkable
class AuthorizationPolicy(Protocol):
    """Optional: may ``authcid`` act as ``authzid``? Without it only "" or authcid pass."""

    def authorize(self, authcid: str, authzid: str) -> bool: ...


def check_authorization(store: object, authcid: str, authzid: str) -> bool:
    """RFC 4422 §3.4.1: an empty authzid means "derive it from authcid"."""
    if authzid in ("", authcid):
        return True
    if isinstance(store, AuthorizationPolicy):
        return store.authorize(authcid, authzid)
    return False


def equal_secrets(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets (text compared as UTF-8)."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


class DictCredentials:
    """A :class:`CredentialStore` from ``{username: password}`` (and optionally
    ``{username: token}`` for XOAUTH2). Comparisons are constant-time, and an unknown user
    costs the same comparison as a known one."""

    __slots__ = ("_passwords", "_tokens")

    def __init__(
        self, passwords: Mapping[str, str], *, tokens: Mapping[str, str] | None = None
    ) -> None:
        self._passwords = dict(passwords)
        self._tokens = dict(tokens or {})

    def password_for(self, username: str) -> str | None:
        return self._passwords.get(username)

    def verify_password(self, username: str, password: str) -> bool:
        stored = self._passwords.get(username)
        # Compare against something even for an unknown user, so both paths do the same work.
        ok = equal_secrets(password, stored if stored is not None else password + "\x00")
        return ok and stored is not None

    def verify_token(self, username: str, token: str) -> bool:
        stored = self._tokens.get(username)
        ok = equal_secrets(token, stored if stored is not None else token + "\x00")
        return ok and stored is not None


# ---------------------------------------------------------------------------------------------
# The AUTH exchange lines (RFC 4954 §4)

# RFC 4954 §4: "servers and clients MUST reject (and not ignore) any character not explicitly
# allowed by the BASE64 alphabet, and MUST reject any sequence of BASE64 characters that
# contains the pad character ('=') anywhere other than the end of the string".  We also
# require whole 4-character groups (RFC 4648 §4), as binascii's lenient mode would not.
_BASE64_RE: Final = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _line_bytes(line: bytes | str) -> bytes:
    if isinstance(line, str):
        try:
            line = line.encode("ascii")
        except UnicodeEncodeError:
            raise SASLError("non-ASCII character in a base64 line", AUTH_BAD_BASE64) from None
    if line.endswith(b"\r\n"):
        line = line[:-2]
    return line


def _b64decode(text: bytes, what: str) -> bytes:
    if _BASE64_RE.fullmatch(text) is None:
        raise SASLError(f"{what} is not valid base64", AUTH_BAD_BASE64)
    return binascii.a2b_base64(text)


def decode_response(line: bytes | str, *, limit: int = AUTH_LINE_LIMIT) -> bytes:
    """Decode one client line of an AUTH exchange (the initial response or a continuation).

    ``*`` raises :class:`SASLError` with hint AUTH_CANCELLED (501 5.0.0); ``=`` is an empty
    response (RFC 4954 §4); a line longer than ``limit`` octets raises with AUTH_TOO_LONG
    (500 5.5.6); anything that is not strict base64 raises with AUTH_BAD_BASE64 (501 5.5.2).
    A trailing CRLF is removed first.
    """
    text = _line_bytes(line)
    if len(text) > limit:
        # RFC 4954 §4: "the server fails the AUTH command with the 500 reply ... 5.5.6".
        raise SASLError(f"authentication line of {len(text)} octets (limit {limit})", AUTH_TOO_LONG)
    if text == CANCEL:
        # RFC 4954 §4: "If the server receives such a response, it MUST reject the AUTH command
        # by sending a 501 reply."
        raise SASLError("the client cancelled the authentication exchange", AUTH_CANCELLED)
    if text == b"=":
        return b""
    return _b64decode(text, "the client response")


def encode_challenge(data: bytes) -> bytes:
    """The text of a 334 reply for ``data``: base64 on one line (empty for no data)."""
    return binascii.b2a_base64(data, newline=False)


def encode_response(data: bytes, *, initial: bool = False) -> bytes:
    """A client line for ``data``. An empty *initial* response is ``=`` (RFC 4954 §4); an
    empty continuation response is an empty line."""
    if initial and not data:
        return b"="
    return binascii.b2a_base64(data, newline=False)


def decode_challenge(text: bytes | str, *, limit: int = AUTH_LINE_LIMIT) -> bytes:
    """Decode the text of a 334 reply. Raises :class:`SASLError` when it is not strict base64;
    RFC 4954 §4 says the client "MUST cancel the authentication using the '*' response"."""
    data = _line_bytes(text)
    if len(data) > limit:
        raise SASLError(f"server challenge of {len(data)} octets (limit {limit})", AUTH_TOO_LONG)
    return _b64decode(data, "the server challenge")


# RFC 4422 §3.1: sasl-mech = 1*20mech-char; mech-char = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE
# (matched case-insensitively here, as clients send "auth login" too).
_AUTH_LINE_RE: Final = re.compile(rb"(?i)([ \t]*AUTH[ \t]+)([A-Z0-9_-]{1,20})(?![^ \t\r\n])")


def mask_auth_line(line: bytes, *, continuation: bool = False) -> bytes:
    """``line`` safe to log: credentials replaced by ``***``, the line ending kept.

    For an ``AUTH <MECH> <initial-response>`` command everything after the mechanism is
    masked; an AUTH command whose mechanism is not a valid name is masked whole. With
    ``continuation=True`` (a client line inside an AUTH exchange) the whole line is masked,
    except a lone ``*`` (cancel), which carries no secret. Other lines come back unchanged.
    """
    body = line.rstrip(b"\r\n")
    eol = line[len(body) :]
    if continuation:
        return line if body == CANCEL else b"***" + eol
    if not re.match(rb"(?i)[ \t]*AUTH(?:[ \t]|\Z)", body):
        return line
    m = _AUTH_LINE_RE.match(body)
    if m is None:
        head = re.match(rb"(?i)[ \t]*AUTH", body)
        assert head is not None
        rest = body[head.end() :]
        return body[: head.end()] + (b" ***" if rest.strip() else rest) + eol
    if not body[m.end() :].strip():
        return line
    return body[: m.end()] + b" ***" + eol


# ---------------------------------------------------------------------------------------------
# SASLprep (RFC 4013), on the stringprep tables of RFC 3454 that the standard library carries.

_PROHIBITED: Final = (
    stringprep.in_table_c12,  # non-ASCII space characters
    stringprep.in_table_c21_c22,  # control characters
    stringprep.in_table_c3,  # private use
    stringprep.in_table_c4,  # non-character code points
    stringprep.in_table_c5,  # surrogate codes
    stringprep.in_table_c6,  # inappropriate for plain text
    stringprep.in_table_c7,  # inappropriate for canonical representation
    stringprep.in_table_c8,  # change display properties or are deprecated
    stringprep.in_table_c9,  # tagging characters
)


def saslprep(text: str, *, allow_unassigned: bool = False) -> str:
    """Prepare ``text`` with the SASLprep profile (RFC 4013).

    ``allow_unassigned`` is True for "queries" and False for "stored strings" (RFC 3454 §7).
    Raises :class:`SASLError` for a prohibited character or a bidi violation.
    """
    if text.isascii() and all(" " <= c <= "~" for c in text):
        return text  # printable ASCII is unchanged by every step below
    # RFC 4013 §2.1: non-ASCII spaces map to SPACE; "commonly mapped to nothing" are removed.
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in text if not stringprep.in_table_b1(c)
    )
    # RFC 4013 §2.2: Unicode normalization form KC (of Unicode 3.2, as RFC 3454 fixes it).
    norm = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    for c in norm:
        # RFC 4013 §2.3 prohibited output; §2.5 unassigned code points (stored strings).
        if any(table(c) for table in _PROHIBITED) or (
            not allow_unassigned and stringprep.in_table_a1(c)
        ):
            raise SASLError(f"SASLprep: prohibited character U+{ord(c):04X}", AUTH_MALFORMED)
    # RFC 4013 §2.4, RFC 3454 §6: bidirectional characters.
    if any(stringprep.in_table_d1(c) for c in norm):
        if any(stringprep.in_table_d2(c) for c in norm):
            raise SASLError("SASLprep: mixed left-to-right and right-to-left text", AUTH_MALFORMED)
        if not (stringprep.in_table_d1(norm[0]) and stringprep.in_table_d1(norm[-1])):
            raise SASLError(
                "SASLprep: right-to-left text must start and end with an RTL char", AUTH_MALFORMED
            )
    return norm


def utf8(text: str, what: str) -> bytes:
    """``text`` as UTF-8, or SASLError (lone surrogates cannot be sent)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise SASLError(f"{what} is not encodable as UTF-8", AUTH_MALFORMED) from None


def from_utf8(data: bytes, what: str) -> str:
    """Decode a client's UTF-8 field, or SASLError."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SASLError(f"{what} is not valid UTF-8", AUTH_MALFORMED) from None
