"""Deliver a message to each recipient's mail exchanger: the whole path of a message.

:func:`deliver` (blocking) and :func:`deliver_async` group the recipients by domain
(IDNA-normalised, case-insensitive), find each domain's route (:mod:`smtpcore.mx`, or a static
route), try its hosts in order per RFC 5321 §5.1 under the TLS policy, and return a result per
recipient: delivered, deferred (retry later) or failed, with the reply, the host that answered,
every attempt and the TLS outcome. :func:`bounce` turns failures (and delays) into an RFC 3464
DSN for the sender, honouring NOTIFY and RET (RFC 3461).

The decisions live in :class:`smtpcore._relay_plan.DomainDelivery`; the two drivers here only
look things up, connect and send.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage, Message
from typing import Any, NamedTuple

from . import dsn, mx
from ._addresses import Address
from ._async.client import AsyncSMTPClient
from ._config import Timeouts
from ._errors import LocalProtocolError, MXError, ReplyError, SMTPCoreError, TLSError
from ._events import MailParams, RcptParams, Reply
from ._message import message_bytes
from ._mx_dane import TLSAResult, check_tlsa
from ._mx_sts import MTASTSResult, policy_matches
from ._relay_plan import (
    LOOP_REASON,
    Attempt,
    DeliveryResult,
    DomainDelivery,
    Target,
    TLSMode,
)
from ._sync.client import SMTPClient

__all__ = [
    "deliver",
    "deliver_async",
    "bounce",
    "RelayReport",
    "DeliveryResult",
    "Attempt",
    "TLSMode",
]

_DANE_MISMATCH = Reply.of(451, "TLS certificate does not match the TLSA records", "4.7.5")
_NO_REQUIRETLS = Reply.of(451, "Server does not offer REQUIRETLS over verified TLS", "4.7.30")


@dataclass(frozen=True, slots=True)
class RelayReport:
    """The result of one :func:`deliver` call, one entry per recipient in the order given."""

    results: tuple[DeliveryResult, ...]

    def _with(self, status: str) -> tuple[DeliveryResult, ...]:
        return tuple(r for r in self.results if r.status == status)

    @property
    def delivered(self) -> tuple[DeliveryResult, ...]:
        return self._with("delivered")

    @property
    def deferred(self) -> tuple[DeliveryResult, ...]:
        return self._with("deferred")

    @property
    def failed(self) -> tuple[DeliveryResult, ...]:
        return self._with("failed")

    def result(self, recipient: Address | str) -> DeliveryResult:
        want = recipient if isinstance(recipient, Address) else Address.parse(recipient)
        for r in self.results:
            if r.recipient == want:
                return r
        raise KeyError(recipient)


def _addr(value: Address | str) -> Address:
    return value if isinstance(value, Address) else Address.parse(value)


def _group(recipients: Sequence[Address]) -> dict[str, list[Address]]:
    groups: dict[str, list[Address]] = {}
    for rcpt in recipients:
        if not rcpt.domain:
            raise LocalProtocolError(f"cannot relay to {rcpt} (no domain)")
        groups.setdefault(rcpt.normalized_domain, []).append(rcpt)
    return groups


def _own(route: mx.MXRoute, own_names: Sequence[str]) -> mx.MXRoute:
    """RFC 5321 §5.1: drop our own MX entry and every less preferred one."""
    if not own_names:
        return route
    mine = route.without_self(own_names)
    if not mine.groups:
        raise MXError(route.domain, "no-route", LOOP_REASON)
    return mine


def _static_route(
    routes: Mapping[str, str] | None, domain: str, port: int
) -> list[tuple[str, str, int]] | None:
    """``routes`` maps a domain (or ``*``) to ``host``, ``host:port`` or ``[ip]:port``."""
    if not routes:
        return None
    value = routes.get(domain) or routes.get("*")
    if value is None:
        return None
    if value.startswith("["):  # [address-literal] or [address-literal]:port
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep or ":" in host:  # no port, or a bare IPv6 address
            host, port_text = value, ""
    return [(host, host, int(port_text) if port_text else port)]


class _Route(NamedTuple):
    """Where one domain's mail may go, and under which TLS rules."""

    targets: list[tuple[str, str, int]]
    error: MXError | None
    tlsa: dict[str, TLSAResult]
    sts: Sequence[str] | None  # the MX patterns of an MTA-STS policy in enforce mode


def _enforced(result: MTASTSResult) -> Sequence[str] | None:
    policy = result.policy
    return policy.mx if policy is not None and policy.mode == "enforce" else None


def _contexts(base: ssl.SSLContext | None) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(verifying context, non-verifying context). Opportunistic TLS on port 25 does not
    verify, as MTAs do (RFC 7435); DANE checks the certificate itself."""
    verifying = base or ssl.create_default_context()
    loose = ssl.create_default_context()
    loose.check_hostname = False
    loose.verify_mode = ssl.CERT_NONE
    return verifying, loose


def _message(message: bytes | Message) -> bytes:
    if isinstance(message, Message):
        return message_bytes(message, smtputf8=True)
    return bytes(message)


def _tls_outcome(client: Any, target: Target, verified: bool) -> dict[str, Any] | None:
    info = client.tls
    if info is None:
        return None
    return {
        "version": info.get("version"),
        "cipher": info.get("cipher"),
        "verified": verified,
        "dane": target.dane and verified,
        "mta_sts": target.verify and target.tls_required,
    }


def _params_for(
    recipients: Sequence[Address], rcpt_params: Mapping[Address, RcptParams] | None
) -> dict[Address, RcptParams]:
    return {r: (rcpt_params or {}).get(r, RcptParams()) for r in recipients}


def _client_kw(
    t: Target, contexts: tuple[ssl.SSLContext, ssl.SSLContext], client_kw: dict[str, Any]
) -> dict[str, Any]:
    """How to build the client for one target: TLS required or not, verified or not."""
    return {
        "tls_policy": "required" if t.tls_required else "opportunistic",
        "ssl_context": contexts[0] if t.verify else contexts[1],
        "server_hostname": t.host,
        **client_kw,
    }


def _connect_failed(dd: DomainDelivery, t: Target, exc: SMTPCoreError) -> None:
    if isinstance(exc, ReplyError):
        dd.refused(t, exc.reply)  # a 4yz/5yz greeting or EHLO: on to the next host
    elif isinstance(exc, TLSError):
        dd.failed_to_connect(t, str(exc), "tls-error")
    else:
        dd.failed_to_connect(t, str(exc))


def _checked(
    dd: DomainDelivery, t: Target, client: Any, tlsa: Mapping[str, TLSAResult]
) -> bool | None:
    """After connecting: whether TLS was verified, or None when the host fails the policy
    (the certificate does not match its TLSA records; REQUIRETLS not offered over verified
    TLS), recorded in ``dd``."""
    verified = t.verify and client.tls is not None
    if t.dane:
        cert = (client.tls or {}).get("peer_cert")
        if not cert or not check_tlsa(cert, None, tlsa[t.host].usable_records):
            dd.refused(t, _DANE_MISMATCH, "policy")
            return None
        verified = True
    caps = client.capabilities
    if dd.requiretls and not (verified and caps is not None and caps.requiretls):
        dd.refused(t, _NO_REQUIRETLS, "policy")
        return None
    return bool(verified)


def _send_failed(dd: DomainDelivery, t: Target, exc: SMTPCoreError) -> None:
    if isinstance(exc, LocalProtocolError):
        # the message cannot go to this server as it is (SMTPUTF8, 8BITMIME, SIZE...)
        dd.refused(t, Reply.of(554, str(exc)[:400], "5.6.0"), "transaction")
    else:
        dd.failed_to_connect(t, str(exc), "transaction")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    """What both drivers work from: the message, the envelope and the policy."""

    data: bytes
    sender: Address | None
    recipients: list[Address]
    params: dict[Address, RcptParams]
    mail_params: MailParams | None
    tls: TLSMode
    contexts: tuple[ssl.SSLContext, ssl.SSLContext]
    client_kw: dict[str, Any]

    @classmethod
    def make(
        cls,
        message: bytes | Message,
        mail_from: Address | str | None,
        rcpt_to: Sequence[Address | str],
        *,
        mail_params: MailParams | None,
        rcpt_params: Mapping[Address, RcptParams] | None,
        tls: TLSMode,
        ssl_context: ssl.SSLContext | None,
        local_hostname: str | None,
        timeouts: Timeouts | None,
    ) -> _Job:
        recipients = [_addr(r) for r in rcpt_to]
        return cls(
            data=_message(message),
            sender=None if mail_from in (None, "", "<>") else _addr(mail_from),
            recipients=recipients,
            params=_params_for(recipients, rcpt_params),
            mail_params=mail_params,
            tls=tls,
            contexts=_contexts(ssl_context),
            client_kw={"local_hostname": local_hostname, "timeouts": timeouts},
        )

    def plan(
        self,
        domain: str,
        rcpts: list[Address],
        route: _Route,
    ) -> DomainDelivery:
        targets, error, tlsa, sts = route
        return DomainDelivery(
            domain,
            rcpts,
            [self.params[r] for r in rcpts],
            targets=targets,
            error=error,
            tls=self.tls,
            requiretls=bool(self.mail_params and self.mail_params.requiretls),
            sts_enforce=sts,
            sts_match=policy_matches,
            dane_hosts=frozenset(h.lower() for h, r in tlsa.items() if r.dane),
        )


# --- blocking --------------------------------------------------------------------------------


def _lookup(
    domain: str,
    *,
    routes: Any,
    port: int,
    resolver: Any,
    rng: Any,
    dane: bool,
    mta_sts: bool,
    own_names: Sequence[str] = (),
) -> _Route:
    static = _static_route(routes, domain, port)
    if static is not None:
        return _Route(static, None, {}, None)
    try:
        route = _own(mx.resolve_mx(domain, resolver=resolver, rng=rng), own_names)
    except MXError as exc:
        return _Route([], exc, {}, None)
    targets = [(h, a, port) for h, a in route.targets()]
    tlsa: dict[str, TLSAResult] = {}
    if dane:
        for host in {h for h, _a, _p in targets}:
            try:
                tlsa[host] = mx.lookup_tlsa(host, port, resolver=resolver)
            except MXError:
                targets = [t for t in targets if t[0] != host]  # RFC 7672 §2.2: unusable
    sts = _enforced(mx.lookup_mta_sts(domain, resolver=resolver)) if mta_sts else None
    return _Route(targets, None, tlsa, sts)


def _attempt(job: _Job, dd: DomainDelivery, t: Target, tlsa: Mapping[str, TLSAResult]) -> None:
    client = SMTPClient(t.address, t.port, **_client_kw(t, job.contexts, job.client_kw))
    try:
        try:
            client.connect()
        except SMTPCoreError as exc:
            _connect_failed(dd, t, exc)
            return
        verified = _checked(dd, t, client, tlsa)
        if verified is None:
            return
        try:
            result = client.send_message(
                job.data,
                job.sender,
                list(dd.pending),
                mail_params=job.mail_params,
                rcpt_params=dd.pending_params(),
                raise_on_failure=False,
            )
        except SMTPCoreError as exc:
            _send_failed(dd, t, exc)
            return
        dd.sent(t, result, _tls_outcome(client, t, verified))
    finally:
        client.quit()


def deliver(
    message: bytes | Message,
    mail_from: Address | str | None,
    rcpt_to: Sequence[Address | str],
    *,
    mail_params: MailParams | None = None,
    rcpt_params: Mapping[Address, RcptParams] | None = None,
    tls: TLSMode = "opportunistic",
    dane: bool = False,
    mta_sts: bool = False,
    routes: Mapping[str, str] | None = None,
    port: int = 25,
    resolver: Any = None,
    rng: Any = None,
    local_hostname: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeouts: Timeouts | None = None,
    own_names: Sequence[str] = (),
) -> RelayReport:
    """Deliver ``message`` to every recipient's mail exchanger (blocking).

    ``tls``: ``opportunistic`` (STARTTLS when offered, not verified: the default for port
    25), ``encrypt`` (TLS required) or ``verify`` (TLS with a verified certificate).
    ``dane`` and ``mta_sts`` switch on RFC 7672 and RFC 8461 (point ``resolver`` at a
    validating resolver for DANE). ``routes`` sends a domain (or ``*``) to a fixed
    ``host[:port]``; ``port`` overrides 25 for MX hosts (tests, smart hosts).
    ``own_names`` are this relay's host names: when it is one of a domain's MX hosts, only
    more preferred hosts are used (RFC 5321 §5.1), and none left means a routing loop.
    """
    job = _Job.make(
        message,
        mail_from,
        rcpt_to,
        mail_params=mail_params,
        rcpt_params=rcpt_params,
        tls=tls,
        ssl_context=ssl_context,
        local_hostname=local_hostname,
        timeouts=timeouts,
    )
    results: dict[Address, DeliveryResult] = {}
    for domain, rcpts in _group(job.recipients).items():
        lookup = _lookup(
            domain,
            routes=routes,
            port=port,
            resolver=resolver,
            rng=rng,
            dane=dane,
            mta_sts=mta_sts,
            own_names=own_names,
        )
        dd = job.plan(domain, rcpts, lookup)
        for _ in range(len(lookup.targets) + 1):
            target = dd.next_target()
            if target is None:
                break
            _attempt(job, dd, target, lookup.tlsa)
        for res in dd.results_list(rcpts):
            results[res.recipient] = res
    return RelayReport(tuple(results[r] for r in job.recipients))


# --- asyncio ---------------------------------------------------------------------------------


async def _lookup_async(
    domain: str,
    *,
    routes: Any,
    port: int,
    resolver: Any,
    rng: Any,
    dane: bool,
    mta_sts: bool,
    own_names: Sequence[str] = (),
) -> _Route:
    static = _static_route(routes, domain, port)
    if static is not None:
        return _Route(static, None, {}, None)
    try:
        route = _own(await mx.resolve_mx_async(domain, resolver=resolver, rng=rng), own_names)
    except MXError as exc:
        return _Route([], exc, {}, None)
    targets = [(h, a, port) for h, a in route.targets()]
    tlsa: dict[str, TLSAResult] = {}
    if dane:
        for host in {h for h, _a, _p in targets}:
            try:
                tlsa[host] = await mx.lookup_tlsa_async(host, port, resolver=resolver)
            except MXError:
                targets = [t for t in targets if t[0] != host]
    sts = _enforced(await mx.lookup_mta_sts_async(domain, resolver=resolver)) if mta_sts else None
    return _Route(targets, None, tlsa, sts)


async def _attempt_async(
    job: _Job, dd: DomainDelivery, t: Target, tlsa: Mapping[str, TLSAResult]
) -> None:
    client = AsyncSMTPClient(t.address, t.port, **_client_kw(t, job.contexts, job.client_kw))
    try:
        try:
            await client.connect()
        except SMTPCoreError as exc:
            _connect_failed(dd, t, exc)
            return
        verified = _checked(dd, t, client, tlsa)
        if verified is None:
            return
        try:
            result = await client.send_message(
                job.data,
                job.sender,
                list(dd.pending),
                mail_params=job.mail_params,
                rcpt_params=dd.pending_params(),
                raise_on_failure=False,
            )
        except SMTPCoreError as exc:
            _send_failed(dd, t, exc)
            return
        dd.sent(t, result, _tls_outcome(client, t, verified))
    finally:
        await client.quit()


async def deliver_async(
    message: bytes | Message,
    mail_from: Address | str | None,
    rcpt_to: Sequence[Address | str],
    *,
    mail_params: MailParams | None = None,
    rcpt_params: Mapping[Address, RcptParams] | None = None,
    tls: TLSMode = "opportunistic",
    dane: bool = False,
    mta_sts: bool = False,
    routes: Mapping[str, str] | None = None,
    port: int = 25,
    resolver: Any = None,
    rng: Any = None,
    local_hostname: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeouts: Timeouts | None = None,
    concurrency: int = 8,
    own_names: Sequence[str] = (),
) -> RelayReport:
    """:func:`deliver` for asyncio: domains are delivered concurrently, at most
    ``concurrency`` at a time."""
    job = _Job.make(
        message,
        mail_from,
        rcpt_to,
        mail_params=mail_params,
        rcpt_params=rcpt_params,
        tls=tls,
        ssl_context=ssl_context,
        local_hostname=local_hostname,
        timeouts=timeouts,
    )
    limit = asyncio.Semaphore(max(1, concurrency))
    results: dict[Address, DeliveryResult] = {}

    async def one(domain: str, rcpts: list[Address]) -> None:
        async with limit:
            lookup = await _lookup_async(
                domain,
                routes=routes,
                port=port,
                resolver=resolver,
                rng=rng,
                dane=dane,
                mta_sts=mta_sts,
                own_names=own_names,
            )
            dd = job.plan(domain, rcpts, lookup)
            for _ in range(len(lookup.targets) + 1):
                target = dd.next_target()
                if target is None:
                    break
                await _attempt_async(job, dd, target, lookup.tlsa)
            for res in dd.results_list(rcpts):
                results[res.recipient] = res

    await asyncio.gather(*(one(d, r) for d, r in _group(job.recipients).items()))
    return RelayReport(tuple(results[r] for r in job.recipients))


# --- bounces -----------------------------------------------------------------------------------


def bounce(
    report: RelayReport,
    original: bytes | Message,
    mail_from: Address | str | None,
    *,
    reporting_mta: str,
    mail_params: MailParams | None = None,
    date: datetime | None = None,
    delays: bool = False,
    will_retry_until: datetime | None = None,
) -> EmailMessage | None:
    """The DSN to send back to ``mail_from`` for ``report``, or None when none is due.

    RFC 3461 §4.1: a recipient with NOTIFY=NEVER, or a NOTIFY list without FAILURE (DELAY), is
    not reported; without NOTIFY, failures are. ``delays=True`` reports deferred recipients
    whose NOTIFY asks for DELAY (a delay notice). No DSN ever goes to the null sender (RFC
    5321 §4.5.5). RET=FULL returns the whole message, otherwise its headers (§4.3).
    """
    if mail_from in (None, "", "<>"):
        return None
    entries: list[dsn.RecipientResult] = []
    for res in report.results:
        notify = res.params.notify
        if res.status == "failed":
            wanted = notify is None or "FAILURE" in notify
            action = "failed"
        elif res.status == "deferred" and delays:
            wanted = notify is not None and "DELAY" in notify
            action = "delayed"
        else:
            continue
        if not wanted:
            continue
        status = res.enhanced_status
        if action == "failed" and not status.startswith("5"):
            status = "5" + status[1:]
        entries.append(
            dsn.RecipientResult(
                recipient=str(res.recipient),
                action=action,
                status=status,
                diagnostic=None if res.reply is None else f"{res.reply.code} {res.reply.message}",
                remote_mta=res.host,
                original_recipient=None if res.params.orcpt is None else res.params.orcpt.address,
                will_retry_until=will_retry_until if action == "delayed" else None,
            )
        )
    if not entries:
        return None
    ret = (mail_params.ret if mail_params and mail_params.ret else "HDRS") or "HDRS"
    return dsn.build(
        reporting_mta=reporting_mta,
        recipients=entries,
        date=date or datetime.now(timezone.utc),
        original=_message(original),
        ret=ret,
        envelope_id=mail_params.envid if mail_params else None,
        mail_from=str(mail_from),
    )
