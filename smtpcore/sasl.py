"""SASL mechanisms for SMTP AUTH (RFC 4954), client and server, as sans-I/O step objects.

Client side: build a :class:`ClientMechanism` (:class:`Plain`, :class:`Login`,
:class:`CramMD5`, :class:`XOAuth2`, :class:`ScramSHA256`, or :func:`client_mechanism` by name),
send ``initial_response()`` with the AUTH command, feed each decoded 334 challenge to
``respond()``, and call ``verify_success()`` on the 235.

Server side: build a :class:`ServerMechanism` with :func:`server_mechanism` and a
:class:`CredentialStore`, then call ``step()`` with the initial response (or None) and each
client response; it returns :class:`Challenge` (send a 334), :class:`Success` (send 235) or
:class:`Failure` (send ``failure.hint``).

The wire helpers :func:`decode_response`, :func:`encode_challenge`, :func:`encode_response`
and :func:`decode_challenge` do the base64 of RFC 4954 §4, and :func:`mask_auth_line` hides
credentials from logs.

Nothing here does I/O, reads a clock or draws random numbers: SCRAM nonces and CRAM-MD5
challenges are passed in. An adapter makes them with, for instance,
``secrets.token_urlsafe(18)`` (a SCRAM nonce) and
``f"<{secrets.randbelow(2**63)}.{int(time.time())}@{hostname}>".encode()`` (a CRAM-MD5
challenge, RFC 2195 §2).

Both sides of the RFC 2195 §2 example, with the lines an adapter would put on the wire:

>>> from smtpcore import sasl
>>> store = sasl.DictCredentials({"tim": "tanstaaftanstaaf"})
>>> server = sasl.server_mechanism(
...     "CRAM-MD5", store, challenge=b"<1896.697170952@postoffice.reston.mci.net>"
... )
>>> client = sasl.client_mechanism("CRAM-MD5", username="tim", password="tanstaaftanstaaf")
>>> client.initial_response() is None  # so the client sends a bare "AUTH CRAM-MD5"
True
>>> step = server.step(None)
>>> wire = sasl.encode_challenge(step.data)
>>> b"334 " + wire
b'334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+'
>>> line = sasl.encode_response(client.respond(sasl.decode_challenge(wire)))
>>> line
b'dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw'
>>> sasl.mask_auth_line(line, continuation=True)
b'***'
>>> server.step(sasl.decode_response(line))
Success(authcid='tim', authzid='', final_data=None)
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Final

from ._errors import SASLError
from ._sasl_base import (
    AUTH_LINE_LIMIT,
    AUTH_MALFORMED,
    AUTH_UNEXPECTED_INITIAL_RESPONSE,
    CANCEL,
    AuthorizationPolicy,
    Challenge,
    ClientMechanism,
    CredentialStore,
    DictCredentials,
    Failure,
    ScramCredentials,
    ScramCredentialStore,
    ServerMechanism,
    StepResult,
    Success,
    TokenStore,
    _fail,
    check_authorization,
    decode_challenge,
    decode_response,
    encode_challenge,
    encode_response,
    equal_secrets,
    from_utf8,
    mask_auth_line,
    saslprep,
    utf8,
)
from ._sasl_scram import (
    SCRAM_DEFAULT_ITERATIONS,
    SCRAM_MAX_ITERATIONS,
    SCRAM_MIN_ITERATIONS,
    ScramSHA256,
    ScramSHA256Server,
    escape_saslname,
    scram_credentials_from_password,
    unescape_saslname,
)
from ._status import AUTH_MECH_UNKNOWN, LOCAL_ERROR

__all__ = [
    "AUTH_LINE_LIMIT",
    "AUTH_MALFORMED",
    "AUTH_UNEXPECTED_INITIAL_RESPONSE",
    "CANCEL",
    "CLEARTEXT_MECHANISMS",
    "CLIENT_MECHANISMS",
    "DEFAULT_PREFERENCE",
    "PASSWORD_PREFERENCE",
    "SCRAM_DEFAULT_ITERATIONS",
    "SCRAM_MAX_ITERATIONS",
    "SCRAM_MIN_ITERATIONS",
    "SERVER_MECHANISMS",
    "XOAUTH2_DEFAULT_ERROR",
    "AuthorizationPolicy",
    "Challenge",
    "ClientMechanism",
    "CramMD5",
    "CramMD5Server",
    "CredentialStore",
    "DictCredentials",
    "Failure",
    "Login",
    "LoginServer",
    "Plain",
    "PlainServer",
    "ScramCredentialStore",
    "ScramCredentials",
    "ScramSHA256",
    "ScramSHA256Server",
    "ServerMechanism",
    "StepResult",
    "Success",
    "TokenStore",
    "XOAuth2",
    "XOAuth2Server",
    "choose_mechanism",
    "client_mechanism",
    "decode_challenge",
    "decode_response",
    "encode_challenge",
    "encode_response",
    "escape_saslname",
    "mask_auth_line",
    "saslprep",
    "scram_credentials_from_password",
    "server_mechanism",
    "unescape_saslname",
]


def _no_nul(value: str, what: str) -> None:
    if "\x00" in value:
        raise SASLError(f"{what} must not contain NUL")


def _unexpected(name: str, challenge: bytes) -> SASLError:
    return SASLError(f"{name}: unexpected server challenge {challenge[:40]!r}")


# ---------------------------------------------------------------------------------------------
# PLAIN (RFC 4616)


class Plain(ClientMechanism):
    """PLAIN (RFC 4616): ``[authzid] NUL authcid NUL passwd`` in one message."""

    name = "PLAIN"

    def __init__(self, username: str, password: str, authzid: str = "") -> None:
        # RFC 4616 §2: authcid = 1*SAFE, passwd = 1*SAFE, authzid = 1*SAFE; SAFE excludes NUL.
        if not username or not password:
            raise SASLError("PLAIN needs a non-empty username and password")
        for value, what in ((username, "username"), (password, "password"), (authzid, "authzid")):
            _no_nul(value, what)
        self._message = b"\x00".join(
            (utf8(authzid, "authzid"), utf8(username, "username"), utf8(password, "password"))
        )
        self._sent = False
        self._answered = False

    @property
    def done(self) -> bool:
        return self._sent

    def initial_response(self) -> bytes:
        self._sent = True
        return self._message

    def respond(self, challenge: bytes) -> bytes:
        # RFC 4616 §2: "The mechanism consists of a single message ... from the client"; the
        # only challenge that makes sense is the empty one asking for it (RFC 4422 §5 (2a)).
        if challenge or self._answered:
            raise _unexpected(self.name, challenge)
        self._answered = self._sent = True
        return self._message


class PlainServer(ServerMechanism):
    """Server side of PLAIN, checked with ``store.verify_password``."""

    name = "PLAIN"

    def __init__(self, store: CredentialStore) -> None:
        super().__init__()
        self._store = store

    def _step(self, response: bytes | None) -> StepResult:
        if response is None:
            return Challenge(data=b"")  # RFC 4954 §4: "334 " asks for the message
        # RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
        parts = response.split(b"\x00")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            return _fail("PLAIN: malformed message", AUTH_MALFORMED)
        try:
            authzid, authcid, passwd = (from_utf8(p, "PLAIN field") for p in parts)
        except SASLError as err:
            return _fail(str(err), AUTH_MALFORMED)
        if not self._store.verify_password(authcid, passwd):
            return _fail(f"PLAIN: bad credentials for {authcid!r}")
        if not check_authorization(self._store, authcid, authzid):
            return _fail(f"PLAIN: {authcid!r} may not act as {authzid!r}")
        return Success(authcid=authcid, authzid=authzid)


# ---------------------------------------------------------------------------------------------
# LOGIN (draft-murchison-sasl-login-00)


class Login(ClientMechanism):
    """LOGIN: the server asks ``Username:`` then ``Password:``; the client answers each.

    The challenge text is not checked (servers word it differently); the first challenge gets
    the username and the second the password, as the draft describes.
    """

    name = "LOGIN"

    def __init__(self, username: str, password: str) -> None:
        self._answers = [utf8(username, "username"), utf8(password, "password")]
        self._step = 0

    @property
    def done(self) -> bool:
        return self._step == 2

    def respond(self, challenge: bytes) -> bytes:
        if self._step >= 2:
            raise _unexpected(self.name, challenge)
        answer = self._answers[self._step]
        self._step += 1
        return answer


class LoginServer(ServerMechanism):
    """Server side of LOGIN. An initial response is taken as the username, as Microsoft's
    servers and many clients do ([MS-XLOGIN] §2.2.2)."""

    name = "LOGIN"
    USERNAME_CHALLENGE: Final = b"Username:"
    PASSWORD_CHALLENGE: Final = b"Password:"

    def __init__(self, store: CredentialStore) -> None:
        super().__init__()
        self._store = store
        self._username: str | None = None

    def _step(self, response: bytes | None) -> StepResult:
        if response is None:
            return Challenge(data=self.USERNAME_CHALLENGE)
        try:
            text = from_utf8(response, "LOGIN response")
        except SASLError as err:
            return _fail(str(err), AUTH_MALFORMED)
        if self._username is None:
            self._username = text
            return Challenge(data=self.PASSWORD_CHALLENGE)
        if not self._store.verify_password(self._username, text):
            return _fail(f"LOGIN: bad credentials for {self._username!r}")
        return Success(authcid=self._username, authzid="")


# ---------------------------------------------------------------------------------------------
# CRAM-MD5 (RFC 2195)


def _cram_digest(password: str, challenge: bytes) -> str:
    # RFC 2195 §2: digest = HMAC-MD5 keyed with the shared secret over the challenge,
    # "represented as a sequence of 16 octets ... as 32 lowercase hexadecimal digits".
    return hmac.new(utf8(password, "password"), challenge, hashlib.md5).hexdigest()


class CramMD5(ClientMechanism):
    """CRAM-MD5 (RFC 2195): answers the server's challenge with ``user SP hex-digest``."""

    name = "CRAM-MD5"

    def __init__(self, username: str, password: str) -> None:
        if not username:
            raise SASLError("CRAM-MD5 needs a non-empty username")
        self._username = utf8(username, "username")
        self._password = password
        utf8(password, "password")
        self._answered = False

    @property
    def done(self) -> bool:
        return self._answered

    def respond(self, challenge: bytes) -> bytes:
        if self._answered or not challenge:
            raise _unexpected(self.name, challenge)
        self._answered = True
        return self._username + b" " + _cram_digest(self._password, challenge).encode("ascii")


_CRAM_RESPONSE_RE: Final = re.compile(rb"(.+) ([0-9a-f]{32})", re.DOTALL)


class CramMD5Server(ServerMechanism):
    """Server side of CRAM-MD5. ``challenge`` is injected: RFC 2195 §2 wants it unique, in the
    form of a msg-id such as ``<1896.697170952@postoffice.reston.mci.net>``."""

    name = "CRAM-MD5"

    def __init__(self, store: CredentialStore, challenge: bytes) -> None:
        super().__init__()
        if not challenge:
            raise SASLError("CRAM-MD5 needs a non-empty challenge", LOCAL_ERROR)
        self._store = store
        self._challenge = challenge

    def _step(self, response: bytes | None) -> StepResult:
        if self._steps == 1:
            if response is not None:
                # RFC 4954 §4: an initial response to a server-first mechanism gets 501 5.7.0.
                return _fail("CRAM-MD5: initial response sent", AUTH_UNEXPECTED_INITIAL_RESPONSE)
            return Challenge(data=self._challenge)
        assert response is not None
        # RFC 2195 §2: the user name, a space, and the digest. The name may contain spaces,
        # so the digest is the last field.
        m = _CRAM_RESPONSE_RE.fullmatch(response[:-32] + response[-32:].lower())
        if m is None:
            return _fail("CRAM-MD5: malformed response", AUTH_MALFORMED)
        try:
            username = from_utf8(m[1], "CRAM-MD5 username")
        except SASLError as err:
            return _fail(str(err), AUTH_MALFORMED)
        password = self._store.password_for(username)
        # Compute a digest for an unknown user too, so both paths cost the same.
        expected = _cram_digest(password if password is not None else "", self._challenge)
        if not equal_secrets(expected, m[2].decode("ascii")) or password is None:
            return _fail(f"CRAM-MD5: bad credentials for {username!r}")
        return Success(authcid=username, authzid="")


# ---------------------------------------------------------------------------------------------
# XOAUTH2 (Google "OAuth 2.0 Mechanism", also used by Microsoft)

# The server's JSON error challenge for a refused token, in the shape of Google's example
# ("status", "schemes", "scope"); the client answers it with an empty response.
XOAUTH2_DEFAULT_ERROR: Final = (
    b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
)


def _xoauth2_message(username: str, token: str) -> bytes:
    # base64("user=" {User} "^Aauth=Bearer " {Access Token} "^A^A")
    for value, what in ((username, "username"), (token, "token")):
        if "\x01" in value:
            raise SASLError(f"XOAUTH2 {what} must not contain ^A")
    user, bearer = utf8(username, "username"), utf8(token, "token")
    return b"user=%s\x01auth=Bearer %s\x01\x01" % (user, bearer)


class XOAuth2(ClientMechanism):
    """XOAUTH2: ``user=... ^A auth=Bearer <token> ^A ^A``. ``token`` is a string or a
    zero-argument callable returning one, called once when the message is first needed (so an
    adapter can refresh an expiring token just in time).

    When the token is refused the server sends a JSON error as a 334 challenge; the client
    answers it with an empty response (and the server then fails the command). The JSON text
    is kept in :attr:`error`.
    """

    name = "XOAUTH2"

    def __init__(self, username: str, token: str | Callable[[], str]) -> None:
        if not username:
            raise SASLError("XOAUTH2 needs a non-empty username")
        self._username = username
        self._token = token
        self._message: bytes | None = None
        self._resent = False
        self.error: str | None = None

    def _first(self) -> bytes:
        if self._message is None:
            token: object = self._token() if callable(self._token) else self._token
            if not isinstance(token, str) or not token:
                raise SASLError("XOAUTH2 token must be a non-empty str")
            self._message = _xoauth2_message(self._username, token)
        return self._message

    @property
    def done(self) -> bool:
        return self._message is not None

    def initial_response(self) -> bytes:
        return self._first()

    def respond(self, challenge: bytes) -> bytes:
        if not challenge and self.error is None and not self._resent:
            self._resent = True  # "334 " asks for the message (RFC 4422 §5 (2a))
            return self._first()
        if not challenge or self.error is not None or self._message is None:
            raise _unexpected(self.name, challenge)
        # The server refused the token: a JSON error, to be answered with an empty response.
        self.error = challenge.decode("utf-8", "replace")
        return b""


_XOAUTH2_RE: Final = re.compile(rb"user=([^\x01]+)\x01auth=Bearer ([^\x01]+)\x01\x01")


class XOAuth2Server(ServerMechanism):
    """Server side of XOAUTH2, checked with ``store.verify_token`` (a :class:`TokenStore`).
    A refused token gets the JSON ``error`` as a 334 challenge, then a :class:`Failure`."""

    name = "XOAUTH2"

    def __init__(self, store: TokenStore, *, error: bytes = XOAUTH2_DEFAULT_ERROR) -> None:
        super().__init__()
        if not isinstance(store, TokenStore):
            raise SASLError("XOAUTH2 needs a store with verify_token()", LOCAL_ERROR)
        self._store = store
        self._error = error
        self._refused: str | None = None

    def _step(self, response: bytes | None) -> StepResult:
        if response is None:
            return Challenge(data=b"")
        if self._refused is not None:
            return _fail(f"XOAUTH2: bad token for {self._refused!r}")
        m = _XOAUTH2_RE.fullmatch(response)
        if m is None:
            return _fail("XOAUTH2: malformed message", AUTH_MALFORMED)
        try:
            username = from_utf8(m[1], "XOAUTH2 user")
            token = from_utf8(m[2], "XOAUTH2 token")
        except SASLError as err:
            return _fail(str(err), AUTH_MALFORMED)
        if not self._store.verify_token(username, token):
            self._refused = username
            return Challenge(data=self._error)
        return Success(authcid=username, authzid="")


# ---------------------------------------------------------------------------------------------
# Registries and factories

CLIENT_MECHANISMS: Final[Mapping[str, type[ClientMechanism]]] = MappingProxyType(
    {m.name: m for m in (ScramSHA256, XOAuth2, CramMD5, Plain, Login)}
)
SERVER_MECHANISMS: Final[Mapping[str, type[ServerMechanism]]] = MappingProxyType(
    {m.name: m for m in (ScramSHA256Server, XOAuth2Server, CramMD5Server, PlainServer, LoginServer)}
)

# RFC 4954 §4: a server "MUST implement a configuration in which it does NOT permit any
# plaintext password mechanisms, unless either the STARTTLS command has been negotiated or
# some other mechanism that protects the session from password snooping has been provided".
# These send the password (or a bearer token) in the clear; adapters offer them only under TLS
# unless told otherwise, and answer ENCRYPTION_REQUIRED (538 5.7.11) when asked for one.
CLEARTEXT_MECHANISMS: Final = frozenset({"PLAIN", "LOGIN", "XOAUTH2"})

# Strongest first. XOAUTH2 is only usable with a token: callers with a password use
# PASSWORD_PREFERENCE (or filter DEFAULT_PREFERENCE themselves).
DEFAULT_PREFERENCE: Final = ("SCRAM-SHA-256", "XOAUTH2", "CRAM-MD5", "PLAIN", "LOGIN")
PASSWORD_PREFERENCE: Final = ("SCRAM-SHA-256", "CRAM-MD5", "PLAIN", "LOGIN")


def choose_mechanism(
    offered: Iterable[str], preference: Sequence[str] = DEFAULT_PREFERENCE
) -> str | None:
    """The first name in ``preference`` that the server ``offered`` (the words of its EHLO
    AUTH line; compared without regard to case, RFC 4422 §3.1), or None."""
    have = {name.upper() for name in offered}
    return next((name.upper() for name in preference if name.upper() in have), None)


def client_mechanism(
    name: str,
    *,
    username: str,
    password: str | None = None,
    token: str | Callable[[], str] | None = None,
    authzid: str = "",
    nonce: str | None = None,
    min_iterations: int = SCRAM_MIN_ITERATIONS,
) -> ClientMechanism:
    """A client mechanism by name. PLAIN, LOGIN, CRAM-MD5 and SCRAM-SHA-256 need
    ``password``; XOAUTH2 needs ``token``; SCRAM-SHA-256 also needs ``nonce``."""
    mech = name.upper()
    if mech not in CLIENT_MECHANISMS:
        raise SASLError(f"unsupported SASL mechanism {name!r}", AUTH_MECH_UNKNOWN)
    if mech == "XOAUTH2":
        if token is None:
            raise SASLError("XOAUTH2 needs token=")
        return XOAuth2(username, token)
    if password is None:
        raise SASLError(f"{mech} needs password=")
    if mech == "SCRAM-SHA-256":
        if nonce is None:
            raise SASLError("SCRAM-SHA-256 needs nonce= (e.g. secrets.token_urlsafe(18))")
        return ScramSHA256(
            username, password, nonce, authzid=authzid, min_iterations=min_iterations
        )
    if mech == "PLAIN":
        return Plain(username, password, authzid)
    if authzid:
        raise SASLError(f"{mech} cannot carry an authorization identity")
    return CramMD5(username, password) if mech == "CRAM-MD5" else Login(username, password)


def server_mechanism(
    name: str,
    store: CredentialStore,
    *,
    nonce: str | None = None,
    challenge: bytes | None = None,
    iterations: int = SCRAM_DEFAULT_ITERATIONS,
    salt_key: bytes | None = None,
    final_in_success: bool = False,
    xoauth2_error: bytes = XOAUTH2_DEFAULT_ERROR,
) -> ServerMechanism:
    """A server mechanism by name (an unknown one raises with AUTH_MECH_UNKNOWN, 504 5.5.4).

    CRAM-MD5 needs ``challenge``; SCRAM-SHA-256 needs ``nonce`` and takes the SCRAM options
    of :class:`ScramSHA256Server`; XOAUTH2 needs a store with ``verify_token``.
    """
    mech = name.upper()
    if mech not in SERVER_MECHANISMS:
        raise SASLError(f"unsupported SASL mechanism {name!r}", AUTH_MECH_UNKNOWN)
    if mech == "PLAIN":
        return PlainServer(store)
    if mech == "LOGIN":
        return LoginServer(store)
    if mech == "CRAM-MD5":
        if challenge is None:
            raise SASLError("CRAM-MD5 needs challenge=", LOCAL_ERROR)
        return CramMD5Server(store, challenge)
    if mech == "XOAUTH2":
        if not isinstance(store, TokenStore):
            raise SASLError("XOAUTH2 needs a store with verify_token()", LOCAL_ERROR)
        return XOAuth2Server(store, error=xoauth2_error)
    if nonce is None:
        raise SASLError("SCRAM-SHA-256 needs nonce= (e.g. secrets.token_urlsafe(18))", LOCAL_ERROR)
    return ScramSHA256Server(
        store,
        nonce,
        iterations=iterations,
        salt_key=salt_key,
        final_in_success=final_in_success,
    )


# The public names live here, whichever private module defines them (habit 6 of the style
# anchors: one public __module__ per name).
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("smtpcore._sasl"):
        _obj.__module__ = __name__
del _name, _obj
