"""SCRAM-SHA-256 (RFC 5802 with RFC 7677), client and server, without channel binding.

The client sends the gs2 header ``n,,`` ("no channel binding"), or ``n,a=<authzid>,``; the
-PLUS variant is not offered. Nonces are injected by the caller. Every secret comparison uses
:func:`hmac.compare_digest`. Public names are re-exported by :mod:`smtpcore.sasl`.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from typing import Final

from ._errors import SASLError
from ._sasl_base import (
    AUTH_MALFORMED,
    Challenge,
    ClientMechanism,
    CredentialStore,
    ScramCredentials,
    ScramCredentialStore,
    ServerMechanism,
    StepResult,
    Success,
    _fail,
    check_authorization,
    from_utf8,
    saslprep,
    utf8,
)
from ._status import LOCAL_ERROR

__all__ = [
    "SCRAM_DEFAULT_ITERATIONS",
    "SCRAM_MAX_ITERATIONS",
    "SCRAM_MIN_ITERATIONS",
    "ScramSHA256",
    "ScramSHA256Server",
    "escape_saslname",
    "scram_credentials_from_password",
    "unescape_saslname",
]

# RFC 7677 §4: "the hash iteration-count announced by a server SHOULD be at least 4096".
SCRAM_MIN_ITERATIONS: Final = 4096
SCRAM_DEFAULT_ITERATIONS: Final = 4096
# RFC 5802 §9: "A hostile server can perform a computational denial-of-service attack on
# clients by sending a big iteration count value."  The client refuses counts above this.
SCRAM_MAX_ITERATIONS: Final = 10_000_000

_HASH: Final = "sha256"
_KEY_LEN: Final = 32

# RFC 5802 §7:
#   printable = %x21-2B / %x2D-7E   ;; Printable ASCII except ","
#   nonce = "r=" c-nonce [s-nonce]  ;; c-nonce and s-nonce are 1*printable (Erratum 2651)
_PRINTABLE_RE: Final = re.compile(rb"[\x21-\x2b\x2d-\x7e]+")
#   posit-number = %x31-39 *DIGIT
_POSIT_NUMBER_RE: Final = re.compile(rb"[1-9][0-9]*")
#   saslname = 1*(value-safe-char / "=2C" / "=3D")
#   value-safe-char = %x01-2B / %x2D-3C / %x3E-7F / UTF8-2 / UTF8-3 / UTF8-4
_SASLNAME_RE: Final = re.compile(rb"(?:[\x01-\x2b\x2d-\x3c\x3e-\xff]|=2C|=3D)+")
#   base64 (RFC 4648 §4), whole groups only
_BASE64_RE: Final = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def escape_saslname(name: str) -> bytes:
    """RFC 5802 §5.1: "The characters ',' or '=' in usernames are sent as '=2C' and '=3D'
    respectively." The result is UTF-8."""
    return utf8(name, "SCRAM name").replace(b"=", b"=3D").replace(b",", b"=2C")


def unescape_saslname(value: bytes) -> str:
    """The inverse of :func:`escape_saslname`. RFC 5802 §5.1: "If the server receives a
    username that contains '=' not followed by either '2C' or '3D', then the server MUST fail
    the authentication." Raises :class:`SASLError`."""
    if _SASLNAME_RE.fullmatch(value) is None:
        raise SASLError("SCRAM: invalid-encoding of a name", AUTH_MALFORMED)
    return from_utf8(value.replace(b"=2C", b",").replace(b"=3D", b"="), "SCRAM name")


def _b64(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False)


def _unb64(text: bytes, what: str) -> bytes:
    if _BASE64_RE.fullmatch(text) is None:
        raise SASLError(f"SCRAM: {what} is not valid base64", AUTH_MALFORMED)
    return binascii.a2b_base64(text)


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, _HASH).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _check_nonce(nonce: str) -> bytes:
    raw = nonce.encode("ascii", "replace")
    if _PRINTABLE_RE.fullmatch(raw) is None or not nonce.isascii():
        raise SASLError("SCRAM nonce must be printable ASCII without ','", LOCAL_ERROR)
    return raw


def _prepare_password(password: str) -> bytes:
    # RFC 5802 §2.2 Normalize(str): SASLprep, treating str as a "stored string".
    prepared = saslprep(password, allow_unassigned=False)
    if not prepared:
        raise SASLError("SCRAM: the password is empty after SASLprep")
    return prepared.encode("utf-8")


def _salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    # RFC 5802 §3: SaltedPassword := Hi(Normalize(password), salt, i), and Hi is PBKDF2 with
    # HMAC as the PRF and dkLen the hash output length.
    return hashlib.pbkdf2_hmac(_HASH, _prepare_password(password), salt, iterations)


def scram_credentials_from_password(
    password: str, salt: bytes, iterations: int = SCRAM_DEFAULT_ITERATIONS
) -> ScramCredentials:
    """What a server stores for a user instead of the password (RFC 5802 §3):
    StoredKey := H(HMAC(SaltedPassword, "Client Key")), ServerKey := HMAC(SaltedPassword,
    "Server Key"). ``salt`` should be random and per user (the caller draws it)."""
    if not salt:
        raise SASLError("SCRAM salt must not be empty")
    if iterations < 1:
        raise SASLError("SCRAM iteration count must be positive")
    salted = _salted_password(password, salt, iterations)
    return ScramCredentials(
        salt=salt,
        iterations=iterations,
        stored_key=hashlib.sha256(_hmac(salted, b"Client Key")).digest(),
        server_key=_hmac(salted, b"Server Key"),
    )


def _attributes(message: bytes, what: str) -> list[tuple[bytes, bytes]]:
    """Split ``a=value,b=value`` (RFC 5802 §5) into (name, value) pairs."""
    pairs = []
    for part in message.split(b","):
        if len(part) < 2 or part[1:2] != b"=" or not part[:1].isalpha():
            raise SASLError(f"SCRAM: malformed {what}", AUTH_MALFORMED)
        pairs.append((part[:1], part[2:]))
    return pairs


def _expect(pairs: list[tuple[bytes, bytes]], index: int, name: bytes, what: str) -> bytes:
    if len(pairs) <= index or pairs[index][0] != name:
        raise SASLError(f"SCRAM: {what} lacks {name.decode()}= in place", AUTH_MALFORMED)
    return pairs[index][1]


class ScramSHA256(ClientMechanism):
    """SCRAM-SHA-256 client (RFC 5802, RFC 7677), channel binding ``n`` only.

    ``nonce`` is the client nonce, injected by the caller (e.g. ``secrets.token_urlsafe(18)``;
    printable ASCII without ","). The server's iteration count must lie within
    ``min_iterations`` .. ``max_iterations``. The server proves it knows the password with
    its server-final message, which SMTP servers send as a last 334 challenge (answered with
    an empty response); ``verify_success`` then raises if that proof never came.
    """

    name = "SCRAM-SHA-256"

    def __init__(
        self,
        username: str,
        password: str,
        nonce: str,
        *,
        authzid: str = "",
        min_iterations: int = SCRAM_MIN_ITERATIONS,
        max_iterations: int = SCRAM_MAX_ITERATIONS,
    ) -> None:
        self._nonce = _check_nonce(nonce)
        # RFC 5802 §5.1: the client SHOULD prepare the username with SASLprep as a query
        # string, and abort if that fails or gives the empty string.
        user = saslprep(username, allow_unassigned=True)
        if not user:
            raise SASLError("SCRAM needs a non-empty username")
        self._password = password
        _prepare_password(password)  # fail now, not in the middle of the exchange
        self._min_iterations = min_iterations
        self._max_iterations = max_iterations
        # RFC 5802 §7: gs2-header = gs2-cbind-flag "," [ authzid ] ","; "n" = no binding.
        authz = (
            b"a=" + escape_saslname(saslprep(authzid, allow_unassigned=True)) if authzid else b""
        )
        self._gs2_header = b"n," + authz + b","
        self._client_first_bare = b"n=" + escape_saslname(user) + b",r=" + self._nonce
        self._state = 0  # 0 nothing sent, 1 client-first sent, 2 client-final sent, 3 verified
        self._resent = False
        self._server_signature = b""

    @property
    def done(self) -> bool:
        return self._state == 3

    def initial_response(self) -> bytes:
        self._state = max(self._state, 1)
        return self._gs2_header + self._client_first_bare

    def respond(self, challenge: bytes) -> bytes:
        if self._state <= 1 and not challenge and not self._resent:
            self._resent = True  # "334 " asks for the client-first message (RFC 4422 §5 (2a))
            return self.initial_response()
        if self._state == 1 and challenge:
            return self._client_final(challenge)
        if self._state == 2 and challenge:
            self._verify_server_final(challenge)
            return b""
        raise SASLError(f"SCRAM: unexpected server challenge {challenge[:40]!r}")

    def verify_success(self, data: bytes | None = None) -> None:
        if data and self._state == 2:
            self._verify_server_final(data)
        elif data:
            raise SASLError("SCRAM: unexpected data with the success outcome")
        if self._state != 3:
            # RFC 5802 §5: the client authenticates the server by checking ServerSignature.
            raise SASLError("SCRAM: the server never proved that it knows the password")

    def _client_final(self, server_first: bytes) -> bytes:
        # RFC 5802 §7: server-first-message = [reserved-mext ","] nonce "," salt ","
        #                                      iteration-count ["," extensions]
        pairs = _attributes(server_first, "server-first message")
        if pairs and pairs[0][0] == b"m":
            # RFC 5802 §5.1 "m": the client MUST fail on a mandatory extension it lacks.
            raise SASLError("SCRAM: the server requires an unsupported extension")
        nonce = _expect(pairs, 0, b"r", "server-first message")
        # RFC 5802 §5.1: "the client MUST verify that the initial part of the nonce used in
        # subsequent messages is the same as the nonce it initially specified."
        if (
            not nonce.startswith(self._nonce)
            or len(nonce) == len(self._nonce)
            or _PRINTABLE_RE.fullmatch(nonce) is None
        ):
            raise SASLError("SCRAM: the server nonce does not extend the client nonce")
        salt = _unb64(_expect(pairs, 1, b"s", "server-first message"), "salt")
        count = _expect(pairs, 2, b"i", "server-first message")
        if not salt or _POSIT_NUMBER_RE.fullmatch(count) is None or len(count) > 10:
            raise SASLError("SCRAM: bad salt or iteration count", AUTH_MALFORMED)
        iterations = int(count)
        if iterations < self._min_iterations:
            raise SASLError(
                f"SCRAM: iteration count {iterations} below the minimum {self._min_iterations}"
            )
        if iterations > self._max_iterations:
            raise SASLError(
                f"SCRAM: iteration count {iterations} above the maximum {self._max_iterations}"
            )
        salted = _salted_password(self._password, salt, iterations)
        # RFC 5802 §7: channel-binding = "c=" base64 of the gs2-header when "n" was sent.
        without_proof = b"c=" + _b64(self._gs2_header) + b",r=" + nonce
        # RFC 5802 §3:
        #   AuthMessage     := client-first-message-bare + "," + server-first-message + ","
        #                      + client-final-message-without-proof
        #   ClientKey       := HMAC(SaltedPassword, "Client Key")
        #   StoredKey       := H(ClientKey)
        #   ClientSignature := HMAC(StoredKey, AuthMessage)
        #   ClientProof     := ClientKey XOR ClientSignature
        #   ServerKey       := HMAC(SaltedPassword, "Server Key")
        #   ServerSignature := HMAC(ServerKey, AuthMessage)
        auth_message = self._client_first_bare + b"," + server_first + b"," + without_proof
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        proof = _xor(client_key, _hmac(stored_key, auth_message))
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        self._state = 2
        return without_proof + b",p=" + _b64(proof)

    def _verify_server_final(self, server_final: bytes) -> None:
        # RFC 5802 §7: server-final-message = (server-error / verifier) ["," extensions]
        pairs = _attributes(server_final, "server-final message")
        if pairs[0][0] == b"e":
            raise SASLError(f"SCRAM: the server reports {pairs[0][1].decode('ascii', 'replace')}")
        verifier = _unb64(_expect(pairs, 0, b"v", "server-final message"), "verifier")
        if not hmac.compare_digest(verifier, self._server_signature):
            raise SASLError("SCRAM: the server signature does not match")
        self._state = 3


class ScramSHA256Server(ServerMechanism):
    """SCRAM-SHA-256 server (RFC 5802, RFC 7677), channel binding ``n``/``y`` only.

    ``nonce`` is the server's part of the nonce, injected. Credentials come from
    ``store.scram_credentials(username)`` when the store has it (a
    :class:`ScramCredentialStore`), otherwise from ``store.password_for(username)`` with
    ``iterations``. ``salt_key`` (a secret) makes per-user salts ``HMAC(salt_key, username)``
    for password-derived credentials, and lets an unknown user run the whole exchange and fail
    at the proof, so the server does not reveal which users exist; without it the salt is
    derived from the session's nonce and an unknown user fails at once (with the same reply).

    The username goes to the store as the client sent it (unescaped); RFC 5802 §5.1 has the
    client SASLprep it first, so a store keyed by SASLprep'd names matches.

    The server-final message is sent as a last :class:`Challenge`, which the client answers
    with an empty response, then :class:`Success` (RFC 4954 §4: SMTP has no additional data
    with success). ``final_in_success=True`` puts it in ``Success.final_data`` instead, for
    protocols whose SASL profile allows that.
    """

    name = "SCRAM-SHA-256"

    def __init__(
        self,
        store: CredentialStore,
        nonce: str,
        *,
        iterations: int = SCRAM_DEFAULT_ITERATIONS,
        salt_key: bytes | None = None,
        final_in_success: bool = False,
    ) -> None:
        super().__init__()
        if iterations < 1:
            raise SASLError("SCRAM iteration count must be positive", LOCAL_ERROR)
        self._store = store
        self._snonce = _check_nonce(nonce)
        self._iterations = iterations
        self._salt_key = salt_key
        self._final_in_success = final_in_success
        self._state = 0  # 0 want client-first, 1 want client-final, 2 want the empty response
        self._gs2_header = b""
        self._authcid = ""
        self._authzid = ""
        self._known = False
        self._creds: ScramCredentials | None = None
        self._nonce = b""
        self._first_bare = b""
        self._server_first = b""

    def _step(self, response: bytes | None) -> StepResult:
        if response is None:
            return Challenge(data=b"")  # client-first: ask for the message (RFC 4422 §5 (2a))
        try:
            if self._state == 0:
                return self._on_client_first(response)
            if self._state == 1:
                return self._on_client_final(response)
        except SASLError as err:
            return _fail(str(err), err.reply_hint)
        if response:
            return _fail("SCRAM: non-empty response to the server-final message", AUTH_MALFORMED)
        return Success(authcid=self._authcid, authzid=self._authzid)

    def _credentials(self, username: str) -> ScramCredentials | None:
        if isinstance(self._store, ScramCredentialStore):
            return self._store.scram_credentials(username)
        password = self._store.password_for(username)
        if password is None:
            return None
        if self._salt_key is not None:
            salt = _hmac(self._salt_key, b"salt\x00" + utf8(username, "username"))[:16]
        else:
            salt = hashlib.sha256(b"smtpcore scram salt\x00" + self._snonce).digest()[:16]
        return scram_credentials_from_password(password, salt, self._iterations)

    def _on_client_first(self, message: bytes) -> StepResult:
        # RFC 5802 §7: client-first-message = gs2-header client-first-message-bare
        #   gs2-header = gs2-cbind-flag "," [ authzid ] ","
        #   gs2-cbind-flag = ("p=" cb-name) / "n" / "y"
        flag, sep1, rest = message.partition(b",")
        authz, sep2, bare = rest.partition(b",")
        if not (sep1 and sep2):
            return _fail("SCRAM: malformed client-first message", AUTH_MALFORMED)
        if flag.startswith(b"p="):
            return _fail("SCRAM: channel-binding-not-supported")
        if flag not in (b"n", b"y"):
            return _fail("SCRAM: malformed gs2 header", AUTH_MALFORMED)
        if authz:
            if not authz.startswith(b"a="):
                return _fail("SCRAM: malformed gs2 header", AUTH_MALFORMED)
            self._authzid = unescape_saslname(authz[2:])
        self._gs2_header = message[: len(message) - len(bare)]
        # client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
        pairs = _attributes(bare, "client-first message")
        if pairs and pairs[0][0] == b"m":
            return _fail("SCRAM: extensions-not-supported")
        self._authcid = unescape_saslname(_expect(pairs, 0, b"n", "client-first message"))
        cnonce = _expect(pairs, 1, b"r", "client-first message")
        if _PRINTABLE_RE.fullmatch(cnonce) is None:
            return _fail("SCRAM: malformed client nonce", AUTH_MALFORMED)
        creds = self._credentials(self._authcid)
        self._known = creds is not None
        if creds is None:
            if self._salt_key is None:
                return _fail(f"SCRAM: unknown-user {self._authcid!r}")
            # A mock exchange that cannot succeed (RFC 5802 §9 asks servers not to reveal
            # whether a user exists): stable per-user salt, keys nobody knows.
            name = utf8(self._authcid, "username")
            creds = ScramCredentials(
                salt=_hmac(self._salt_key, b"salt\x00" + name)[:16],
                iterations=self._iterations,
                stored_key=_hmac(self._salt_key, b"stored key\x00" + name),
                server_key=_hmac(self._salt_key, b"server key\x00" + name),
            )
        self._creds = creds
        self._first_bare = bare
        self._nonce = cnonce + self._snonce
        self._server_first = (
            b"r=" + self._nonce + b",s=" + _b64(creds.salt) + b",i=%d" % creds.iterations
        )
        self._state = 1
        return Challenge(data=self._server_first)

    def _on_client_final(self, message: bytes) -> StepResult:
        # RFC 5802 §7: client-final-message = client-final-message-without-proof "," proof
        #   client-final-message-without-proof = channel-binding "," nonce ["," extensions]
        without_proof, sep, proof_attr = message.rpartition(b",")
        if not sep or not proof_attr.startswith(b"p="):
            return _fail("SCRAM: the client-final message has no proof", AUTH_MALFORMED)
        pairs = _attributes(without_proof, "client-final message")
        binding = _unb64(_expect(pairs, 0, b"c", "client-final message"), "channel binding")
        if not hmac.compare_digest(binding, self._gs2_header):
            return _fail("SCRAM: channel-bindings-dont-match")
        if not hmac.compare_digest(_expect(pairs, 1, b"r", "client-final message"), self._nonce):
            return _fail("SCRAM: the nonce does not match", AUTH_MALFORMED)
        proof = _unb64(proof_attr[2:], "proof")
        creds = self._creds
        assert creds is not None
        auth_message = self._first_bare + b"," + self._server_first + b"," + without_proof
        # RFC 5802 §3: the server recovers ClientKey = ClientProof XOR ClientSignature and
        # checks H(ClientKey) against StoredKey.
        signature = _hmac(creds.stored_key, auth_message)
        client_key = _xor(proof, signature) if len(proof) == _KEY_LEN else b""
        ok = hmac.compare_digest(hashlib.sha256(client_key).digest(), creds.stored_key)
        if not (ok and self._known):
            return _fail(f"SCRAM: invalid-proof for {self._authcid!r}")
        if not check_authorization(self._store, self._authcid, self._authzid):
            return _fail(f"SCRAM: {self._authcid!r} may not act as {self._authzid!r}")
        server_final = b"v=" + _b64(_hmac(creds.server_key, auth_message))
        self._state = 2
        if self._final_in_success:
            return Success(authcid=self._authcid, authzid=self._authzid, final_data=server_final)
        return Challenge(data=server_final)
