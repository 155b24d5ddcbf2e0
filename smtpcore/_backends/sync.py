"""Blocking sockets, with ssl for STARTTLS and implicit TLS."""

from __future__ import annotations

import math
import socket
import ssl
import struct
import sys
import time
from typing import Any, NoReturn

from .base import SyncStream, map_errors

__all__ = ["SocketStream", "connect_tcp", "wrap_socket"]


def _reraise(kind: str, exc: OSError) -> NoReturn:
    """Raise ``exc`` as smtpcore's error (map_errors, entered only on the error path)."""
    with map_errors(kind):
        raise exc
    raise AssertionError("unreachable")  # pragma: no cover - map_errors always raises


# How much longer than asked a kept timeout may be (in seconds): far below what a blocking
# call's wake-up jitter already adds.
_SLACK = 0.001

# What a blocking call raises when its kernel timeout (SO_RCVTIMEO / SO_SNDTIMEO) expires
# (EAGAIN), and what a call raises when a Python socket timeout does.
_EXPIRED = (BlockingIOError, TimeoutError)


def _timeval(timeout: float | None) -> bytes:
    """The kernel's form of a timeout (struct timeval); zero means none."""
    if timeout is None:
        return struct.pack("@ll", 0, 0)
    usec = max(1, math.ceil(timeout * 1_000_000))  # never 0: that would mean no timeout
    return struct.pack("@ll", usec // 1_000_000, usec % 1_000_000)


class SocketStream(SyncStream):
    """A connected socket (plain or TLS) as a :class:`SyncStream`.

    A plain socket is in blocking mode and its timeouts are the kernel's (SO_RCVTIMEO and
    SO_SNDTIMEO), not Python's: with a Python timeout every recv and send is preceded by a
    poll(), and every change of timeout is an ioctl. A send's timeout then bounds each send
    call, as RFC 5321 §4.5.3.2 words it ("awaiting the completion of each TCP SEND call").

    A TLS socket keeps Python's timeout: CPython's ssl module retries a blocking read that
    the kernel timed out, for ever. So does every socket on Windows, whose kernel timeouts
    leave a socket in an undefined state, and any socket subclass (gevent, PySocks), which
    may wait on its own terms.

    Either way a kept timeout is reused while it is not longer than asked and not much
    shorter; when it is shorter and expires, the call is retried for the rest.
    """

    def __init__(
        self, sock: socket.socket, kept: tuple[float | None, float | None] | None = None
    ) -> None:
        self._sock = sock
        # Only the stdlib's own socket type: a subclass may wait in its own way (gevent's
        # cooperative socket waits in its hub, where SO_RCVTIMEO never fires; PySocks).
        self._kernel = sys.platform != "win32" and type(sock) is socket.socket
        if not self._kernel:
            kept = (sock.gettimeout(), sock.gettimeout())
        elif kept is None or sock.gettimeout() is not None:
            sock.settimeout(None)
            kept = (None, None)
        self._kept = {socket.SO_RCVTIMEO: kept[0], socket.SO_SNDTIMEO: kept[1]}

    def _arm(self, option: int, timeout: float | None) -> None:
        if self._kernel:
            self._sock.setsockopt(socket.SOL_SOCKET, option, _timeval(timeout))
            self._kept[option] = timeout
        else:
            self._sock.settimeout(timeout)
            self._kept[socket.SO_RCVTIMEO] = self._kept[socket.SO_SNDTIMEO] = timeout

    def _call(self, call: Any, arg: Any, option: int, timeout: float | None) -> Any:
        """``call(arg)``, given up with TimeoutError after about ``timeout`` seconds."""
        if timeout is not None and timeout <= 0:
            raise TimeoutError
        kept = self._kept[option]
        if timeout is None or kept is None:
            exact = kept == timeout
            usable = exact
        else:
            exact = timeout <= kept <= timeout + _SLACK
            # A shorter one is usable: when it expires the call is retried for the rest, which
            # costs a system call only when the peer is slow; the client's reads alternate
            # between the command (300 s) and end-of-data (600 s) timeouts of §4.5.3.2.
            usable = timeout * 0.1 <= kept <= timeout + _SLACK
        if not usable:
            self._arm(option, timeout)
            exact = True
        start = 0.0 if exact else time.monotonic()
        for _ in range(2):  # a kept timeout that was too short is extended once
            try:
                return call(arg)
            except _EXPIRED:
                if exact or timeout is None:
                    raise TimeoutError from None
                # The kept timeout was shorter than asked: wait for what is left of it.
                left = timeout - (time.monotonic() - start)
                if left <= 0:
                    raise TimeoutError from None
                self._arm(option, left)
                exact = True
        raise TimeoutError  # pragma: no cover - bounded loop

    @property
    def socket(self) -> socket.socket:
        return self._sock

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        try:
            return self._call(self._sock.recv, max_bytes, socket.SO_RCVTIMEO, timeout)  # type: ignore[no-any-return]
        except OSError as exc:  # TimeoutError and ssl.SSLError too
            _reraise("read", exc)

    def write(self, data: bytes, timeout: float | None) -> None:
        if not data:
            return
        view = memoryview(data)
        total = len(view)
        sent = 0
        try:
            for _ in range(total):  # every call sends at least one octet
                sent += self._call(self._sock.send, view[sent:], socket.SO_SNDTIMEO, timeout)
                if sent >= total:
                    return
        except OSError as exc:
            _reraise("write", exc)

    def start_tls(
        self,
        context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        server_side: bool = False,
        timeout: float | None = None,
    ) -> SocketStream:
        with map_errors("tls"):
            # A peer that reset the connection since its last reply: say so before wrapping.
            # For a socket in that state CPython's wrap_socket (before 3.11.8 and 3.12.2,
            # gh-113280) fails in its connectedness probe and leaks the SSLSocket that took
            # the descriptor over; this socket keeps it, and close() closes it.
            self._sock.getpeername()
            self._sock.settimeout(timeout)  # a TLS socket keeps Python's timeout (see above)
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
                try:
                    self._arm(socket.SO_RCVTIMEO, 0.5)  # a TLS socket: Python's, both ways
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
    """A stream over a socket the user connected (a UNIX socket, a SOCKS proxy, ...).

    ``timeout`` is there for the asyncio twin's sake: the socket is connected already, and
    every read and write brings its own timeout."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return SocketStream(sock)
