"""DANE for SMTP: TLSA records and matching a peer certificate against them. Sans-I/O.

RFC 6698 defines the TLSA record, RFC 7671 its operational rules and RFC 7672 its use for
SMTP. This module holds the values and the matching; ``smtpcore.mx`` does the lookups.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ._errors import SMTPCoreError

__all__ = [
    "CertificateFormatError",
    "TLSARecord",
    "TLSAResult",
    "check_tlsa",
    "subject_public_key_info",
]

# RFC 6698 §2.1.1 certificate usages, §2.1.2 selectors, §2.1.3 matching types.
PKIX_TA, PKIX_EE, DANE_TA, DANE_EE = 0, 1, 2, 3
SELECTOR_CERT, SELECTOR_SPKI = 0, 1
MATCH_FULL, MATCH_SHA256, MATCH_SHA512 = 0, 1, 2


class CertificateFormatError(SMTPCoreError, ValueError):
    """A certificate that is not the DER encoding of an X.509 certificate."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSARecord:
    """One TLSA record (RFC 6698 §2.1): usage, selector, matching type and the data."""

    usage: int
    selector: int
    mtype: int
    data: bytes

    @property
    def usable(self) -> bool:
        """Whether an SMTP client may use this record (RFC 7672 §3.1.3).

        Only DANE-TA(2) and DANE-EE(3) apply to SMTP; PKIX-TA(0) and PKIX-EE(1) records, and
        selectors or matching types outside RFC 6698, are unusable and ignored.
        """
        return (
            self.usage in (DANE_TA, DANE_EE)
            and self.selector in (SELECTOR_CERT, SELECTOR_SPKI)
            and self.mtype in (MATCH_FULL, MATCH_SHA256, MATCH_SHA512)
        )

    def __str__(self) -> str:
        return f"{self.usage} {self.selector} {self.mtype} {self.data.hex()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSAResult:
    """The TLSA lookup of one SMTP server (``_25._tcp.host``).

    ``secure`` is true when the validating resolver vouched for the answer (the AD bit).
    An insecure answer means "no DANE" (RFC 7672 §2.1.1): its records are not kept.
    ``records`` is empty when there are none, or none that could be trusted.
    """

    name: str
    records: tuple[TLSARecord, ...]
    secure: bool
    ttl: int = 0

    @property
    def usable_records(self) -> tuple[TLSARecord, ...]:
        return tuple(record for record in self.records if record.usable)

    @property
    def dane(self) -> bool:
        """True when DANE applies: a secure, non-empty TLSA RRset (RFC 7672 §2.2).

        With no usable record in it, TLS is still mandatory but cannot be authenticated.
        """
        return self.secure and bool(self.records)


# -- a little DER, enough to find the SubjectPublicKeyInfo -----------------------------------


def _tlv(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``pos`` (X.690 §8.1)."""
    if pos + 2 > len(der):
        raise CertificateFormatError("truncated DER element")
    tag = der[pos]
    if tag & 0x1F == 0x1F:
        raise CertificateFormatError("multi-byte DER tags are not used in certificates")
    first = der[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(der):
            raise CertificateFormatError("bad DER length")
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(der):
        raise CertificateFormatError("DER element runs past the end")
    return tag, pos, end


def subject_public_key_info(cert_der: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 §4.1).

    Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    TBSCertificate ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, serialNumber, signature,
                                  issuer, validity, subject, subjectPublicKeyInfo, ... }
    """
    tag, start, end = _tlv(cert_der, 0)
    if tag != 0x30 or end != len(cert_der):
        raise CertificateFormatError("a certificate is one DER SEQUENCE")
    tag, pos, tbs_end = _tlv(cert_der, start)
    if tag != 0x30:
        raise CertificateFormatError("tbsCertificate is not a SEQUENCE")
    tag, _, end = _tlv(cert_der, pos)
    if tag == 0xA0:  # [0] EXPLICIT version
        pos = end
    # serialNumber, signature, issuer, validity, subject
    for expected in (0x02, 0x30, 0x30, 0x30, 0x30):
        tag, _, end = _tlv(cert_der, pos)
        if tag != expected or end > tbs_end:
            raise CertificateFormatError("unexpected element in tbsCertificate")
        pos = end
    tag, _, end = _tlv(cert_der, pos)
    if tag != 0x30 or end > tbs_end:
        raise CertificateFormatError("subjectPublicKeyInfo is not a SEQUENCE")
    return cert_der[pos:end]


def _matches(record: TLSARecord, cert_der: bytes) -> bool:
    # RFC 6698 §2.1.2: selector 0 is the full certificate, 1 the SubjectPublicKeyInfo.
    selected = cert_der if record.selector == SELECTOR_CERT else subject_public_key_info(cert_der)
    # RFC 6698 §2.1.3: matching type 0 is exact, 1 SHA-256, 2 SHA-512.
    if record.mtype == MATCH_SHA256:
        selected = hashlib.sha256(selected).digest()
    elif record.mtype == MATCH_SHA512:
        selected = hashlib.sha512(selected).digest()
    return selected == record.data


def check_tlsa(
    cert_der: bytes, chain_der: Sequence[bytes] | None, records: Iterable[TLSARecord]
) -> bool:
    """Whether the peer's certificate satisfies one of the usable TLSA ``records``.

    ``cert_der`` is the server's (leaf) certificate. DANE-EE(3) records match it directly,
    with no name or date checks (RFC 7672 §3.1.1). DANE-TA(2) records match a certificate
    of ``chain_der``, the chain the peer presented *after* the caller has verified it up to
    that certificate and checked the name (RFC 7672 §3.1.2); without a chain they cannot match.
    Unusable records (PKIX-TA/PKIX-EE, unknown parameters) never match.
    """
    if not cert_der:
        raise CertificateFormatError("empty certificate")
    issuers: list[bytes] = []
    if chain_der:
        issuers = [der for der in chain_der if der != cert_der]
    for record in records:
        if not record.usable:
            continue
        if record.usage == DANE_EE and _matches(record, cert_der):
            return True
        if record.usage == DANE_TA and any(_matches(record, der) for der in issuers):
            return True
    return False
