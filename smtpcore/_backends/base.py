"""The stream interfaces the adapters are written against, in twin sync and async forms.

A stream moves bytes and nothing else: ``read`` returns ``b""`` at end of file, every call
takes a timeout (None waits without end, which the adapters never do), and ``start_tls``
returns a new stream over TLS. Errors are smtpcore's own: ``ReadTimeout``, ``ReadError``,
``WriteTimeout``, ``WriteError``, ``TLSError``, ``ConnectError``, ``ConnectTimeout``.
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._errors import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ReadError,
    ReadTimeout,
    SMTPTimeoutError,
    TLSError,
    WriteError,
    WriteTimeout,
)

__all__ = ["AsyncStream", "SyncStream", "map_errors", "tls_info"]


class SyncStream:
    """A blocking byte stream."""

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        raise NotImplementedError

    def write(self, data: bytes, timeout: float | None) -> None:
        raise NotImplementedError

    def start_tls(
        self,
        context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        server_side: bool = False,
        timeout: float | None = None,
    ) -> SyncStream:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def pause_reading(self) -> None:
        """Stop taking bytes in (before a TLS switch); blocking streams read only on demand."""

    def get_extra_info(self, name: str) -> Any:
        return None


class AsyncStream:
    """An asyncio byte stream (same methods as :class:`SyncStream`, awaited)."""

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        raise NotImplementedError

    async def write(self, data: bytes, timeout: float | None) -> None:
        raise NotImplementedError

    async def start_tls(
        self,
        context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        server_side: bool = False,
        timeout: float | None = None,
    ) -> AsyncStream:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    def pause_reading(self) -> None:
        """Stop taking bytes in, so nothing sent after this point is read as plaintext
        (called before the 220 to STARTTLS is written; the TLS layer resumes reading)."""

    def get_extra_info(self, name: str) -> Any:
        return None


@contextmanager
def map_errors(kind: str) -> Iterator[None]:
    """Turn foreign exceptions into smtpcore's at one choke point (as httpcore does).

    ``kind`` is "connect", "read", "write" or "tls".
    """
    try:
        yield
    except (NetworkError, SMTPTimeoutError):
        raise
    except TimeoutError as exc:
        cls = {"connect": ConnectTimeout, "read": ReadTimeout, "write": WriteTimeout}.get(
            kind, ReadTimeout
        )
        raise cls(f"{kind} timed out") from exc
    except ssl.SSLError as exc:
        raise TLSError(f"TLS failed: {exc}") from exc
    except OSError as exc:
        if kind == "tls":
            raise TLSError(f"TLS failed: {exc}") from exc
        cls2 = {"connect": ConnectError, "read": ReadError, "write": WriteError}.get(
            kind, ReadError
        )
        err = cls2(exc.errno or errno.EIO, f"{kind} failed: {exc.strerror or exc}")
        raise err from exc


def tls_info(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, Any] | None:
    """Version, cipher and peer certificate of a TLS connection, for logs and results."""
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return {
        "version": ssl_object.version(),
        "cipher": cipher[0] if cipher else None,
        "peer_cert": ssl_object.getpeercert(binary_form=True),
    }
