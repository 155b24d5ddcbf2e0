"""A mail transaction planned without I/O, and its per-recipient result.

Given the server's capabilities, an envelope and what the message needs, :class:`Transaction`
says which commands to send (all in one group under PIPELINING, RFC 2920; otherwise one at a
time, stopping when MAIL fails) and, fed every reply, which recipients got the message.
Partial success is success (RFC 5321 §3.3): a refused recipient does not stop the others.
The adapters' ``send_message`` is a short loop around it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ._addresses import Address
from ._errors import LocalProtocolError
from ._events import Command, Data, Mail, MailParams, Rcpt, RcptParams, Reply
from ._extensions import Capabilities

__all__ = ["Transaction", "SendResult", "RecipientOutcome", "DeliveryStatus"]

DeliveryStatus = Literal["delivered", "deferred", "failed"]

# Use BDAT for messages at least this big when CHUNKING is offered (and always for binary).
BDAT_THRESHOLD = 1024 * 1024
# A message known whole and at most this big goes in one BDAT LAST in the envelope's write when
# the server offers CHUNKING and PIPELINING: one round trip instead of DATA's two. It leaves
# before the RCPT replies, so a refused envelope wastes at most this much (about what a 20 Mbit/s
# link carries in a 100 ms round trip).
BDAT_WITH_ENVELOPE_MAX = 256 * 1024
# RFC 3030 §2 has a server read and discard a chunk it refuses, but not every server does
# (go-smtp#315): one that takes a refused chunk for commands would run each line of the message
# that reads as one. So a message goes before the envelope's replies only when no line of it
# begins (after blanks, in any case) with MAIL or RCPT: without those no transaction can be
# begun and no recipient added to ours, whatever such a server makes of the rest. The pattern
# takes a few more words than those two (every mix of their letters): such a message only
# goes the slower way, with DATA.
_VERB = rb"[ \t]*[mMrR][aAcC][iIpP][lLtT]"
_FIRST_LINE, _LATER_LINE = re.compile(_VERB), re.compile(rb"\n" + _VERB)


def _may_precede_replies(content: bytes) -> bool:
    """Whether ``content`` may go out before the envelope's replies (see above)."""
    return (
        len(content) <= BDAT_WITH_ENVELOPE_MAX
        and _FIRST_LINE.match(content) is None
        and _LATER_LINE.search(content) is None
    )


def status_of(reply: Reply | None) -> DeliveryStatus:
    """delivered (2yz/3yz), deferred (4yz, or no reply at all) or failed (5yz)."""
    if reply is None or 400 <= reply.code < 500:
        return "deferred"
    return "failed" if reply.code >= 500 else "delivered"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientOutcome:
    """What happened to one recipient.

    ``rcpt_reply`` answered its RCPT (None when it was never sent because MAIL failed);
    ``data_reply`` answered the message data (under LMTP, the reply for this recipient).
    ``reply`` is the one that decided, ``status`` is delivered, deferred or failed.
    """

    address: Address
    params: RcptParams = field(default_factory=RcptParams)
    rcpt_reply: Reply | None = None
    data_reply: Reply | None = None
    mail_reply: Reply | None = None

    @property
    def reply(self) -> Reply | None:
        # RFC 2920 §3.1: after a refused MAIL, the pipelined RCPT fails only because of it
        # (typically "503 need MAIL"): the MAIL reply is the cause to report.
        if self.rcpt_reply is None or (
            self.mail_reply is not None and not self.mail_reply.is_positive
        ):
            return self.mail_reply
        if self.rcpt_reply.is_positive and self.data_reply is not None:
            return self.data_reply
        return self.rcpt_reply

    @property
    def status(self) -> DeliveryStatus:
        if self.rcpt_reply is not None and self.rcpt_reply.is_positive:
            return status_of(self.data_reply)
        return status_of(self.reply) if self.reply is not None else "deferred"

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """The outcome of one transaction, per recipient."""

    mail_reply: Reply | None
    recipients: tuple[RecipientOutcome, ...]
    data_reply: Reply | None = None

    @property
    def delivered(self) -> tuple[Address, ...]:
        return tuple(r.address for r in self.recipients if r.delivered)

    @property
    def refused(self) -> dict[Address, Reply]:
        return {
            r.address: r.reply for r in self.recipients if not r.delivered and r.reply is not None
        }

    def outcome(self, address: Address) -> RecipientOutcome:
        for r in self.recipients:
            if r.address == address:
                return r
        raise KeyError(address)


# Immutable, so one of each serves every transaction.
_NO_MAIL_PARAMS = MailParams()
_NO_RCPT_PARAMS = RcptParams()
_DATA = Data()


class Transaction:
    """Plans MAIL, RCPT and DATA/BDAT for one message and collects the replies."""

    def __init__(
        self,
        *,
        mail_from: Address | None,
        recipients: Sequence[Address],
        capabilities: Capabilities,
        mail_params: MailParams | None = None,
        rcpt_params: Mapping[Address, RcptParams] | Sequence[RcptParams] | None = None,
        size: int | None = None,
        eight_bit: bool = False,
        utf8_headers: bool = False,
        binary: bool = False,
        use_bdat: bool | None = None,
        lmtp: bool = False,
        content: bytes | None = None,
    ) -> None:
        if not recipients:
            raise LocalProtocolError("a transaction needs at least one recipient")
        caps = capabilities
        params = mail_params or _NO_MAIL_PARAMS
        changes: dict[str, Any] = {}  # what the message needs added to the caller's params
        needs_utf8 = (
            utf8_headers
            or (mail_from is not None and mail_from.needs_smtputf8)
            or any(r.needs_smtputf8 for r in recipients)
        )
        if needs_utf8 and not params.smtputf8:
            if not caps.smtputf8:
                raise LocalProtocolError(
                    "the message needs SMTPUTF8 (non-ASCII addresses or headers) and the "
                    "server does not offer it (RFC 6531 §3.2)"
                )
            changes["smtputf8"] = True
        if binary and not (caps.binarymime and caps.chunking):
            raise LocalProtocolError("binary content needs BINARYMIME and CHUNKING (RFC 3030)")
        if params.body is None:
            if binary:
                changes["body"] = "BINARYMIME"
            elif eight_bit or params.smtputf8 or changes.get("smtputf8"):
                if not caps.eightbitmime:
                    raise LocalProtocolError(
                        "8-bit content and the server does not offer 8BITMIME (RFC 6152)"
                    )
                changes["body"] = "8BITMIME"
        if size is not None and params.size is None and caps.size is not None:
            limit = caps.size_limit
            if limit is not None and size > limit:
                raise LocalProtocolError(
                    f"the message ({size} octets) is over the server's SIZE {limit} (RFC 1870)"
                )
            changes["size"] = size
        if changes:
            # One new MailParams (replace() walks every field: the default is built directly).
            params = (
                MailParams(**changes) if params is _NO_MAIL_PARAMS else replace(params, **changes)
            )
        self.pipelining = caps.pipelining
        # ``content``: the message as it will be sent, when the caller holds it in memory.
        may_ride = (
            caps.chunking
            and self.pipelining
            and content is not None
            and use_bdat is not False
            and _may_precede_replies(content)
        )
        self.use_bdat = caps.chunking and (
            use_bdat
            if use_bdat is not None
            else binary or (size or 0) >= BDAT_THRESHOLD or may_ride
        )
        if binary and not self.use_bdat:
            raise LocalProtocolError("BODY=BINARYMIME needs BDAT (RFC 3030 §3)")
        # RFC 3030 §4.2: BDAT may be pipelined behind MAIL and RCPT (its own example sends
        # MAIL, RCPT and "BDAT 986 LAST" with the data in one go); the server reads and
        # discards a chunk it refuses (§2), and _may_precede_replies covers one that does not.
        # The adapter sends this chunk, as BDAT LAST, in the same write as the envelope.
        self.envelope_chunk = content if self.use_bdat and may_ride else None
        self.lmtp = lmtp
        if not params.smtputf8:
            # Without SMTPUTF8 a U-label domain goes out as A-labels (RFC 5890, RFC 6531 §3.2).
            mail_from = None if mail_from is None else mail_from.to_ascii()
        self.mail = Mail(reverse_path=mail_from, params=params)
        if rcpt_params is None:  # first: an isinstance check against an ABC is slow
            per = [_NO_RCPT_PARAMS] * len(recipients)
        elif isinstance(rcpt_params, Mapping):
            per = [rcpt_params.get(r, _NO_RCPT_PARAMS) for r in recipients]
        else:
            per = list(rcpt_params)
            if len(per) != len(recipients):
                raise LocalProtocolError("rcpt_params must give one entry per recipient")
        self.addresses = list(recipients)
        self.rcpts = [
            Rcpt(forward_path=r if params.smtputf8 else r.to_ascii(), params=p)
            for r, p in zip(recipients, per, strict=True)
        ]
        self.mail_reply: Reply | None = None
        self.rcpt_replies: list[Reply] = []
        self.accepted_count = 0  # of rcpt_replies, the positive ones
        self.data_command_reply: Reply | None = None
        self.data_replies: list[Reply] = []
        # The reply to a BDAT sent with an envelope that then failed (MAIL refused, or no
        # recipient accepted): like a pipelined DATA's 503 (RFC 2920 §3.1), it refused the
        # data only because of that, and the envelope's replies say why.
        self.early_data_reply: Reply | None = None
        self._sent = 0

    # --- what to send -------------------------------------------------------------------

    def _commands(self) -> list[Command]:
        cmds: list[Command] = [self.mail, *self.rcpts]
        if not self.use_bdat:
            cmds.append(_DATA)
        return cmds

    def next_commands(self) -> list[Command]:
        """The next group to send (empty when the envelope phase is over).

        With PIPELINING, everything in one group (RFC 2920 §3.1); without, one command at a
        time, none after a refused MAIL, and no DATA when every recipient was refused.
        """
        cmds = self._commands()
        if self._sent >= len(cmds):
            return []
        if self.pipelining:
            self._sent = len(cmds)
            return cmds
        if self._sent > 0 and (self.mail_reply is None or not self.mail_reply.is_positive):
            return []
        nxt = cmds[self._sent]
        if isinstance(nxt, Data) and self.accepted_count == 0:
            return []
        self._sent += 1
        return [nxt]

    def record(self, reply: Reply) -> None:
        """Feed a reply (its ``command`` says what it answered)."""
        cmd = reply.command
        if cmd == "MAIL":
            self.mail_reply = reply
        elif cmd == "RCPT":
            self.rcpt_replies.append(reply)
            if reply.is_positive:
                self.accepted_count += 1
        elif cmd == "DATA":
            self.data_command_reply = reply
        elif cmd in (".", "BDAT LAST", "BDAT"):
            if cmd == "BDAT" and reply.is_positive:
                return  # an intermediate chunk taken
            if cmd != "." and not self._envelope_accepted:
                self.early_data_reply = reply
                return
            self.data_replies.append(reply)
        else:
            raise LocalProtocolError(f"a reply to {cmd} is not part of a transaction")

    # --- where it stands ----------------------------------------------------------------

    @property
    def bdat_with_envelope(self) -> bool:
        """The message goes as one BDAT LAST behind MAIL and RCPT (``envelope_chunk``)."""
        return self.envelope_chunk is not None

    @property
    def _envelope_accepted(self) -> bool:
        """MAIL and at least one RCPT accepted: the message data has somewhere to go."""
        return (
            self.mail_reply is not None and self.mail_reply.is_positive and self.accepted_count > 0
        )

    @property
    def ready_for_data(self) -> bool:
        """MAIL and at least one RCPT accepted, (for DATA) the 354 came, and the message data
        has not been answered yet (a BDAT with the envelope has been)."""
        if not self._envelope_accepted or self.data_replies:
            return False
        if self.use_bdat:
            return True
        return self.data_command_reply is not None and self.data_command_reply.code == 354

    @property
    def data_open_without_recipients(self) -> bool:
        """The server said 354 though nobody was accepted: end the empty data (RFC 2920 §3.1)."""
        return (
            self.data_command_reply is not None
            and self.data_command_reply.code == 354
            and not self._envelope_accepted
        )

    @property
    def data_replies_expected(self) -> int:
        """Replies after the end of data: one per accepted recipient under LMTP (RFC 2033)."""
        return max(1, self.accepted_count) if self.lmtp else 1

    @property
    def needs_rset(self) -> bool:
        """Whether the server may still hold a transaction that must be cleared."""
        if self.mail_reply is None or not self.mail_reply.is_positive:
            return False
        if self.use_bdat and self.data_replies:
            # RFC 3030 §2: a refused BDAT fails the transaction but leaves the server's state
            # open to doubt; RSET clears it. (Under LMTP, only when every recipient's reply
            # to the data is negative: a mixed answer is a finished delivery, RFC 2033 §4.2.)
            return not any(r.is_positive for r in self.data_replies)
        return not self.data_replies and not self.data_open_without_recipients

    def result(self) -> SendResult:
        outcomes: list[RecipientOutcome] = []
        data_iter = iter(self.data_replies)
        shared = self.data_replies[-1] if self.data_replies else None
        for i, (address, rcpt) in enumerate(zip(self.addresses, self.rcpts, strict=True)):
            rr = self.rcpt_replies[i] if i < len(self.rcpt_replies) else None
            dr: Reply | None = None
            if rr is not None and rr.is_positive:
                dr = next(data_iter, None) if self.lmtp else shared
            outcomes.append(
                RecipientOutcome(
                    address=address,
                    params=rcpt.params,
                    rcpt_reply=rr,
                    data_reply=dr,
                    mail_reply=self.mail_reply,
                )
            )
        return SendResult(mail_reply=self.mail_reply, recipients=tuple(outcomes), data_reply=shared)
