"""What both server flavours share before a connection is served: the capabilities they
advertise from their options, and a fresh :class:`ServerConnection` per client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ._config import ServerConfig, Timeouts
from ._extensions import Capabilities
from ._server import ServerConnection

__all__ = ["PeerCounts", "ServerOptions", "peer_ip"]


def peer_ip(peername: Any) -> str | None:
    """The client's IP address from a socket peer name, IPv4-mapped IPv6 folded to IPv4
    (so one client cannot count as two), or None for a socket without one (Unix, tests)."""
    if not isinstance(peername, tuple) or not peername or not isinstance(peername[0], str):
        return None
    host: str = peername[0]
    if host.lower().startswith("::ffff:") and "." in host:
        return host[7:]
    return host


class PeerCounts:
    """Open connections per client address, against ``max_connections_per_ip`` (None: no
    limit). The caller serialises access (the sync server holds its lock)."""

    __slots__ = ("_counts", "limit")

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("max_connections_per_ip must be at least 1 (or None)")
        self.limit = limit
        self._counts: dict[str, int] = {}

    def full(self, ip: str | None) -> bool:
        """Whether ``ip`` already has its limit of open connections."""
        return ip is not None and self.limit is not None and self._counts.get(ip, 0) >= self.limit

    def add(self, ip: str | None) -> None:
        if ip is not None:
            self._counts[ip] = self._counts.get(ip, 0) + 1

    def remove(self, ip: str | None) -> None:
        """A connection from ``ip`` was closed: its slot is free again."""
        if ip is not None:
            left = self._counts.get(ip, 1) - 1
            if left > 0:
                self._counts[ip] = left
            else:
                self._counts.pop(ip, None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerOptions:
    """Everything a server applies to each connection (sans-I/O: no sockets, no contexts).

    ``starttls`` / ``auth_mechanisms`` say what can be offered; the adapter passes them from
    its TLS context and credential store.
    """

    config: ServerConfig = field(default_factory=ServerConfig)
    timeouts: Timeouts = field(default_factory=Timeouts)
    starttls: bool = False
    auth_mechanisms: Sequence[str] = ()
    auth_requires_tls: bool = True
    require_tls: bool = False
    require_auth: bool = False
    chunking: bool = True
    smtputf8: bool = True
    dsn: bool = True
    requiretls: bool = False
    max_connections: int = 1000
    proxy_protocol: bool = False  # a PROXY v1/v2 header comes first (trusted balancers only)
    capabilities: Capabilities | None = None  # overrides everything above when given

    @classmethod
    def make(
        cls,
        *,
        config: ServerConfig | None,
        hostname: str | None,
        lmtp: bool,
        timeouts: Timeouts | None,
        starttls: bool,
        auth: bool,
        auth_mechanisms: Sequence[str],
        **flags: Any,
    ) -> ServerOptions:
        """The options of a listener's keyword arguments (both flavours take the same)."""
        cfg = config or ServerConfig()
        if hostname is not None or lmtp:
            cfg = replace(cfg, hostname=hostname or cfg.hostname, lmtp=lmtp or cfg.lmtp)
        return cls(
            config=cfg,
            timeouts=timeouts or Timeouts(),
            starttls=starttls,
            auth_mechanisms=tuple(auth_mechanisms) if auth else (),
            **flags,
        )

    def advertised(self) -> Capabilities:
        """What EHLO offers (built once per options object, not once per connection)."""
        # Keyed by identity: hashing the options (a dataclass of dataclasses) would cost
        # more than building the connection it is for.
        hit = _BY_OPTIONS.get(id(self))
        if hit is not None and hit[0] is self:
            return hit[1]
        caps = self._build()
        if len(_BY_OPTIONS) >= 32:
            _BY_OPTIONS.clear()
        _BY_OPTIONS[id(self)] = (self, caps)  # the entry holds the options: no id reuse
        return caps

    def _build(self) -> Capabilities:
        if self.capabilities is not None:
            return self.capabilities
        limits = self.config.limits
        return Capabilities.build(
            domain=self.config.hostname,
            greeting="LMTP" if self.config.lmtp else "ESMTP smtpcore",
            pipelining=True,
            size=limits.message_size or 0,
            vrfy=True,
            starttls=self.starttls,
            auth=tuple(self.auth_mechanisms),
            enhancedstatuscodes=True,
            eightbitmime=True,
            binarymime=self.chunking,
            chunking=self.chunking,
            dsn=self.dsn,
            smtputf8=self.smtputf8,
            requiretls=self.requiretls,
            help=True,
        )

    def connection(self, *, tls: bool = False) -> ServerConnection:
        return ServerConnection(
            capabilities=self.advertised(),
            config=self.config,
            tls=tls,
            auth_requires_tls=self.auth_requires_tls,
            require_tls=self.require_tls,
            require_auth=self.require_auth,
        )


_BY_OPTIONS: dict[int, tuple[ServerOptions, Capabilities]] = {}
