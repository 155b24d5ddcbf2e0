"""A small TTL cache with an injected clock, for DNS answers and MTA-STS policies. Sans-I/O.

The clock is a callable returning seconds (``time.monotonic`` in ``smtpcore.mx``); the cache
never reads one itself. Entries expire after their TTL; when full, expired entries go first,
then the oldest. One cache may be shared by many resolutions, threads or event loops: every
operation is a single dict operation or tolerates a concurrent one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TTLCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Values kept for a number of seconds, measured with ``clock``."""

    def __init__(self, *, clock: Callable[[], float], max_entries: int = 4096) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> tuple[V, float] | None:
        """The value and the seconds it has left, or None when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        left = expires - self._clock()
        if left <= 0:
            self._entries.pop(key, None)
            return None
        return value, left

    def put(self, key: K, value: V, ttl: float) -> None:
        """Keep ``value`` for ``ttl`` seconds (a TTL of 0 or less keeps nothing)."""
        if ttl <= 0:
            self._entries.pop(key, None)
            return
        now = self._clock()
        if key not in self._entries and len(self._entries) >= self._max_entries:
            self._evict(now)
        self._entries[key] = (now + ttl, value)

    def clear(self) -> None:
        self._entries.clear()

    def _evict(self, now: float) -> None:
        for key, (expires, _value) in list(self._entries.items()):
            if expires <= now:
                self._entries.pop(key, None)
        while len(self._entries) >= self._max_entries:
            try:
                self._entries.pop(next(iter(self._entries)), None)
            except (StopIteration, RuntimeError):  # emptied or changed by another thread
                break
