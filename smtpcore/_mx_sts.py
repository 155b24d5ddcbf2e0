"""MTA-STS (RFC 8461): the TXT record, the policy file and MX matching. Sans-I/O.

``smtpcore.mx`` looks the record up, fetches the policy over HTTPS and caches it; this module
only reads the texts and answers "may I deliver to this MX host under this policy?".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ._addresses import AddressError, domain_to_ascii
from ._errors import MXError, SMTPCoreError
from ._mx_cache import TTLCache

__all__ = [
    "MAX_AGE_LIMIT",
    "MTASTSPolicy",
    "MTASTSResult",
    "STSError",
    "STSLookup",
    "Mode",
    "parse_policy",
    "policy_matches",
    "select_sts_record",
]

Mode = Literal["enforce", "testing", "none"]
MODES: tuple[Mode, ...] = ("enforce", "testing", "none")
# RFC 8461 §3.2: max_age is "plaintext non-negative integer seconds, maximum value of 31557600".
MAX_AGE_LIMIT = 31_557_600


class STSError(SMTPCoreError, ValueError):
    """An MTA-STS record or policy that cannot be used, or a policy fetch that failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MTASTSPolicy:
    """A parsed MTA-STS policy (RFC 8461 §3.2). ``mx`` holds lower-case A-label patterns."""

    id: str
    mode: Mode
    mx: tuple[str, ...]
    max_age: int

    def matches(self, host: str) -> bool:
        """Whether MX host ``host`` is allowed by this policy (RFC 8461 §4.1)."""
        return policy_matches(self.mx, host)


@dataclass(frozen=True, slots=True, kw_only=True)
class MTASTSResult:
    """The MTA-STS state of a domain.

    ``policy`` is None when the domain has no usable policy ("as though the domain has not
    implemented MTA-STS", RFC 8461 §3.3); ``reason`` then says why. ``record_id`` is the id of
    the TXT record found (None without one). ``from_cache`` tells a cached policy.
    """

    domain: str
    ascii_domain: str
    record_id: str | None
    policy: MTASTSPolicy | None
    from_cache: bool = False
    reason: str = ""


# RFC 8461 §3.1:
#   sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
#   sts-field       = sts-id / sts-extension
#   sts-field-delim = *WSP ";" *WSP
#   sts-version     = %s"v=STSv1"
#   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
#   sts-extension   = sts-ext-name "=" sts-ext-value
#   sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
#   sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
_STS_ID = re.compile(r"id=([A-Za-z0-9]{1,32})")
_STS_EXTENSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}=[\x21-\x3a\x3c\x3e-\x7e]+")
_FIELD_DELIM = re.compile(r"[ \t]*;[ \t]*")


def _record_id(record: str) -> str | None:
    # Trailing white space is forgiven (the grammar has none): refusing the record would
    # silently turn MTA-STS off for the domain.
    fields = _FIELD_DELIM.split(record.rstrip(" \t"))
    if fields[0] != "v=STSv1":
        return None
    if fields[-1] == "":  # the optional trailing delimiter
        fields.pop()
    if len(fields) < 2:
        return None
    found: str | None = None
    for text in fields[1:]:
        match = _STS_ID.fullmatch(text)
        if match:
            found = found or match.group(1)
        elif not _STS_EXTENSION.fullmatch(text):
            return None
    return found  # "sts-id record is required"


def select_sts_record(records: Sequence[str]) -> str | None:
    """The policy id from a domain's ``_mta-sts`` TXT records, or None (no MTA-STS).

    ``records`` are the TXT records with their strings already joined (RFC 8461 §3.1: "TXT
    records MAY be split into multiple strings ... concatenated"). "Records that do not begin
    with "v=STSv1;" are discarded. If the number of resulting records is not one, or if the
    resulting record is syntactically invalid, senders MUST assume the Policy Domain does not
    support MTA-STS."
    """
    candidates = [record for record in records if record.startswith("v=STSv1;")]
    if len(candidates) != 1:
        return None
    return _record_id(candidates[0])


# RFC 8461 §3.2:
#   sts-policy-record  = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP)
#                        [sts-policy-term]
#   sts-policy-term    = LF / CRLF
#   sts-policy-field-delim = ":" *WSP
#   sts-policy-version-value = %s"STSv1"
#   sts-policy-mode-value = %s"testing" / %s"enforce" / %s"none"
#   sts-policy-mx-value = ["*."] Domain
#   sts-policy-max-age-value = 1*10(DIGIT)
#   sts-policy-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
_POLICY_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,31}):[ \t]*(.*?)[ \t]*")
_MAX_AGE = re.compile(r"[0-9]{1,10}")


def _mx_pattern(value: str) -> str:
    wildcard = value.startswith("*.")
    name = value[2:] if wildcard else value
    if not name or "*" in name:
        raise STSError(f"invalid mx pattern {value!r}")
    try:
        ascii_name = domain_to_ascii(name)
    except AddressError as exc:
        raise STSError(f"invalid mx pattern {value!r}: {exc.message}") from None
    return f"*.{ascii_name}" if wildcard else ascii_name


def parse_policy(text: str, *, policy_id: str = "") -> MTASTSPolicy:
    """Parse an MTA-STS policy file (RFC 8461 §3.2); :class:`STSError` if it is invalid.

    Lines end in LF or CRLF. Unknown fields are ignored; of a repeated field other than "mx"
    the first is used. ``version: STSv1``, ``mode`` and ``max_age`` are required, and at least
    one ``mx`` unless the mode is "none". A ``max_age`` above 31557600 is capped to it.
    """
    fields: dict[str, str] = {}
    mx: list[str] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the optional final sts-policy-term
    for raw in lines:
        line = raw[:-1] if raw.endswith("\r") else raw
        match = _POLICY_LINE.fullmatch(line)
        if match is None:
            raise STSError(f"invalid policy line {line!r}")
        key, value = match.groups()
        if key == "mx":
            mx.append(_mx_pattern(value))
        else:
            fields.setdefault(key, value)
    if fields.get("version") != "STSv1":
        raise STSError("policy version is not STSv1")
    mode = fields.get("mode")
    if mode not in MODES:
        raise STSError(f"policy mode {mode!r} is not enforce, testing or none")
    max_age_text = fields.get("max_age", "")
    if not _MAX_AGE.fullmatch(max_age_text):
        raise STSError(f"policy max_age {max_age_text!r} is not 1 to 10 digits")
    if not mx and mode != "none":
        raise STSError(f"policy mode {mode} without any mx pattern")
    return MTASTSPolicy(
        id=policy_id,
        mode=mode,
        mx=tuple(mx),
        max_age=min(int(max_age_text), MAX_AGE_LIMIT),
    )


def policy_matches(patterns: Sequence[str], host: str) -> bool:
    """Whether MX host ``host`` matches one of the policy's ``mx`` patterns (RFC 8461 §4.1).

    Names are compared in A-label form, case-insensitively. A pattern ``*.example.com`` stands
    for exactly one more label on the left: it matches ``mx1.example.com``, but neither
    ``example.com`` nor ``a.b.example.com``.
    """
    try:
        name = domain_to_ascii(host)
    except AddressError:
        return False
    for pattern in patterns:
        if pattern.startswith("*."):
            first, _, rest = name.partition(".")
            if first and rest == pattern[2:]:
                return True
        elif name == pattern:
            return True
    return False


class STSLookup:
    """The MTA-STS decisions of RFC 8461 §3.3 and §5.1, between the TXT lookup and the fetch.

    The driver calls :meth:`after_txt` with the joined TXT records (None when the lookup
    failed); when that returns None it fetches the policy and calls :meth:`after_fetch` with
    its text (None when the fetch failed).
    """

    def __init__(self, domain: str, cache: TTLCache[str, MTASTSPolicy] | None) -> None:
        try:
            self.ascii_domain = domain_to_ascii(domain)
        except AddressError as exc:
            raise MXError(domain, "permanent", exc.message) from None
        self.domain = domain
        self.cache = cache
        hit = cache.get(self.ascii_domain) if cache is not None else None
        self.cached = hit[0] if hit is not None else None
        self.record_id: str | None = None

    @property
    def txt_name(self) -> str:
        return f"_mta-sts.{self.ascii_domain}."

    def result(
        self, policy: MTASTSPolicy | None, reason: str = "", cached: bool = False
    ) -> MTASTSResult:
        return MTASTSResult(
            domain=self.domain,
            ascii_domain=self.ascii_domain,
            record_id=self.record_id,
            policy=policy,
            from_cache=cached,
            reason=reason,
        )

    def fallback(self, reason: str) -> MTASTSResult:
        # RFC 8461 §3.3/§5.1: without a fresh record or policy, a cached (non-expired) policy
        # is used; without one, delivery goes on as though there were no MTA-STS.
        if self.cached is not None:
            return self.result(self.cached, reason, cached=True)
        return self.result(None, reason)

    def after_txt(self, records: list[str] | None, error: str = "") -> MTASTSResult | None:
        """The result when no fetch is needed, or None to fetch the policy."""
        if records is None:
            return self.fallback(f"TXT lookup failed: {error}")
        self.record_id = select_sts_record(records)
        if self.record_id is None:
            return self.fallback("no valid v=STSv1 TXT record")
        if self.cached is not None and self.cached.id == self.record_id:
            return self.result(self.cached, cached=True)  # RFC 8461 §3.3: same id, no refetch
        return None

    def after_fetch(self, text: str | None, error: str = "") -> MTASTSResult:
        if text is None:
            return self.fallback(error)
        assert self.record_id is not None
        try:
            policy = parse_policy(text, policy_id=self.record_id)
        except STSError as exc:
            return self.fallback(exc.args[0])
        if self.cache is not None:
            # RFC 8461 §5.1: the policy is cached for max_age seconds.
            self.cache.put(self.ascii_domain, policy, policy.max_age)
        return self.result(policy)
