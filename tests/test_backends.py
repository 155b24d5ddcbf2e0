"""The I/O backends on their own: timeouts and buffers over real loopback sockets.

The blocking backend keeps plain sockets in blocking mode with the kernel's timeouts
(SO_RCVTIMEO / SO_SNDTIMEO) and reuses a timeout that is close to the one asked; these tests
pin what that must never change: a read or write gives up after the time asked (not the
kept one), data that arrives in time is never lost to an early expiry, and a TLS socket still
times out. The asyncio backend shares one receive buffer per thread between connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest

from smtpcore._backends.aio import _TICK, AsyncIOStream, StreamProtocol, _deadlines, connect_tcp
from smtpcore._backends.sync import SocketStream
from smtpcore._errors import ReadTimeout, WriteTimeout
from tests.servers import tls_contexts


@contextmanager
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair of TCP sockets on 127.0.0.1 (ours, the peer's)."""
    listener = socket.create_server(("127.0.0.1", 0))
    ours = socket.create_connection(listener.getsockname(), timeout=5)
    peer, _ = listener.accept()
    listener.close()
    try:
        yield ours, peer
    finally:
        ours.close()
        peer.close()


def test_read_gives_up_after_the_time_asked() -> None:
    with tcp_pair() as (ours, _peer):
        stream = SocketStream(ours)
        assert ours.gettimeout() is None  # blocking: the kernel keeps the timeout
        start = time.monotonic()
        with pytest.raises(ReadTimeout):
            stream.read(100, 0.2)
        assert 0.15 <= time.monotonic() - start < 2.0


def test_a_kept_shorter_timeout_is_extended_to_the_time_asked() -> None:
    with tcp_pair() as (ours, _peer):
        stream = SocketStream(ours)
        with pytest.raises(ReadTimeout):
            stream.read(100, 0.3)  # the kernel's timeout is now 0.3 s
        start = time.monotonic()
        with pytest.raises(ReadTimeout):
            stream.read(100, 0.55)  # 0.3 is kept (not much shorter), then extended
        assert 0.5 <= time.monotonic() - start < 2.5


def test_data_arriving_after_the_kept_timeout_but_in_time_is_read() -> None:
    with tcp_pair() as (ours, peer):
        stream = SocketStream(ours)
        with pytest.raises(ReadTimeout):
            stream.read(100, 0.2)
        timer = threading.Timer(0.3, peer.sendall, args=(b"250 OK\r\n",))
        timer.start()
        try:
            assert stream.read(100, 1.0) == b"250 OK\r\n"
        finally:
            timer.cancel()


def test_no_timeout_waits_and_zero_fails_at_once() -> None:
    with tcp_pair() as (ours, peer):
        stream = SocketStream(ours)
        with pytest.raises(ReadTimeout):
            stream.read(100, 0.1)
        timer = threading.Timer(0.2, peer.sendall, args=(b"x",))
        timer.start()
        try:
            assert stream.read(100, None) == b"x"  # the kept 0.1 s no longer applies
        finally:
            timer.cancel()
        start = time.monotonic()
        with pytest.raises(ReadTimeout):
            stream.read(100, 0)
        assert time.monotonic() - start < 0.1


def test_write_to_a_peer_that_never_reads_times_out() -> None:
    with tcp_pair() as (ours, _peer):
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        stream = SocketStream(ours)
        start = time.monotonic()
        with pytest.raises(WriteTimeout):
            stream.write(b"x" * (64 * 1024 * 1024), 0.3)
        assert 0.25 <= time.monotonic() - start < 5.0


def test_write_sends_everything_through_a_slow_reader() -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB
    with tcp_pair() as (ours, peer):
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        got = bytearray()

        def drain() -> None:
            peer.settimeout(5)
            for _ in range(100_000):
                time.sleep(0.0005)
                chunk = peer.recv(65536)
                if not chunk:
                    return
                got.extend(chunk)
                if len(got) >= len(payload):
                    return

        reader = threading.Thread(target=drain)
        reader.start()
        SocketStream(ours).write(payload, 5.0)
        reader.join(10)
        assert bytes(got) == payload


def test_tls_socket_keeps_pythons_timeout_and_times_out() -> None:
    server_ctx, client_ctx = tls_contexts()
    with tcp_pair() as (ours, peer):

        def serve() -> None:
            with server_ctx.wrap_socket(peer, server_side=True) as tls_peer:
                tls_peer.settimeout(5)
                tls_peer.recv(1)  # waits for our close

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            stream = SocketStream(ours).start_tls(
                client_ctx, server_hostname="localhost", timeout=5.0
            )
            assert isinstance(stream.socket, ssl.SSLSocket)
            start = time.monotonic()
            with pytest.raises(ReadTimeout):
                stream.read(100, 0.2)
            assert 0.15 <= time.monotonic() - start < 2.0
            stream.close()
        finally:
            thread.join(10)


def test_aio_connections_share_one_receive_buffer_without_mixing_data() -> None:
    asyncio.run(_share_buffer())


async def _share_buffer() -> None:
    received: dict[int, bytearray] = {}
    peers: list[asyncio.StreamWriter] = []

    async def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        peers.append(w)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        streams: list[AsyncIOStream] = [
            await connect_tcp("127.0.0.1", port, timeout=5) for _ in range(4)
        ]
        for _ in range(100):
            if len(peers) == 4:
                break
            await asyncio.sleep(0.01)
        assert len(peers) == 4
        assert len({id(s.protocol.get_buffer(-1).obj) for s in streams}) == 1
        for i, w in enumerate(peers):
            w.write(bytes([65 + i]) * 300_000)  # more than one 256 KiB read each
        for _ in range(2000):
            for i, s in enumerate(streams):
                if s.protocol.buffered:
                    received.setdefault(i, bytearray()).extend(await s.read(1 << 20, 5))
            if all(len(received.get(i, b"")) == 300_000 for i in range(4)):
                break
            await asyncio.sleep(0.001)
        # Which peer each stream belongs to is the accept order; each got one letter only.
        assert sorted(set(bytes(b)) for b in received.values()) == [
            {65},
            {66},
            {67},
            {68},
        ]
        for s in streams:
            await s.aclose()
    finally:
        for w in peers:
            w.close()
        server.close()
        await server.wait_closed()


def test_aio_connections_have_nagle_off() -> None:
    # asyncio's socket transport sets TCP_NODELAY (we rely on it: a pipelined group or a
    # reply must not wait for the peer's delayed ACK).
    async def go() -> None:
        accepted: list[asyncio.StreamWriter] = []

        async def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            accepted.append(w)

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        try:
            stream = await connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1], timeout=5)
            sock = stream.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            await stream.aclose()
        finally:
            for w in accepted:
                w.close()
            server.close()
            await server.wait_closed()

    asyncio.run(go())


def test_a_socket_subclass_keeps_pythons_timeout() -> None:
    # gevent's cooperative sockets (and PySocks') are socket subclasses that wait in their
    # own way: kernel timeouts would never fire there, so they keep Python's timeout.
    class Wrapped(socket.socket):
        pass

    with tcp_pair() as (ours, _peer):
        sub = Wrapped(fileno=ours.detach())
        try:
            stream = SocketStream(sub)
            start = time.monotonic()
            with pytest.raises(ReadTimeout):
                stream.read(100, 0.2)
            assert 0.15 <= time.monotonic() - start < 2.0
            assert sub.gettimeout() is not None  # Python's timeout is in force
        finally:
            sub.close()


def test_starttls_on_a_connection_the_peer_reset_is_a_typed_error_and_leaks_nothing() -> None:
    # A peer that resets the connection between its 220 to STARTTLS and the handshake. On
    # CPython before 3.11.8/3.12.2 (gh-113280), ssl's wrap_socket leaks the SSLSocket that
    # owns the descriptor when its "are we connected" probe read fails: the stream checks
    # first, so the caller gets a typed error and the descriptor stays with its own socket.
    import gc
    import warnings

    from smtpcore._errors import TLSError

    _, client_ctx = tls_contexts()
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        client = socket.create_connection(listener.getsockname()[:2], timeout=5)
        peer, _ = listener.accept()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        peer.close()  # SO_LINGER 0: a reset, not a FIN
        time.sleep(0.2)  # the reset arrives
        stream = SocketStream(client)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            with pytest.raises(TLSError):
                stream.start_tls(client_ctx, server_hostname="localhost", timeout=5)
            stream.close()
            gc.collect()  # an SSLSocket leaked by the failure would warn here
    assert client.fileno() == -1  # closed by the stream, not left to the garbage collector


# --- the asyncio read deadlines: one timer per event loop (smtpcore._backends.aio) -------


@contextlib.asynccontextmanager
async def aio_pairs(count: int) -> AsyncIterator[tuple[list[AsyncIOStream], list[socket.socket]]]:
    """``count`` asyncio streams connected to blocking peer sockets on 127.0.0.1."""
    listener = socket.create_server(("127.0.0.1", 0))
    streams: list[AsyncIOStream] = []
    peers: list[socket.socket] = []
    try:
        for _ in range(count):
            streams.append(await connect_tcp("127.0.0.1", listener.getsockname()[1], timeout=5))
            peers.append(listener.accept()[0])
        yield streams, peers
    finally:
        for s in streams:
            await s.aclose()
        for p in peers:
            p.close()
        listener.close()


def slotted(loop: asyncio.AbstractEventLoop) -> int:
    """How many connections the loop's deadline keeper holds in its slots."""
    return sum(len(slot) for slot in _deadlines.of(loop)._slots.values())


def test_aio_read_times_out_never_early_and_at_most_a_tick_late() -> None:
    async def go() -> list[float]:
        took = []
        async with aio_pairs(1) as ([stream], _peers):
            for timeout in (0.2, 0.05, 0.3):
                start = time.monotonic()
                with pytest.raises(ReadTimeout):
                    await stream.read(100, timeout)
                took.append(time.monotonic() - start - timeout)
        return took

    for late in asyncio.run(go()):
        assert 0 <= late < _TICK + 0.5  # the slack is for a loaded machine, not the keeper


def test_aio_a_short_deadline_is_not_held_up_by_a_longer_one() -> None:
    # The longer deadline's slot comes first into the keeper; the shorter one's slot must
    # still fire in time (an earlier slot re-sets the one timer).
    async def go() -> float:
        async with aio_pairs(2) as (streams, _peers):
            slow = asyncio.ensure_future(streams[0].read(100, 30))
            await asyncio.sleep(0.05)
            start = time.monotonic()
            with pytest.raises(ReadTimeout):
                await streams[1].read(100, 0.2)
            took = time.monotonic() - start
            assert not slow.done()
            slow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await slow
        return took

    assert 0.2 <= asyncio.run(go()) < 0.2 + _TICK + 0.5


def test_aio_data_in_time_is_read_and_a_moved_deadline_holds() -> None:
    # Each read sets a new deadline in the slot of the old one (a read moves the deadline,
    # not the slot): data that comes before it is read, never cut off by the old slot.
    async def go() -> list[bytes]:
        got = []
        loop = asyncio.get_running_loop()
        async with aio_pairs(1) as ([stream], [peer]):
            for i in range(4):
                loop.call_later(0.15, peer.sendall, b"%d" % i)
                got.append(await stream.read(100, 0.4))
        return got

    assert asyncio.run(go()) == [b"0", b"1", b"2", b"3"]


def test_aio_closed_connections_leave_no_deadline_behind() -> None:
    async def go() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        before = slotted(loop)
        async with aio_pairs(20) as (streams, _peers):
            reads = [asyncio.ensure_future(s.read(100, 300)) for s in streams]
            await asyncio.sleep(0.05)
            during = slotted(loop)
            for r in reads:
                r.cancel()
            await asyncio.gather(*reads, return_exceptions=True)
        # aclose() waited for connection_lost: every connection has left its slot.
        return during - before, slotted(loop) - before

    assert asyncio.run(go()) == (20, 0)


def test_a_failing_deadline_callback_is_reported_and_the_others_still_fire() -> None:
    async def go() -> tuple[list[str], list[dict[str, object]]]:
        loop = asyncio.get_running_loop()
        reported: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _loop, context: reported.append(context))
        fired: list[str] = []

        def broken() -> None:
            fired.append("broken")
            raise RuntimeError("a bug in one session")

        protos = [StreamProtocol(loop) for _ in range(3)]
        protos[0].expire(0.05, lambda: fired.append("first"))
        protos[1].expire(0.05, broken)
        protos[2].expire(0.05, lambda: fired.append("last"))
        for _ in range(100):
            if len(fired) == 3:
                break
            await asyncio.sleep(0.02)
        return sorted(fired), reported

    fired, reported = asyncio.run(go())
    assert fired == ["broken", "first", "last"]
    [context] = reported
    assert isinstance(context["exception"], RuntimeError)


def test_aio_a_cancelled_expiry_never_fires() -> None:
    async def go() -> list[str]:
        loop = asyncio.get_running_loop()
        fired: list[str] = []
        proto = StreamProtocol(loop)
        proto.expire(0.05, lambda: fired.append("expired"))
        proto.expire(None)  # the session went on: no deadline now
        await asyncio.sleep(0.05 + 3 * _TICK)
        proto.expire(0.05, lambda: fired.append("second"))
        proto.extend(0.3)  # moved later: not at the first slot's end
        await asyncio.sleep(0.05 + 2 * _TICK)
        early = list(fired)
        await asyncio.sleep(0.3)
        return early + fired

    assert asyncio.run(go()) == ["second"]


def test_a_deadline_that_has_passed_goes_to_the_next_slot_and_a_firing_ends() -> None:
    # A connection whose slot comes may land in the slot being fired again (a deadline that
    # has passed, or one that rounds into it): it goes to the next slot, fired by the next
    # timer, so a firing always ends.
    from smtpcore._backends.aio import _Deadlines

    class Again:
        """Puts itself back with a deadline in the past, three times."""

        def __init__(self) -> None:
            self.seen: list[float] = []

        def _slot_due(self, keeper: _Deadlines, now: float) -> None:
            self.seen.append(now)
            if len(self.seen) < 3:
                keeper.add(self, now - 10)  # type: ignore[arg-type]

    async def go() -> list[float]:
        loop = asyncio.get_running_loop()
        keeper = _Deadlines(loop)
        again = Again()
        keeper.add(again, keeper.clock())  # type: ignore[arg-type]
        for _ in range(100):
            if len(again.seen) == 3:
                break
            await asyncio.sleep(0.02)
        return again.seen

    seen = asyncio.run(go())
    assert len(seen) == 3
    # Each came back in a later slot, by a later timer: never twice in one firing.
    assert seen[0] < seen[1] < seen[2]
    assert seen[2] - seen[0] < 10 * _TICK
