"""The serve command's spool: messages waiting to be relayed, safe across crashes and restarts.

Each entry is two files in the spool folder, ``<id>.eml`` (the message) and ``<id>.json``
(envelope, recipients still to do, attempts, next try). Both are written to a temporary file,
flushed to disk and renamed into place (``os.replace`` is atomic on POSIX), the message first:
an entry whose ``.json`` exists is whole. A crash leaves at worst a stray temporary file, which
:meth:`Spool.load` removes.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["Spool", "SpoolEntry"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SpoolEntry:
    id: str
    mail_from: str | None
    recipients: tuple[str, ...]
    arrival: float
    next_try: float
    attempts: int = 0
    mail_params: dict[str, Any] = field(default_factory=dict)
    rcpt_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_error: str = ""


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Spool:
    """A folder of :class:`SpoolEntry` values and their messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def add(self, message: bytes, entry: SpoolEntry) -> SpoolEntry:
        _write_atomic(self.path / f"{entry.id}.eml", message)
        self._save(entry)
        return entry

    def new_id(self, now: float | None = None) -> str:
        return f"{int((now or time.time()) * 1000):013d}-{secrets.token_hex(6)}"

    def _save(self, entry: SpoolEntry) -> None:
        data = json.dumps(asdict(entry), sort_keys=True).encode()
        _write_atomic(self.path / f"{entry.id}.json", data)

    def update(self, entry: SpoolEntry, **changes: Any) -> SpoolEntry:
        new = replace(entry, **changes)
        self._save(new)
        return new

    def remove(self, entry: SpoolEntry) -> None:
        # The .json goes first: without it the entry no longer exists, even if we crash here.
        for suffix in (".json", ".eml"):
            try:
                (self.path / f"{entry.id}{suffix}").unlink()
            except FileNotFoundError:
                pass

    def message(self, entry: SpoolEntry) -> bytes:
        return (self.path / f"{entry.id}.eml").read_bytes()

    def load(self) -> list[SpoolEntry]:
        """Every whole entry, oldest first; temporary files and orphan messages are cleared."""
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        entries: list[SpoolEntry] = []
        for meta in sorted(self.path.glob("*.json")):
            try:
                raw = json.loads(meta.read_text())
                raw["recipients"] = tuple(raw["recipients"])
                entry = SpoolEntry(**raw)
            except (ValueError, TypeError, KeyError):
                continue  # not ours, or damaged: left for a human to look at
            if (self.path / f"{entry.id}.eml").exists():
                entries.append(entry)
        known = {e.id for e in entries}
        for eml in self.path.glob("*.eml"):
            if eml.stem not in known and not (self.path / f"{eml.stem}.json").exists():
                eml.unlink(missing_ok=True)  # a message whose metadata never got written
        return sorted(entries, key=lambda e: e.arrival)
