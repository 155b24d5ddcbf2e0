"""Test helpers: a client/server pair joined in memory, and every-split feeding."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from smtpcore import NEED_DATA, PAUSED, ClientConnection, ServerConnection
from smtpcore._events import Event


def drain(conn: Any) -> list[Event]:
    """Every event ``conn`` has ready, up to NEED_DATA or PAUSED (bounded)."""
    out: list[Event] = []
    for _ in range(100_000):
        ev = conn.next_event()
        if ev is NEED_DATA or ev is PAUSED:
            return out
        out.append(ev)
        if type(ev).__name__ == "ConnectionClosed":
            return out
    raise AssertionError("next_event() never asked for data")


class ConnectionPair:
    """A ClientConnection and a ServerConnection joined by an in-memory link.

    ``client_send(event)`` sends from the client and returns what the server saw;
    ``server_send(reply)`` the other way round. ``wire`` records every byte, per direction.
    """

    def __init__(self, client: ClientConnection, server: ServerConnection) -> None:
        self.client = client
        self.server = server
        self.to_server: list[bytes] = []
        self.to_client: list[bytes] = []

    def client_send(self, *events: Event) -> list[Event]:
        for event in events:
            data = self.client.send(event)
            self.to_server.append(data)
            if data:  # b"" would mean end of file
                self.server.receive_data(data)
        return drain(self.server)

    def server_send(self, *replies: Any) -> list[Event]:
        for reply in replies:
            data = self.server.send(reply)
            self.to_client.append(data)
            if data:
                self.client.receive_data(data)
        return drain(self.client)


def splits(data: bytes) -> Iterator[list[bytes]]:
    """``data`` whole, one byte at a time, and cut in two at every position."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def feed_all_splits(
    make: Callable[[], Any], data: bytes, *, eof: bool = False
) -> list[list[Event]]:
    """Feed ``data`` to a fresh connection from ``make`` under every split of ``splits``;
    return the events of each run (with adjacent MessageData merged, since their cut points
    depend on the split). Tests assert all runs are equal."""
    from smtpcore import MessageData

    runs: list[list[Event]] = []
    for pieces in splits(data):
        conn = make()
        events: list[Event] = []
        for piece in pieces:
            conn.receive_data(piece)
            events.extend(drain_auto(conn))
        if eof:
            conn.receive_data(b"")
            events.extend(drain_auto(conn))
        merged: list[Event] = []
        for ev in events:
            if isinstance(ev, MessageData) and merged and isinstance(merged[-1], MessageData):
                merged[-1] = MessageData(data=merged[-1].data + ev.data)
            else:
                merged.append(ev)
        runs.append(merged)
    return runs


def drain_auto(conn: Any) -> list[Event]:
    """Like :func:`drain`, but a server answers every command with the reply its hint or
    a default gives, so a whole scripted session can be fed in pieces."""
    from smtpcore import (
        Bdat,
        Data,
        EndOfChunk,
        EndOfMessage,
        InvalidCommand,
        MessageData,
        Reply,
    )

    out: list[Event] = []
    for _ in range(100_000):
        ev = conn.next_event()
        if ev is NEED_DATA:
            return out
        if ev is PAUSED:
            if conn.state.value == "GREETING":
                conn.send(conn.greeting())
                continue
            return out
        out.append(ev)
        if type(ev).__name__ == "ConnectionClosed":
            return out
        if not isinstance(conn, ServerConnection):
            continue
        if isinstance(ev, InvalidCommand):
            conn.send(Reply.from_hint(ev.hint))
        elif isinstance(ev, Data):
            conn.send(Reply.of(354, "go ahead"))
        elif isinstance(ev, (MessageData, Bdat)):
            pass
        elif isinstance(ev, (EndOfMessage, EndOfChunk)):
            for _ in range(conn.replies_owed):
                refusal = conn.refusal
                conn.send(Reply.of(250, "ok") if refusal is None else Reply.from_hint(refusal))
        elif type(ev).__name__ == "ConnectionClosed":
            return out
        elif type(ev).__name__ in ("Ehlo", "Lhlo"):
            conn.send(conn.ehlo_reply())
        elif type(ev).__name__ == "Quit":
            conn.send(Reply.of(221, "bye"))
        elif type(ev).__name__ in ("Auth", "AuthResponse"):
            # RFC 4954 §4: one challenge, then success
            done = getattr(ev, "initial_response", b"") is not None
            conn.send(Reply.of(235, "ok", "2.7.0") if done else Reply.of(334, ""))
        elif type(ev).__name__ == "AuthCancel":
            conn.send(Reply.of(501, "cancelled", "5.0.0"))
        elif type(ev).__name__ == "StartTLS":
            conn.send(Reply.of(220, "go ahead"))  # the engine pauses until the handshake
        else:
            conn.send(Reply.of(250, "ok"))
    raise AssertionError("next_event() never asked for data")
