"""The delivery of one message to one recipient domain, as a plan without I/O.

:class:`DomainDelivery` decides which host to try next and what each outcome means; the
drivers in :mod:`smtpcore.relay` (blocking and asyncio) only connect and send:

* RFC 5321 §5.1: hosts in preference order and every address of a host, until one gives
  final answers; a connection failure, a 4yz greeting or a 4yz to the transaction moves on to
  the next host; a 5yz to RCPT is final for that recipient, a 5yz to MAIL or the data is final
  for the transaction (§4.5.4.1, §6.1).
* TLS per RFC 7672 (DANE: TLS required, certificate checked against the TLSA records) and
  RFC 8461 (MTA-STS in enforce mode: only policy-matching MX hosts, with verified TLS);
  RFC 8689 REQUIRETLS: only a server that offers REQUIRETLS, over verified TLS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._addresses import Address
from ._errors import MXError
from ._events import RcptParams, Reply
from ._transaction import DeliveryStatus, SendResult, status_of

__all__ = ["Attempt", "DeliveryResult", "DomainDelivery", "Target", "TLSMode"]

TLSMode = Literal["opportunistic", "encrypt", "verify"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One place to try: an MX host name, one of its addresses, a port, and the TLS rules."""

    host: str
    address: str
    port: int
    tls_required: bool
    verify: bool  # PKIX verification with the host name (MTA-STS, "verify")
    dane: bool = False  # check the certificate against TLSA records


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    host: str
    address: str
    port: int
    outcome: str  # "connect-error", "tls-error", "greeting", "transaction", "policy"
    detail: str
    reply: Reply | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryResult:
    """What happened to one recipient: delivered, deferred (retry later) or failed."""

    recipient: Address
    status: DeliveryStatus
    reply: Reply | None
    host: str | None = None
    address: str | None = None
    attempts: tuple[Attempt, ...] = ()
    tls: dict[str, Any] | None = None
    params: RcptParams = field(default_factory=RcptParams)

    @property
    def enhanced_status(self) -> str:
        """The RFC 3463 code for a DSN: the reply's own, or one implied by its class."""
        if self.reply is not None and self.reply.enhanced is not None:
            return str(self.reply.enhanced)
        return {"delivered": "2.0.0", "deferred": "4.0.0", "failed": "5.0.0"}[self.status]


# Replies the relay makes up when no server gave one (RFC 3463 codes).
NULL_MX = Reply.of(556, "Recipient address has null MX", "5.1.10")  # RFC 7505 §3
NO_ROUTE = Reply.of(550, "No route to the recipient's domain", "5.1.2")
DNS_TEMPORARY = Reply.of(451, "Temporary DNS failure", "4.4.3")
NO_ANSWER = Reply.of(451, "No answer from any mail exchanger", "4.4.1")
POLICY = Reply.of(451, "No mail exchanger meets the TLS policy", "4.7.5")
LOOP = Reply.of(554, "Mail for this domain loops back to this host", "5.4.6")
LOOP_REASON = "this host is the most preferred MX: mail would loop (RFC 5321 §5.1)"
REQUIRETLS_FAILED = Reply.of(550, "REQUIRETLS: no server offers verified TLS with it", "5.7.30")


class DomainDelivery:
    """Delivery state for the recipients of one domain."""

    def __init__(
        self,
        domain: str,
        recipients: Sequence[Address],
        rcpt_params: Sequence[RcptParams] | None = None,
        *,
        targets: Sequence[tuple[str, str, int]] = (),
        error: MXError | None = None,
        tls: TLSMode = "opportunistic",
        requiretls: bool = False,
        sts_enforce: Sequence[str] | None = None,
        sts_match: Any = None,
        dane_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.domain = domain
        params = list(rcpt_params) if rcpt_params is not None else []
        params += [RcptParams()] * (len(recipients) - len(params))
        self._params = dict(zip(recipients, params, strict=True))
        self.pending: list[Address] = list(recipients)
        self.results: dict[Address, DeliveryResult] = {}
        self.attempts: list[Attempt] = []
        self.requiretls = requiretls
        self._last_temp: dict[Address, Reply] = {}
        self._targets: list[Target] = []
        if error is not None:
            self._finish_all(self._error_reply(error))
            return
        skipped = False
        for host, address, port in targets:
            dane = host.lower() in dane_hosts
            verify = tls == "verify"
            if sts_enforce is not None:
                # RFC 8461 §4.2: in enforce mode, a host that does not match is not used,
                # and TLS with a valid certificate for the host name is required.
                if not sts_match(sts_enforce, host):
                    skipped = True
                    self.attempts.append(
                        Attempt(
                            host=host,
                            address=address,
                            port=port,
                            outcome="policy",
                            detail="MX host not allowed by the MTA-STS policy",
                        )
                    )
                    continue
                verify = True
            required = tls in ("encrypt", "verify") or dane or verify or requiretls
            self._targets.append(
                Target(
                    host=host,
                    address=address,
                    port=port,
                    tls_required=required,
                    verify=(verify or requiretls) and not dane,
                    dane=dane,
                )
            )
        if not self._targets:
            self._finish_all(POLICY if skipped else NO_ROUTE)

    @staticmethod
    def _error_reply(error: MXError) -> Reply:
        if error.kind == "null-mx":
            return NULL_MX
        if error.kind == "temporary":
            return DNS_TEMPORARY
        if error.reason == LOOP_REASON:
            return LOOP
        return NO_ROUTE

    def _finish_all(self, reply: Reply) -> None:
        for rcpt in list(self.pending):
            self._final(rcpt, reply, None)

    def _final(self, rcpt: Address, reply: Reply, target: Target | None, tls: Any = None) -> None:
        self.results[rcpt] = DeliveryResult(
            recipient=rcpt,
            status=status_of(reply),
            reply=reply,
            host=None if target is None else target.host,
            address=None if target is None else target.address,
            attempts=tuple(self.attempts),
            tls=tls,
            params=self._params.get(rcpt, RcptParams()),
        )
        if rcpt in self.pending:
            self.pending.remove(rcpt)

    # --- the driver's side ----------------------------------------------------------------

    @property
    def done(self) -> bool:
        return not self.pending

    def next_target(self) -> Target | None:
        """The next host to try, or None when every one was tried (what is still pending is
        then deferred: call :meth:`results_list`)."""
        if not self.pending or not self._targets:
            return None
        return self._targets.pop(0)

    def pending_params(self) -> list[RcptParams]:
        return [self._params[r] for r in self.pending]

    def failed_to_connect(
        self, target: Target, detail: str, outcome: str = "connect-error"
    ) -> None:
        self.attempts.append(
            Attempt(
                host=target.host,
                address=target.address,
                port=target.port,
                outcome=outcome,
                detail=detail,
            )
        )

    def refused(self, target: Target, reply: Reply, outcome: str = "greeting") -> None:
        """The server refused us before any transaction (greeting, EHLO, TLS policy)."""
        self.attempts.append(
            Attempt(
                host=target.host,
                address=target.address,
                port=target.port,
                outcome=outcome,
                detail=str(reply),
                reply=reply,
            )
        )
        if reply.is_permanent and outcome == "transaction":
            self._finish_all(reply)
        else:
            for rcpt in self.pending:
                self._last_temp[rcpt] = reply

    def sent(self, target: Target, result: SendResult, tls: Any = None) -> None:
        """A transaction ran: final answers are kept, 4yz ones wait for the next host."""
        refusals = [o.reply for o in result.recipients if o.reply and not o.reply.is_positive]
        deciding = result.data_reply or (refusals[0] if refusals else result.mail_reply)
        self.attempts.append(
            Attempt(
                host=target.host,
                address=target.address,
                port=target.port,
                outcome="transaction",
                detail=str(deciding),
                reply=deciding,
            )
        )
        for outcome in result.recipients:
            reply = outcome.reply
            if reply is None:
                continue
            if outcome.status == "deferred":
                self._last_temp[outcome.address] = reply
            else:
                self._final(outcome.address, reply, target, tls)

    def results_list(self, order: Sequence[Address]) -> list[DeliveryResult]:
        """Every recipient's result; those still pending are deferred with the last 4yz."""
        for rcpt in list(self.pending):
            self._final(rcpt, self._last_temp.get(rcpt, NO_ANSWER), None)
        return [self.results[r] for r in order if r in self.results]
