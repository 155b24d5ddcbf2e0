"""Blocking sockets, with ssl for STARTTLS and implicit TLS."""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any

from .base import SyncStream, map_errors

__all__ = ["SocketStream", "connect_tcp", "wrap_socket"]


# How much longer than asked a kept socket timeout may be (in seconds): far below what a
# blocking call's wake-up jitter already adds.
_SLACK = 0.001


class SocketStream(SyncStream):
    """A connected socket (plain or TLS) as a :class:`SyncStream`."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        # ``settimeout`` is a system call (ioctl FIONBIO), and the client asks for a slightly
        # different read timeout each time (what is left of a deadline): keep the socket's
        # timeout while it is close enough (see ``read``) and set it only when it is not.
        self._timeout: float | None = sock.gettimeout()

    def _set_timeout(self, timeout: float | None) -> None:
        if timeout != self._timeout:
            self._sock.settimeout(timeout)
            self._timeout = timeout

    @property
    def socket(self) -> socket.socket:
        return self._sock

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        with map_errors("read"):
            current = self._timeout
            if not timeout or current is None or not timeout * 0.5 <= current <= timeout + _SLACK:
                self._set_timeout(timeout)
                return self._sock.recv(max_bytes)
            # The socket's timeout is at most ``_SLACK`` longer than asked, or shorter: then
            # a timeout of the recv is not yet the caller's, and the rest is waited for.
            start = time.monotonic()
            try:
                return self._sock.recv(max_bytes)
            except TimeoutError:
                left = timeout - (time.monotonic() - start)
                if left <= 0:
                    raise
            self._set_timeout(left)
            return self._sock.recv(max_bytes)

    def write(self, data: bytes, timeout: float | None) -> None:
        if not data:
            return
        with map_errors("write"):
            # sendall's timeout bounds the whole call: no shorter one will do here.
            current = self._timeout
            if not timeout or current is None or not timeout <= current <= timeout + _SLACK:
                self._set_timeout(timeout)
            self._sock.sendall(data)

    def start_tls(
        self,
        context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        server_side: bool = False,
        timeout: float | None = None,
    ) -> SocketStream:
        with map_errors("tls"):
            self._set_timeout(timeout)
            tls = context.wrap_socket(
                self._sock,
                server_side=server_side,
                server_hostname=None if server_side else server_hostname,
                do_handshake_on_connect=False,
            )
            try:
                tls.do_handshake()
            except BaseException:
                tls.close()  # the plain socket was detached into ``tls``: nothing else is open
                raise
        return SocketStream(tls)

    def close(self) -> None:
        try:
            if isinstance(self._sock, ssl.SSLSocket):
                self._set_timeout(0.5)
                try:
                    self._sock.unwrap()
                except (OSError, ValueError):
                    pass
        finally:
            self._sock.close()

    def get_extra_info(self, name: str) -> Any:
        if name == "peername":
            try:
                return self._sock.getpeername()
            except OSError:
                return None
        if name == "sockname":
            return self._sock.getsockname()
        if name == "ssl_object":
            return self._sock if isinstance(self._sock, ssl.SSLSocket) else None
        if name == "socket":
            return self._sock
        return None


def connect_tcp(
    host: str,
    port: int,
    *,
    timeout: float | None,
    source_address: tuple[str, int] | None = None,
) -> SocketStream:
    with map_errors("connect"):
        sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=source_address
        )
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return SocketStream(sock)


def wrap_socket(sock: socket.socket, *, timeout: float | None = None) -> SocketStream:
    """A stream over a socket the user connected (a UNIX socket, a SOCKS proxy, ...)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(timeout)
    return SocketStream(sock)
