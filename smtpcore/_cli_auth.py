"""The ``--auth-file`` format of ``python -m smtpcore serve``: users with hashed passwords.

One user per line, ``username:HASH``; blank lines and lines starting with ``#`` are ignored.
HASH is ``scrypt$N$r$p$SALT$KEY`` (SALT and KEY in unpadded base64), made by
``python -m smtpcore passwd USERNAME`` (RFC 7914 scrypt, N=2**14, r=8, p=1, 16-octet salt,
32-octet key). Only PLAIN and LOGIN can check such hashes, so the server offers those, and
only over TLS unless told otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from ._errors import SMTPCoreError

__all__ = ["FileCredentials", "hash_password", "AuthFileError"]

_N, _R, _P = 2**14, 8, 1


class AuthFileError(SMTPCoreError, ValueError):
    """The auth file cannot be read."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def _verify(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        want = _unb64(key)
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(want)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


# A hash of nothing anyone knows, checked for unknown users so they cost the same time.
_DUMMY = hash_password(secrets.token_urlsafe(16))


class FileCredentials:
    """A :class:`smtpcore.sasl.CredentialStore` over an auth file (PLAIN and LOGIN)."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = users

    @classmethod
    def load(cls, path: Path) -> FileCredentials:
        users: dict[str, str] = {}
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthFileError(f"cannot read {path}: {exc}") from None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, stored = line.partition(":")
            if not sep or not user or not stored.startswith("scrypt$"):
                raise AuthFileError(f"{path}:{number}: expected username:scrypt$...")
            users[user] = stored
        return cls(users)

    def password_for(self, username: str) -> str | None:
        return None  # hashes only: mechanisms that need the password are not offered

    def verify_password(self, username: str, password: str) -> bool:
        stored = self._users.get(username)
        ok = _verify(password, stored if stored is not None else _DUMMY)
        return ok and stored is not None
