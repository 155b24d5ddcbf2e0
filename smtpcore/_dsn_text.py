"""Non-standard bounces: reading recipients, status and reply text from a notice's prose."""

from __future__ import annotations

from email.message import Message

from ._dsn_types import RecipientStatus

__all__ = ["body_text", "scan_text_bounce"]


def body_text(msg: Message) -> str:
    return ""


def scan_text_bounce(msg: Message, text: str) -> list[RecipientStatus]:
    return []
