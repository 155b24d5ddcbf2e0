"""The serve command's queue runner: relay what is in the spool, retry with backoff, bounce.

Deferred recipients are retried after ``retry_interval``, doubling up to six hours between
tries (RFC 5321 §4.5.4.1 asks for at least 30 minutes between retries in production and a
give-up time of 4-5 days: ``max_age``); failures, and what is still deferred at ``max_age``,
go back to the sender as an RFC 3464 DSN, delivered locally when the sender is local and
relayed otherwise (from the null sender, so a bounce never bounces, RFC 5321 §6.1).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any, Protocol, TextIO

from . import relay
from ._addresses import Address
from ._cli_spool import Spool, SpoolEntry
from ._commands import mail_param_items, parse_mail_params, parse_rcpt_params, rcpt_param_items
from ._envelope import Envelope
from ._events import MailParams, RcptParams, Reply
from ._relay_plan import DeliveryResult

__all__ = ["QueueRunner", "params_to_text", "params_from_text"]

_MAX_BACKOFF = 6 * 3600.0


def params_to_text(params: MailParams | RcptParams) -> dict[str, Any]:
    """Parameters as their wire text (the codec that reads them back is the command codec)."""
    items = mail_param_items(params) if isinstance(params, MailParams) else rcpt_param_items(params)
    return {"wire": " ".join(k if v is None else f"{k}={v}" for k, v in items)}


def params_from_text(kind: type[MailParams] | type[RcptParams], raw: dict[str, Any]) -> Any:
    text = raw.get("wire", "")
    if not text:
        return kind()
    return parse_mail_params(text) if kind is MailParams else parse_rcpt_params(text)


class LocalDelivery(Protocol):
    def is_local(self, address: Address) -> bool: ...

    def store_local(self, data: bytes, envelope: Envelope, recipients: list[Address]) -> None: ...


class QueueRunner:
    def __init__(
        self,
        spool: Spool,
        *,
        relay_kw: dict[str, Any],
        hostname: str,
        retry_interval: float,
        max_age: float,
        out: TextIO,
    ) -> None:
        self.spool = spool
        self.relay_kw = relay_kw
        self.hostname = hostname
        self.retry_interval = retry_interval
        self.max_age = max_age
        self.out = out
        self.local: LocalDelivery | None = None
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver due entries until ``stop`` is set; a restart picks up the spool as left."""
        while not stop.is_set():
            self._wake.clear()
            now = time.time()
            entries = await asyncio.to_thread(self.spool.load)
            next_due = now + self.retry_interval
            for entry in entries:
                if stop.is_set():
                    return
                if entry.next_try <= now:
                    await self.process(entry)
                else:
                    next_due = min(next_due, entry.next_try)
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait(
                {waiter, stopper},
                timeout=max(0.05, next_due - time.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in (waiter, stopper):
                task.cancel()

    async def process(self, entry: SpoolEntry) -> None:
        data = await asyncio.to_thread(self.spool.message, entry)
        mail_params = params_from_text(MailParams, entry.mail_params)
        recipients = [Address.parse(r) for r in entry.recipients]
        rcpt_params = {
            Address.parse(r): params_from_text(RcptParams, p) for r, p in entry.rcpt_params.items()
        }
        report = await relay.deliver_async(
            data,
            entry.mail_from,
            recipients,
            mail_params=mail_params,
            rcpt_params=rcpt_params,
            **self.relay_kw,
        )
        now = time.time()
        expired = now - entry.arrival >= self.max_age
        results = list(report.results)
        if expired:
            results = [_expire(r) if r.status == "deferred" else r for r in results]
        for r in results:
            print(
                f"{time.strftime('%Y-%m-%dT%H:%M:%S')} relay {entry.id} to=<{r.recipient}> "
                f"status={r.status} host={r.host or '-'} reply={r.reply or '-'}",
                file=self.out,
                flush=True,
            )
        final = relay.RelayReport(tuple(results))
        notice = relay.bounce(
            final, data, entry.mail_from, reporting_mta=self.hostname, mail_params=mail_params
        )
        if notice is not None and entry.mail_from is not None:
            await self._send_bounce(notice.as_bytes(), Address.parse(entry.mail_from))
        deferred = [r for r in results if r.status == "deferred"]
        if deferred:
            delay = min(_MAX_BACKOFF, self.retry_interval * 2**entry.attempts)
            await asyncio.to_thread(
                self.spool.update,
                entry,
                recipients=tuple(str(r.recipient) for r in deferred),
                attempts=entry.attempts + 1,
                next_try=now + delay,
                last_error=str(deferred[0].reply or ""),
            )
        else:
            await asyncio.to_thread(self.spool.remove, entry)

    async def _send_bounce(self, notice: bytes, sender: Address) -> None:
        if self.local is not None and self.local.is_local(sender):
            envelope = Envelope(mail_from=None, recipients=(sender,))
            await asyncio.to_thread(self.local.store_local, notice, envelope, [sender])
            return
        now = time.time()
        entry = SpoolEntry(
            id=self.spool.new_id(now),
            mail_from=None,
            recipients=(str(sender),),
            arrival=now,
            next_try=now,
        )
        await asyncio.to_thread(self.spool.add, notice, entry)
        self.wake()


def _expire(result: DeliveryResult) -> DeliveryResult:
    last = result.reply.message if result.reply is not None else "no answer"
    reply = Reply.of(554, f"Delivery time expired; last error: {last}", "5.4.7")
    return dataclasses.replace(result, status="failed", reply=reply)
