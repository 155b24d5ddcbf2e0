"""DANE TLSA matching (RFC 6698 §2.1, RFC 7672 §3.1) against real certificates from trustme."""

from __future__ import annotations

import hashlib

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings, strategies as st

from smtpcore._mx_dane import (
    CertificateFormatError,
    TLSARecord,
    TLSAResult,
    check_tlsa,
    subject_public_key_info,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def chain(ca: trustme.CA) -> list[bytes]:
    """[leaf, intermediate..., root] as DER."""
    intermediate = ca.create_child_ca()
    leaf = intermediate.issue_cert("mx.example.test")
    pems = [blob.bytes() for blob in leaf.cert_chain_pems] + [ca.cert_pem.bytes()]
    return [x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER) for pem in pems]


def spki_oracle(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo as the cryptography package extracts it."""
    cert = x509.load_der_x509_certificate(der)
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def record(usage: int, selector: int, mtype: int, data: bytes) -> TLSARecord:
    return TLSARecord(usage=usage, selector=selector, mtype=mtype, data=data)


def digest(mtype: int, data: bytes) -> bytes:
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


def test_spki_extraction_agrees_with_cryptography(chain: list[bytes]) -> None:
    for der in chain:
        assert subject_public_key_info(der) == spki_oracle(der)


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_dane_ee_matches_the_leaf(chain: list[bytes], selector: int, mtype: int) -> None:
    # RFC 6698 §2.1: selector 0 full certificate, 1 SPKI; matching 0 exact, 1 SHA-256, 2 SHA-512
    leaf = chain[0]
    selected = leaf if selector == 0 else spki_oracle(leaf)
    good = record(3, selector, mtype, digest(mtype, selected))
    assert check_tlsa(leaf, None, [good])
    bad = record(3, selector, mtype, digest(mtype, selected + b"x"))
    assert not check_tlsa(leaf, None, [bad])
    # DANE-EE is about the leaf only: an issuer's data does not match it
    issuer = chain[1] if selector == 0 else spki_oracle(chain[1])
    assert not check_tlsa(leaf, chain, [record(3, selector, mtype, digest(mtype, issuer))])


def test_dane_ta_needs_the_chain(chain: list[bytes]) -> None:
    leaf, intermediate, root = chain
    for ta in (intermediate, root):
        rec = record(2, 1, 1, hashlib.sha256(spki_oracle(ta)).digest())
        assert check_tlsa(leaf, chain, [rec])
        assert not check_tlsa(leaf, None, [rec])  # no verified chain, no DANE-TA
    full = record(2, 0, 2, hashlib.sha512(root).digest())
    assert check_tlsa(leaf, chain, [full])
    # the leaf itself is no trust anchor
    assert not check_tlsa(leaf, chain, [record(2, 0, 1, hashlib.sha256(leaf).digest())])


def test_pkix_usages_and_unknown_parameters_are_unusable(chain: list[bytes]) -> None:
    # RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are not used by SMTP clients
    leaf = chain[0]
    data = hashlib.sha256(spki_oracle(leaf)).digest()
    unusable = [
        record(1, 1, 1, data),
        record(0, 1, 1, data),
        record(3, 2, 1, data),
        record(3, 1, 3, data),
    ]
    assert not any(r.usable for r in unusable)
    assert not check_tlsa(leaf, chain, unusable)
    assert check_tlsa(leaf, chain, [*unusable, record(3, 1, 1, data)])


def test_result_flags() -> None:
    usable = record(3, 1, 1, b"\x00" * 32)
    pkix = record(1, 1, 1, b"\x00" * 32)
    assert TLSAResult(name="_25._tcp.a", records=(usable, pkix), secure=True).usable_records == (
        usable,
    )
    assert TLSAResult(name="_25._tcp.a", records=(pkix,), secure=True).dane  # TLS still mandatory
    assert not TLSAResult(name="_25._tcp.a", records=(), secure=True).dane
    assert not TLSAResult(name="_25._tcp.a", records=(), secure=False).dane
    assert str(usable) == "3 1 1 " + "00" * 32


@pytest.mark.parametrize(
    "der",
    [b"\x30", b"\x30\x03\x02\x01", b"\x04\x00", b"\x30\x00", b"\x30\x82\xff\xff" + b"\x00" * 4],
)
def test_garbage_certificates_raise_a_typed_error(der: bytes) -> None:
    with pytest.raises(CertificateFormatError):
        subject_public_key_info(der)
    with pytest.raises(CertificateFormatError):
        check_tlsa(der, None, [record(3, 1, 1, b"\x00" * 32)])


def test_empty_certificate_is_refused() -> None:
    with pytest.raises(CertificateFormatError):
        check_tlsa(b"", None, [])


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_give_spki_or_a_typed_error(data: bytes) -> None:
    try:
        spki = subject_public_key_info(data)
    except CertificateFormatError:
        return
    assert spki in data


def test_truncations_of_a_real_certificate(chain: list[bytes]) -> None:
    leaf = chain[0]
    for cut in range(0, len(leaf), 7):
        with pytest.raises(CertificateFormatError):
            subject_public_key_info(leaf[:cut])
