"""SASL mechanisms (smtpcore.sasl), tested from the RFC texts: RFC 4954 (SMTP AUTH), RFC 4616
(PLAIN), draft-murchison-sasl-login (LOGIN), RFC 2195 (CRAM-MD5), RFC 5802 and RFC 7677
(SCRAM-SHA-256), and Google's XOAUTH2 description."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore import SASLError, sasl
from smtpcore._status import (
    AUTH_BAD_BASE64,
    AUTH_CANCELLED,
    AUTH_FAILED,
    AUTH_TOO_LONG,
)
from smtpcore.sasl import Challenge, Failure, Success

STORE = sasl.DictCredentials({"tim": "tanstaaftanstaaf", "Kurt": "xipj3plmq", "test": "1234"})


def run_exchange(
    client: sasl.ClientMechanism,
    server: sasl.ServerMechanism,
    *,
    use_initial: bool = True,
) -> tuple[sasl.StepResult, list[bytes]]:
    """Drive a client and a server through the AUTH exchange as an adapter would, with every
    message going through the wire codec. Returns the outcome and the lines the client sent."""
    lines: list[bytes] = []
    initial = client.initial_response() if use_initial else None
    if initial is not None:
        line = sasl.encode_response(initial, initial=True)
        lines.append(line)
        result = server.step(sasl.decode_response(line))
    else:
        result = server.step(None)
    for _ in range(10):  # no mechanism here needs more than 4 round trips
        if not isinstance(result, Challenge):
            break
        challenge = sasl.decode_challenge(sasl.encode_challenge(result.data))
        line = sasl.encode_response(client.respond(challenge))
        lines.append(line)
        result = server.step(sasl.decode_response(line))
    else:
        raise AssertionError("the exchange did not finish")
    if isinstance(result, Success):
        client.verify_success(result.final_data)
    return result, lines


# ---------------------------------------------------------------------------------------------
# Wire helpers (RFC 4954 §4)


def test_decode_response_rfc4954_plain_example() -> None:
    # RFC 4954 §4.1: "C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ="
    assert sasl.decode_response(b"dGVzdAB0ZXN0ADEyMzQ=") == b"test\x00test\x001234"
    assert sasl.decode_response("dGVzdAB0ZXN0ADEyMzQ=\r\n") == b"test\x00test\x001234"


def test_equals_sign_is_an_empty_initial_response() -> None:
    # RFC 4954 §4: a zero-length initial response "MUST instead transmit ... a single '='".
    assert sasl.decode_response(b"=") == b""
    assert sasl.encode_response(b"", initial=True) == b"="
    assert sasl.encode_response(b"") == b""
    assert sasl.decode_response(b"") == b""


def test_star_cancels() -> None:
    # RFC 4954 §4: "*" cancels; the server "MUST reject the AUTH command by sending a 501".
    with pytest.raises(SASLError) as info:
        sasl.decode_response(b"*\r\n")
    assert info.value.reply_hint == AUTH_CANCELLED
    assert (info.value.reply_hint.code, str(info.value.reply_hint.enhanced)) == (501, "5.0.0")


@pytest.mark.parametrize(
    "line",
    [b"=AAA", b"AAA=BBB", b"dGVzdA=", b"dGV zdA==", b"dGVzd!==", b"dGVzdA", "d\u00e9Vz", b"**"],
)
def test_bad_base64_is_rejected(line: bytes | str) -> None:
    # RFC 4954 §4: reject characters outside the alphabet and "=" anywhere but at the end;
    # the server answers "501 reply (and an enhanced status code of 5.5.2)".
    with pytest.raises(SASLError) as info:
        sasl.decode_response(line)
    assert info.value.reply_hint == AUTH_BAD_BASE64
    assert (info.value.reply_hint.code, str(info.value.reply_hint.enhanced)) == (501, "5.5.2")
    with pytest.raises(SASLError):
        sasl.decode_challenge(line)


def test_line_limit() -> None:
    # RFC 4954 §4: 12288 octets; a longer line fails with "500 reply ... 5.5.6".
    ok = base64.b64encode(b"x" * 9216)  # exactly 12288 octets of base64
    assert len(ok) == 12288
    assert sasl.decode_response(ok) == b"x" * 9216
    with pytest.raises(SASLError) as info:
        sasl.decode_response(ok + b"AAAA")
    assert info.value.reply_hint == AUTH_TOO_LONG
    assert (info.value.reply_hint.code, str(info.value.reply_hint.enhanced)) == (500, "5.5.6")
    with pytest.raises(SASLError):
        sasl.decode_response(b"AAAA" * 3, limit=8)


def test_encode_challenge_is_one_line() -> None:
    data = bytes(range(256)) * 4
    text = sasl.encode_challenge(data)
    assert b"\n" not in text and b"\r" not in text
    assert sasl.decode_challenge(text) == data
    # RFC 4954 §4: "a server challenge that contains no data is ... '334 '".
    assert sasl.encode_challenge(b"") == b""
    assert sasl.decode_challenge(b"") == b""


@given(st.binary(max_size=300))
@settings(max_examples=100, deadline=None)
def test_wire_round_trip(data: bytes) -> None:
    assert sasl.decode_response(sasl.encode_response(data, initial=True)) == data
    assert sasl.decode_challenge(sasl.encode_challenge(data)) == data


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        (b"AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n", b"AUTH PLAIN ***\r\n"),
        (b"auth login dGlt\r\n", b"auth login ***\r\n"),
        (b"AUTH CRAM-MD5\r\n", b"AUTH CRAM-MD5\r\n"),
        (b"AUTH LOGIN", b"AUTH LOGIN"),
        # No mechanism name, only something that might be a secret: mask it all.
        (b"AUTH dGVzdAB0ZXN0ADEyMzQ=\r\n", b"AUTH ***\r\n"),
        (b"MAIL FROM:<a@example.com>\r\n", b"MAIL FROM:<a@example.com>\r\n"),
        (b"AUTHX foo\r\n", b"AUTHX foo\r\n"),
    ],
)
def test_mask_auth_line(line: bytes, masked: bytes) -> None:
    assert sasl.mask_auth_line(line) == masked


def test_mask_continuation_lines() -> None:
    assert sasl.mask_auth_line(b"dGltIGI5MTNhNjAy\r\n", continuation=True) == b"***\r\n"
    assert sasl.mask_auth_line(b"", continuation=True) == b"***"
    assert sasl.mask_auth_line(b"*\r\n", continuation=True) == b"*\r\n"


@given(st.binary(min_size=1, max_size=60), st.sampled_from(["PLAIN", "login", "XOAUTH2"]))
@settings(max_examples=100, deadline=None)
def test_masked_auth_line_never_contains_the_secret(secret: bytes, mech: str) -> None:
    encoded = base64.b64encode(secret)
    line = b"AUTH " + mech.encode() + b" " + encoded + b"\r\n"
    assert encoded not in sasl.mask_auth_line(line)
    assert encoded not in sasl.mask_auth_line(encoded + b"\r\n", continuation=True)


# ---------------------------------------------------------------------------------------------
# PLAIN (RFC 4616)


def test_plain_rfc4616_examples() -> None:
    # RFC 4616 §4: "\0tim\0tanstaaftanstaaf" and Kurt acting as Ursel.
    assert sasl.Plain("tim", "tanstaaftanstaaf").initial_response() == (
        base64.b64decode("AHRpbQB0YW5zdGFhZnRhbnN0YWFm")
    )
    assert sasl.Plain("Kurt", "xipj3plmq", "Ursel").initial_response() == (
        base64.b64decode("VXJzZWwAS3VydAB4aXBqM3BsbXE=")
    )


def test_plain_rfc4954_example() -> None:
    # RFC 4954 §4.1: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ= (authzid "test", authcid "test").
    client = sasl.Plain("test", "1234", "test")
    assert sasl.encode_response(client.initial_response(), initial=True) == (
        b"dGVzdAB0ZXN0ADEyMzQ="
    )
    result = sasl.PlainServer(STORE).step(sasl.decode_response(b"dGVzdAB0ZXN0ADEyMzQ="))
    assert result == Success(authcid="test", authzid="test")


def test_plain_without_initial_response() -> None:
    # RFC 4954 §4.1 second example: "AUTH PLAIN", "334 ", then the message.
    client = sasl.Plain("tim", "tanstaaftanstaaf")
    server = sasl.PlainServer(STORE)
    assert server.step(None) == Challenge(data=b"")
    result, lines = run_exchange(client, sasl.PlainServer(STORE), use_initial=False)
    assert result == Success(authcid="tim", authzid="")
    assert lines == [b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm"]
    assert client.done


def test_plain_wrong_password_and_unknown_user_look_the_same() -> None:
    wrong = sasl.PlainServer(STORE).step(b"\x00tim\x00nope")
    unknown = sasl.PlainServer(STORE).step(b"\x00nobody\x00tanstaaftanstaaf")
    assert isinstance(wrong, Failure) and isinstance(unknown, Failure)
    assert wrong.hint == unknown.hint == AUTH_FAILED
    assert (AUTH_FAILED.code, str(AUTH_FAILED.enhanced)) == (535, "5.7.8")


@pytest.mark.parametrize(
    "message",
    [b"tim\x00tanstaaftanstaaf", b"\x00\x00tanstaaftanstaaf", b"\x00tim\x00", b"a\x00b\x00c\x00d"],
)
def test_plain_malformed(message: bytes) -> None:
    # RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd; authcid and passwd
    # are 1*SAFE.
    result = sasl.PlainServer(STORE).step(message)
    assert isinstance(result, Failure)
    assert result.hint.code == 501


def test_plain_authzid_needs_permission() -> None:
    result = sasl.PlainServer(STORE).step(b"Ursel\x00Kurt\x00xipj3plmq")
    assert isinstance(result, Failure) and result.hint == AUTH_FAILED

    class Policy(sasl.DictCredentials):
        def authorize(self, authcid: str, authzid: str) -> bool:
            return (authcid, authzid) == ("Kurt", "Ursel")

    store = Policy({"Kurt": "xipj3plmq"})
    ok = sasl.PlainServer(store).step(b"Ursel\x00Kurt\x00xipj3plmq")
    assert ok == Success(authcid="Kurt", authzid="Ursel")


def test_plain_client_rejects_nul_and_extra_challenges() -> None:
    with pytest.raises(SASLError):
        sasl.Plain("ti\x00m", "x")
    with pytest.raises(SASLError):
        sasl.Plain("tim", "")
    client = sasl.Plain("tim", "x")
    client.initial_response()
    with pytest.raises(SASLError):
        client.respond(b"something")
    client.respond(b"")  # the server asks again once: answer once
    with pytest.raises(SASLError):
        client.respond(b"")


def test_plain_client_refuses_data_with_success() -> None:
    client = sasl.Plain("tim", "x")
    client.initial_response()
    client.verify_success(None)
    with pytest.raises(SASLError):
        client.verify_success(b"v=xyz")


# ---------------------------------------------------------------------------------------------
# LOGIN (draft-murchison-sasl-login)


def test_login_draft_exchange() -> None:
    # draft-murchison-sasl-login §2: "S: 334 VXNlcm5hbWU6" ... "S: 334 UGFzc3dvcmQ6".
    server = sasl.LoginServer(STORE)
    first = server.step(None)
    assert isinstance(first, Challenge)
    assert sasl.encode_challenge(first.data) == b"VXNlcm5hbWU6"
    client = sasl.Login("tim", "tanstaaftanstaaf")
    assert client.initial_response() is None
    second = server.step(client.respond(first.data))
    assert isinstance(second, Challenge)
    assert sasl.encode_challenge(second.data) == b"UGFzc3dvcmQ6"
    assert not client.done
    assert server.step(client.respond(second.data)) == Success(authcid="tim", authzid="")
    assert client.done
    with pytest.raises(SASLError):
        client.respond(b"Username:")


def test_login_server_takes_username_as_initial_response() -> None:
    server = sasl.LoginServer(STORE)
    assert server.step(b"tim") == Challenge(data=b"Password:")
    assert server.step(b"tanstaaftanstaaf") == Success(authcid="tim", authzid="")


def test_login_wrong_password() -> None:
    result, _ = run_exchange(sasl.Login("tim", "wrong"), sasl.LoginServer(STORE))
    assert isinstance(result, Failure) and result.hint == AUTH_FAILED


def test_server_step_after_the_end_raises() -> None:
    server = sasl.LoginServer(STORE)
    server.step(b"tim")
    server.step(b"tanstaaftanstaaf")
    assert server.done
    with pytest.raises(SASLError):
        server.step(b"again")
    fresh = sasl.LoginServer(STORE)
    fresh.step(None)
    with pytest.raises(SASLError):
        fresh.step(None)


# ---------------------------------------------------------------------------------------------
# CRAM-MD5 (RFC 2195)

RFC2195_CHALLENGE = b"<1896.697170952@postoffice.reston.mci.net>"


def test_cram_md5_rfc2195_example() -> None:
    # RFC 2195 §2: shared secret "tanstaaftanstaaf"; the base64 lines are the RFC's.
    assert base64.b64encode(RFC2195_CHALLENGE) == (
        b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
    )
    client = sasl.CramMD5("tim", "tanstaaftanstaaf")
    assert client.initial_response() is None
    response = client.respond(
        sasl.decode_challenge(b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
    )
    assert response == b"tim b913a602c7eda7a495b4e6e7334d3890"
    assert sasl.encode_response(response) == b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"


def test_cram_md5_server_rfc2195_example() -> None:
    server = sasl.CramMD5Server(STORE, RFC2195_CHALLENGE)
    assert server.step(None) == Challenge(data=RFC2195_CHALLENGE)
    line = b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    assert server.step(sasl.decode_response(line)) == Success(authcid="tim", authzid="")


def test_cram_md5_failures() -> None:
    wrong = sasl.CramMD5Server(STORE, RFC2195_CHALLENGE)
    wrong.step(None)
    result = wrong.step(b"tim 00000000000000000000000000000000")
    assert isinstance(result, Failure) and result.hint == AUTH_FAILED
    unknown = sasl.CramMD5Server(STORE, RFC2195_CHALLENGE)
    unknown.step(None)
    digest = sasl.CramMD5("x", "").respond(RFC2195_CHALLENGE).split()[1]  # digest of ""
    result = unknown.step(b"nobody " + digest)
    assert isinstance(result, Failure) and result.hint == AUTH_FAILED
    malformed = sasl.CramMD5Server(STORE, RFC2195_CHALLENGE)
    malformed.step(None)
    result = malformed.step(b"tim")
    assert isinstance(result, Failure) and result.hint.code == 501


def test_cram_md5_initial_response_is_refused() -> None:
    # RFC 4954 §4: an initial response for a mechanism where the client does not begin gets
    # "a 501 reply ... enhanced status code of 5.7.0".
    result = sasl.CramMD5Server(STORE, RFC2195_CHALLENGE).step(b"tim")
    assert isinstance(result, Failure)
    assert (result.hint.code, str(result.hint.enhanced)) == (501, "5.7.0")


def test_cram_md5_username_with_space() -> None:
    store = sasl.DictCredentials({"tim smith": "secret"})
    client = sasl.CramMD5("tim smith", "secret")
    result, _ = run_exchange(client, sasl.CramMD5Server(store, RFC2195_CHALLENGE))
    assert result == Success(authcid="tim smith", authzid="")


def test_cram_md5_client_needs_a_challenge() -> None:
    with pytest.raises(SASLError):
        sasl.CramMD5("tim", "x").respond(b"")
    with pytest.raises(SASLError):
        sasl.CramMD5Server(STORE, b"")
