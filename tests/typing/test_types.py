"""Typing is part of the API (DESIGN.md habit 8): ``assert_type`` pins what mypy infers for
the core's entry points, and ``type: ignore[...]`` lines pin what it must refuse (with
``warn_unused_ignores`` an ignore that is not needed any more is an error).

The checks live in functions that never run; ``test_mypy_strict`` runs
``python -m mypy --strict tests/typing`` on this directory in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from smtpcore import (
    NEED_DATA,
    PAUSED,
    Address,
    Capabilities,
    ClientConnection,
    EnhancedStatus,
    Event,
    InvalidCommand,
    LocalProtocolError,
    Mail,
    MailParams,
    Quit,
    RemoteProtocolError,
    Reply,
    ServerConnection,
    State,
    StatusHint,
)

if TYPE_CHECKING:
    from typing_extensions import assert_type

ROOT = Path(__file__).resolve().parents[2]


def _client_types(client: ClientConnection) -> None:
    event = client.next_event()
    assert_type(event, Event | type[NEED_DATA] | type[PAUSED])
    if not isinstance(event, Event):  # `is NEED_DATA` does not narrow a type[...] union
        assert_type(event, type[NEED_DATA] | type[PAUSED])
        return
    assert_type(event, Event)
    if isinstance(event, Reply):
        assert_type(event.code, int)
        assert_type(event.lines, tuple[str, ...])
        assert_type(event.command, str | None)
        assert_type(event.enhanced, EnhancedStatus | None)
        assert_type(event.message, str)
        assert_type(event.is_positive, bool)
    assert_type(client.send(Quit()), bytes)
    assert_type(client.state, State)
    assert_type(client.pending, tuple[str, ...])
    assert_type(client.capabilities, Capabilities | None)
    assert_type(client.trailing_data, tuple[bytes, bool])
    client.receive_data(b"220 hi\r\n")
    client.receive_data(bytearray(b"x"))
    client.receive_data(memoryview(b"x"))
    client.receive_data("text")  # type: ignore[arg-type]
    client.send(b"QUIT\r\n")  # type: ignore[arg-type]


def _server_types(server: ServerConnection) -> None:
    event = server.next_event()
    assert_type(event, Event | type[NEED_DATA] | type[PAUSED])
    if isinstance(event, InvalidCommand):
        assert_type(event.hint, StatusHint)
        assert_type(Reply.from_hint(event.hint), Reply)
    if isinstance(event, Mail):
        assert_type(event.reverse_path, Address | None)
        assert_type(event.params, MailParams)
        assert_type(event.params.size, int | None)
    assert_type(server.send(Reply.of(250, "ok")), bytes)
    assert_type(server.ehlo_reply(), Reply)
    assert_type(server.greeting(), Reply)
    assert_type(server.refusal, StatusHint | None)
    assert_type(server.replies_owed, int)
    assert_type(server.advertised, Capabilities)
    server.send(Quit())  # type: ignore[arg-type]


def _value_types() -> None:
    assert_type(Reply.of(250, "ok", "2.0.0"), Reply)
    assert_type(Address.parse("a@b.example"), Address)
    assert_type(EnhancedStatus.parse("5.1.1"), EnhancedStatus)
    err = RemoteProtocolError("x")
    assert_type(err.reply_hint, StatusHint)
    assert_type(LocalProtocolError("x").as_remote(), RemoteProtocolError)
    Reply(250)  # type: ignore[call-arg]
    Mail(reverse_path=None, params=MailParams(body="9BIT"))  # type: ignore[arg-type]


def test_mypy_strict() -> None:
    pytest.importorskip("mypy")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "tests/typing"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
