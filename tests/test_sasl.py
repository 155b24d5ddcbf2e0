"""SASL mechanisms (smtpcore.sasl), tested from the RFC texts: RFC 4954 (SMTP AUTH), RFC 4616
(PLAIN), draft-murchison-sasl-login (LOGIN), RFC 2195 (CRAM-MD5), RFC 5802 and RFC 7677
(SCRAM-SHA-256), and Google's XOAUTH2 description."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore import SASLError, sasl
from smtpcore._status import (
    AUTH_BAD_BASE64,
    AUTH_CANCELLED,
    AUTH_FAILED,
    AUTH_MECH_UNKNOWN,
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


# ---------------------------------------------------------------------------------------------
# SASLprep (RFC 4013 §3 examples)


@pytest.mark.parametrize(
    ("given_text", "prepared"),
    [
        ("I\u00adX", "IX"),  # SOFT HYPHEN mapped to nothing
        ("user", "user"),
        ("USER", "USER"),  # case preserved
        ("\u00aa", "a"),  # NFKC
        ("\u2168", "IX"),  # NFKC
    ],
)
def test_saslprep_rfc4013_examples(given_text: str, prepared: str) -> None:
    assert sasl.saslprep(given_text) == prepared


@pytest.mark.parametrize("bad", ["\u0007", "\u0627\u0031"])  # prohibited; bidi check
def test_saslprep_rfc4013_errors(bad: str) -> None:
    with pytest.raises(SASLError):
        sasl.saslprep(bad)


def test_saslprep_unassigned_only_in_queries() -> None:
    unassigned = "\u0221"  # unassigned in Unicode 3.2 (RFC 3454 table A.1)
    assert sasl.saslprep(unassigned, allow_unassigned=True) == unassigned
    with pytest.raises(SASLError):
        sasl.saslprep(unassigned)


# ---------------------------------------------------------------------------------------------
# SCRAM-SHA-256 (RFC 5802, RFC 7677)

C_NONCE = "rOprNGfwEbeRWgbNEkqO"
S_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
# RFC 7677 §3, line by line.
CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


class ScramStore(sasl.DictCredentials):
    """A store that keeps SCRAM keys, not passwords (RFC 5802 §3)."""

    def __init__(self, users: dict[str, sasl.ScramCredentials]) -> None:
        super().__init__({})
        self.users = users

    def scram_credentials(self, username: str) -> sasl.ScramCredentials | None:
        return self.users.get(username)


RFC7677_STORE = ScramStore({"user": sasl.scram_credentials_from_password("pencil", SALT, 4096)})


def test_scram_client_rfc7677_example() -> None:
    client = sasl.ScramSHA256("user", "pencil", C_NONCE)
    assert client.initial_response() == CLIENT_FIRST
    assert client.respond(SERVER_FIRST) == CLIENT_FINAL
    assert not client.done
    assert client.respond(SERVER_FINAL) == b""  # the empty response to the last 334
    assert client.done
    client.verify_success(None)


def test_scram_client_rfc7677_with_server_final_in_success() -> None:
    client = sasl.ScramSHA256("user", "pencil", C_NONCE)
    client.initial_response()
    client.respond(SERVER_FIRST)
    client.verify_success(SERVER_FINAL)
    assert client.done


def test_scram_server_rfc7677_example() -> None:
    server = sasl.ScramSHA256Server(RFC7677_STORE, S_NONCE)
    assert server.step(CLIENT_FIRST) == Challenge(data=SERVER_FIRST)
    assert server.step(CLIENT_FINAL) == Challenge(data=SERVER_FINAL)
    assert server.step(b"") == Success(authcid="user", authzid="", final_data=None)


def test_scram_server_final_in_success_option() -> None:
    server = sasl.ScramSHA256Server(RFC7677_STORE, S_NONCE, final_in_success=True)
    server.step(CLIENT_FIRST)
    assert server.step(CLIENT_FINAL) == Success(authcid="user", authzid="", final_data=SERVER_FINAL)


def test_scram_client_rejects_tampered_server_signature() -> None:
    client = sasl.ScramSHA256("user", "pencil", C_NONCE)
    client.initial_response()
    client.respond(SERVER_FIRST)
    tampered = b"v=" + base64.b64encode(bytes(32))
    with pytest.raises(SASLError, match="signature"):
        client.respond(tampered)
    assert not client.done
    with pytest.raises(SASLError):
        client.verify_success(None)


def test_scram_client_needs_the_server_proof() -> None:
    # RFC 5802 §5: the client authenticates the server; a 235 without it is not enough.
    client = sasl.ScramSHA256("user", "pencil", C_NONCE)
    client.initial_response()
    client.respond(SERVER_FIRST)
    with pytest.raises(SASLError, match="never proved"):
        client.verify_success(None)


def test_scram_client_reports_server_error() -> None:
    client = sasl.ScramSHA256("user", "pencil", C_NONCE)
    client.initial_response()
    client.respond(SERVER_FIRST)
    with pytest.raises(SASLError, match="invalid-proof"):
        client.respond(b"e=invalid-proof")


@pytest.mark.parametrize(
    ("server_first", "message"),
    [
        # RFC 7677 §4: the iteration count "SHOULD be at least 4096".
        (SERVER_FIRST.replace(b"i=4096", b"i=4095"), "below the minimum"),
        (SERVER_FIRST.replace(b"i=4096", b"i=99999999"), "above the maximum"),
        (SERVER_FIRST.replace(b"i=4096", b"i=0"), "iteration count"),
        (SERVER_FIRST.replace(b"i=4096", b"i=04096"), "iteration count"),
        # RFC 5802 §5.1: the nonce must start with the client's nonce.
        (SERVER_FIRST.replace(b"r=rOpr", b"r=XOpr"), "nonce"),
        (b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce"),
        # RFC 5802 §5.1 "m": a mandatory extension the client does not know.
        (b"m=ext," + SERVER_FIRST, "extension"),
        (SERVER_FIRST.replace(b"s=W22Z", b"s=!22Z"), "base64"),
        (b"garbage", "malformed"),
        (SERVER_FIRST.replace(b",s=", b",x="), "s="),
    ],
)
def test_scram_client_rejects_bad_server_first(server_first: bytes, message: str) -> None:
    client = sasl.ScramSHA256("user", "pencil", C_NONCE)
    client.initial_response()
    with pytest.raises(SASLError, match=message):
        client.respond(server_first)


def test_scram_client_iteration_floor_is_configurable() -> None:
    client = sasl.ScramSHA256("user", "pencil", C_NONCE, min_iterations=1)
    client.initial_response()
    assert client.respond(SERVER_FIRST.replace(b"i=4096", b"i=4095")).startswith(b"c=biws,")


def test_scram_client_first_without_initial_response() -> None:
    # RFC 4422 §5 (2a): without an initial response the server sends an empty challenge.
    client = sasl.ScramSHA256("user", "pencil", C_NONCE)
    assert client.respond(b"") == CLIENT_FIRST
    assert client.respond(SERVER_FIRST) == CLIENT_FINAL


def test_scram_client_checks_its_inputs() -> None:
    with pytest.raises(SASLError):
        sasl.ScramSHA256("user", "pencil", "has,comma")
    with pytest.raises(SASLError):
        sasl.ScramSHA256("user", "pencil", "")
    with pytest.raises(SASLError):
        sasl.ScramSHA256("", "pencil", C_NONCE)
    with pytest.raises(SASLError):
        sasl.ScramSHA256("user", "bell\u0007", C_NONCE)  # SASLprep prohibits controls
    with pytest.raises(SASLError):
        sasl.ScramSHA256("user", "pencil", C_NONCE).respond(SERVER_FIRST)  # nothing sent yet


def test_saslname_escaping() -> None:
    # RFC 5802 §5.1: "',' or '=' in usernames are sent as '=2C' and '=3D' respectively."
    assert sasl.escape_saslname("a,b=c") == b"a=2Cb=3Dc"
    assert sasl.unescape_saslname(b"a=2Cb=3Dc") == "a,b=c"
    client = sasl.ScramSHA256("a,b=c", "pencil", C_NONCE)
    assert client.initial_response() == b"n,,n=a=2Cb=3Dc,r=" + C_NONCE.encode()
    # "... '=' not followed by either '2C' or '3D', then the server MUST fail".
    for bad in (b"a=2c", b"a=41", b"a=", b"a,b", b""):
        with pytest.raises(SASLError):
            sasl.unescape_saslname(bad)


def test_scram_server_fails_on_bad_saslname() -> None:
    server = sasl.ScramSHA256Server(RFC7677_STORE, S_NONCE)
    result = server.step(b"n,,n=us=41er,r=" + C_NONCE.encode())
    assert isinstance(result, Failure) and result.hint.code == 501


def scram_pair_until_final(
    password: str, store: sasl.CredentialStore, salt_key: bytes | None = None
) -> sasl.StepResult:
    client = sasl.ScramSHA256("user", password, C_NONCE)
    server = sasl.ScramSHA256Server(store, S_NONCE, salt_key=salt_key)
    first = server.step(client.initial_response())
    assert isinstance(first, Challenge)
    return server.step(client.respond(first.data))


def test_scram_server_wrong_password() -> None:
    result = scram_pair_until_final("pencil!", RFC7677_STORE)
    assert isinstance(result, Failure) and result.hint == AUTH_FAILED
    assert "invalid-proof" in result.reason


def test_scram_server_unknown_user() -> None:
    store = sasl.DictCredentials({"someone": "else"})
    quick = sasl.ScramSHA256Server(store, S_NONCE).step(CLIENT_FIRST)
    assert isinstance(quick, Failure) and quick.hint == AUTH_FAILED
    # With salt_key the unknown user gets a full exchange that fails at the proof, with a
    # salt that is stable per user like a real one.
    slow = scram_pair_until_final("pencil", store, salt_key=b"k" * 32)
    assert isinstance(slow, Failure) and slow.hint == AUTH_FAILED
    salts = {
        sasl.ScramSHA256Server(store, nonce, salt_key=b"k" * 32).step(CLIENT_FIRST)
        for nonce in ("n1", "n2")
    }
    assert len({s.data.split(b",")[1] for s in salts if isinstance(s, Challenge)}) == 1


def test_scram_server_from_password_store() -> None:
    store = sasl.DictCredentials({"user": "pencil"})
    for server in (
        sasl.ScramSHA256Server(store, S_NONCE),
        sasl.ScramSHA256Server(store, S_NONCE, salt_key=b"secret"),
        sasl.ScramSHA256Server(store, S_NONCE, iterations=5000),
    ):
        client = sasl.ScramSHA256("user", "pencil", C_NONCE)
        result, _ = run_exchange(client, server)
        assert result == Success(authcid="user", authzid="")
        assert client.done


@pytest.mark.parametrize(
    ("client_first", "hint_code"),
    [
        (b"p=tls-unique,,n=user,r=abc", 535),  # channel binding not supported
        (b"x,,n=user,r=abc", 501),
        (b"n,,m=ext,n=user,r=abc", 535),  # mandatory extension
        (b"n,,n=user", 501),
        (b"n,n=user,r=abc", 501),
        (b"n,,n=user,r=a b", 501),
        (b"n,,r=abc,n=user", 501),
    ],
)
def test_scram_server_rejects_bad_client_first(client_first: bytes, hint_code: int) -> None:
    result = sasl.ScramSHA256Server(RFC7677_STORE, S_NONCE).step(client_first)
    assert isinstance(result, Failure)
    assert result.hint.code == hint_code


def test_scram_server_accepts_y_flag() -> None:
    # RFC 5802 §6: "y" means the client supports channel binding but thinks the server does
    # not; a server without -PLUS carries on.
    server = sasl.ScramSHA256Server(RFC7677_STORE, S_NONCE)
    assert isinstance(server.step(b"y,,n=user,r=" + C_NONCE.encode()), Challenge)


@pytest.mark.parametrize(
    "client_final",
    [
        CLIENT_FINAL.replace(b"c=biws", b"c=eSws"),  # "y,," instead of "n,,"
        CLIENT_FINAL.replace(b"$k0,", b"$k1,"),  # nonce changed
        CLIENT_FINAL.replace(b"p=dHzb", b"p=dHzc"),  # proof changed
        CLIENT_FINAL.rpartition(b",")[0],  # no proof
        CLIENT_FINAL[:-4] + b"AA==",  # proof too short
    ],
)
def test_scram_server_rejects_bad_client_final(client_final: bytes) -> None:
    server = sasl.ScramSHA256Server(RFC7677_STORE, S_NONCE)
    server.step(CLIENT_FIRST)
    assert isinstance(server.step(client_final), Failure)


def test_scram_server_wants_an_empty_last_response() -> None:
    server = sasl.ScramSHA256Server(RFC7677_STORE, S_NONCE)
    server.step(CLIENT_FIRST)
    server.step(CLIENT_FINAL)
    assert isinstance(server.step(b"x"), Failure)


def test_scram_authzid() -> None:
    class Policy(ScramStore):
        def authorize(self, authcid: str, authzid: str) -> bool:
            return authzid == "Ursel"

    creds = sasl.scram_credentials_from_password("pencil", SALT, 4096)
    client = sasl.ScramSHA256("user", "pencil", C_NONCE, authzid="Ursel")
    assert client.initial_response().startswith(b"n,a=Ursel,n=user,")
    result, _ = run_exchange(client, sasl.ScramSHA256Server(Policy({"user": creds}), S_NONCE))
    assert result == Success(authcid="user", authzid="Ursel")
    refused, _ = run_exchange(
        sasl.ScramSHA256("user", "pencil", C_NONCE, authzid="Ursel"),
        sasl.ScramSHA256Server(RFC7677_STORE, S_NONCE),
    )
    assert isinstance(refused, Failure)


def test_scram_password_is_saslprepped_on_both_sides() -> None:
    # RFC 5802 §2.2 Normalize(): "I<SOFT HYPHEN>X" and "IX" are the same password.
    store = sasl.DictCredentials({"user": "IX"})
    result, _ = run_exchange(
        sasl.ScramSHA256("user", "I\u00adX", C_NONCE), sasl.ScramSHA256Server(store, S_NONCE)
    )
    assert isinstance(result, Success)


def test_scram_credentials_from_password_checks() -> None:
    with pytest.raises(SASLError):
        sasl.scram_credentials_from_password("pencil", b"", 4096)
    with pytest.raises(SASLError):
        sasl.scram_credentials_from_password("pencil", SALT, 0)
    with pytest.raises(SASLError):
        sasl.scram_credentials_from_password("\u00ad", SALT, 4096)  # empty after SASLprep


# ---------------------------------------------------------------------------------------------
# XOAUTH2 (developers.google.com/gmail/imap/xoauth2-protocol)

GOOGLE_TOKEN = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
GOOGLE_LINE = (
    b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNr"
    b"QmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
)


def test_xoauth2_google_example() -> None:
    client = sasl.XOAuth2("someuser@example.com", GOOGLE_TOKEN)
    assert sasl.encode_response(client.initial_response(), initial=True) == GOOGLE_LINE
    store = sasl.DictCredentials({}, tokens={"someuser@example.com": GOOGLE_TOKEN})
    result = sasl.XOAuth2Server(store).step(sasl.decode_response(GOOGLE_LINE))
    assert result == Success(authcid="someuser@example.com", authzid="")


def test_xoauth2_client_answers_the_error_challenge_with_empty_response() -> None:
    # Google's failure example: the server sends a base64 JSON error as a challenge, and the
    # client replies with an empty response.
    client = sasl.XOAuth2("someuser@example.com", GOOGLE_TOKEN)
    client.initial_response()
    challenge = sasl.decode_challenge(
        b"eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdv"
        b"b2dsZS5jb20vIn0K"
    )
    assert client.respond(challenge) == b""
    assert client.error is not None and '"status":"401"' in client.error
    with pytest.raises(SASLError):
        client.respond(challenge)


def test_xoauth2_refused_token_pair() -> None:
    store = sasl.DictCredentials({}, tokens={"u@example.com": "good"})
    client = sasl.XOAuth2("u@example.com", "bad")
    result, lines = run_exchange(client, sasl.XOAuth2Server(store))
    assert isinstance(result, Failure) and result.hint == AUTH_FAILED
    assert lines[-1] == b""  # the empty reply to the JSON error
    assert client.error == sasl.XOAUTH2_DEFAULT_ERROR.decode()


def test_xoauth2_token_callable_is_called_once() -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return "fresh"

    client = sasl.XOAuth2("u@example.com", token)
    assert calls == []
    first = client.initial_response()
    assert client.respond(b"") == first  # the "334 " for a skipped initial response
    assert calls == [1]
    assert sasl.XOAuth2("u", lambda: "").done is False
    with pytest.raises(SASLError):
        sasl.XOAuth2("u", lambda: "").initial_response()


@pytest.mark.parametrize(
    "message",
    [
        b"user=u\x01auth=Bearer t\x01",
        b"user=u\x01auth=Basic t\x01\x01",
        b"auth=Bearer t\x01user=u\x01\x01",
        b"user=\x01auth=Bearer t\x01\x01",
    ],
)
def test_xoauth2_server_malformed(message: bytes) -> None:
    store = sasl.DictCredentials({}, tokens={"u": "t"})
    result = sasl.XOAuth2Server(store).step(message)
    assert isinstance(result, Failure) and result.hint.code == 501


def test_xoauth2_server_needs_a_token_store() -> None:
    class PasswordsOnly:
        def password_for(self, username: str) -> str | None:
            return None

        def verify_password(self, username: str, password: str) -> bool:
            return False

    with pytest.raises(SASLError):
        sasl.server_mechanism("XOAUTH2", PasswordsOnly())
    with pytest.raises(SASLError):
        sasl.XOAuth2("u\x01", "t").initial_response()


# ---------------------------------------------------------------------------------------------
# Registries, factories, choice


def test_registries_match() -> None:
    assert (
        set(sasl.CLIENT_MECHANISMS) == set(sasl.SERVER_MECHANISMS) == set(sasl.DEFAULT_PREFERENCE)
    )
    for name, cls in sasl.CLIENT_MECHANISMS.items():
        assert cls.name == name == sasl.SERVER_MECHANISMS[name].name


@pytest.mark.parametrize(
    ("offered", "preference", "chosen"),
    [
        (["LOGIN", "PLAIN"], sasl.DEFAULT_PREFERENCE, "PLAIN"),
        (["plain", "cram-md5", "login"], sasl.DEFAULT_PREFERENCE, "CRAM-MD5"),
        (["PLAIN", "SCRAM-SHA-256", "XOAUTH2"], sasl.DEFAULT_PREFERENCE, "SCRAM-SHA-256"),
        (["LOGIN", "PLAIN", "XOAUTH2"], sasl.DEFAULT_PREFERENCE, "XOAUTH2"),
        (["LOGIN", "PLAIN", "XOAUTH2"], sasl.PASSWORD_PREFERENCE, "PLAIN"),
        (["GSSAPI", "NTLM"], sasl.DEFAULT_PREFERENCE, None),
        ([], sasl.DEFAULT_PREFERENCE, None),
        (["PLAIN", "LOGIN"], ["login", "plain"], "LOGIN"),
    ],
)
def test_choose_mechanism(offered: list[str], preference: list[str], chosen: str | None) -> None:
    assert sasl.choose_mechanism(offered, preference) == chosen


def test_factories_reject_unknown_and_incomplete() -> None:
    with pytest.raises(SASLError) as info:
        sasl.client_mechanism("GSSAPI", username="u", password="p")
    assert info.value.reply_hint == AUTH_MECH_UNKNOWN
    with pytest.raises(SASLError) as info:
        sasl.server_mechanism("DIGEST-MD5", STORE)
    assert info.value.reply_hint == AUTH_MECH_UNKNOWN
    with pytest.raises(SASLError):
        sasl.client_mechanism("PLAIN", username="u")
    with pytest.raises(SASLError):
        sasl.client_mechanism("XOAUTH2", username="u", password="p")
    with pytest.raises(SASLError):
        sasl.client_mechanism("SCRAM-SHA-256", username="u", password="p")
    with pytest.raises(SASLError):
        sasl.client_mechanism("LOGIN", username="u", password="p", authzid="other")
    with pytest.raises(SASLError):
        sasl.server_mechanism("SCRAM-SHA-256", STORE)
    with pytest.raises(SASLError):
        sasl.server_mechanism("CRAM-MD5", STORE)


def make_pair(
    name: str, username: str, password: str, store_password: str | None = None
) -> tuple[sasl.ClientMechanism, sasl.ServerMechanism]:
    stored = password if store_password is None else store_password
    store = sasl.DictCredentials({username: stored}, tokens={username: stored})
    client = sasl.client_mechanism(
        name.lower(),
        username=username,
        password=password,
        token=password,
        nonce="client-nonce" if name == "SCRAM-SHA-256" else None,
    )
    server = sasl.server_mechanism(
        name, store, nonce="server-nonce", challenge=b"<1.2@host.example>"
    )
    return client, server


@pytest.mark.parametrize("use_initial", [True, False])
@pytest.mark.parametrize("name", sasl.DEFAULT_PREFERENCE)
def test_every_mechanism_pair(name: str, use_initial: bool) -> None:
    client, server = make_pair(name, "tim", "tanstaaftanstaaf")
    result, lines = run_exchange(client, server, use_initial=use_initial)
    assert result == Success(authcid="tim", authzid="")
    assert client.done and server.done
    # RFC 4954 §4 ("plaintext password mechanisms"): exactly the mechanisms listed as
    # cleartext put the secret on the wire.
    in_clear = any(b"tanstaaftanstaaf" in base64.b64decode(line) for line in lines)
    assert in_clear == (name in sasl.CLEARTEXT_MECHANISMS)


@pytest.mark.parametrize("name", sasl.DEFAULT_PREFERENCE)
def test_every_mechanism_wrong_secret(name: str) -> None:
    client, server = make_pair(name, "tim", "tanstaaftanstaaf", store_password="other")
    result, _ = run_exchange(client, server)
    assert isinstance(result, Failure)
    assert result.hint == AUTH_FAILED


@pytest.mark.parametrize("name", sasl.DEFAULT_PREFERENCE)
def test_every_mechanism_unknown_user(name: str) -> None:
    client, _ = make_pair(name, "tim", "tanstaaftanstaaf")
    _, server = make_pair(name, "someone", "tanstaaftanstaaf")
    result, _ = run_exchange(client, server)
    assert isinstance(result, Failure)
    assert result.hint == AUTH_FAILED


# RFC 5802 §5.1 and RFC 4616 both allow "," and "=" in names; printable ASCII is unchanged by
# SASLprep, so every mechanism must carry it through untouched.
PRINTABLE = st.text(alphabet=string.printable.strip() + " ", min_size=1, max_size=30)


@given(username=PRINTABLE, password=PRINTABLE, name=st.sampled_from(sasl.DEFAULT_PREFERENCE))
@settings(max_examples=150, deadline=None)
def test_client_and_server_agree(username: str, password: str, name: str) -> None:
    client, server = make_pair(name, username, password)
    result, _ = run_exchange(client, server)
    assert result == Success(authcid=username, authzid="")
    client, server = make_pair(name, username, password, store_password=password + "x")
    result, _ = run_exchange(client, server)
    assert isinstance(result, Failure)


@given(username=st.text(min_size=1, max_size=20), password=st.text(min_size=1, max_size=20))
@settings(max_examples=100, deadline=None)
def test_scram_agrees_on_any_preparable_text(username: str, password: str) -> None:
    # RFC 5802 §5.1: the client sends the SASLprep'd username; the server looks that name up.
    try:
        prepared_user = sasl.saslprep(username, allow_unassigned=True)
        client = sasl.ScramSHA256(username, password, "nonce")
    except SASLError:
        return  # not preparable: the client refuses up front, nothing is sent
    store = sasl.DictCredentials({prepared_user: password})
    result, _ = run_exchange(client, sasl.ScramSHA256Server(store, "server"))
    assert result == Success(authcid=prepared_user, authzid="")


# ---------------------------------------------------------------------------------------------
# Against independent implementations: smtplib (stdlib), aiosmtplib, scramp


def smtplib_auth(mechanism: str, server: sasl.ServerMechanism, user: str, password: str) -> int:
    """Run smtplib's own ``SMTP.auth()`` loop with its docmd() answered by ``server``, as an
    SMTP server adapter would; returns the final reply code."""
    import smtplib

    class Wired(smtplib.SMTP):
        def docmd(self, cmd: str, args: str = "") -> tuple[int, bytes]:
            if cmd == "AUTH":
                _, _, initial = args.partition(" ")
                result = server.step(sasl.decode_response(initial) if initial else None)
            else:
                result = server.step(sasl.decode_response(cmd))
            if isinstance(result, Challenge):
                return 334, sasl.encode_challenge(result.data)
            if isinstance(result, Success):
                return 235, b"2.7.0 Authentication successful"
            return result.hint.code, result.hint.text.encode()

    client = Wired()  # never connected
    client.user, client.password = user, password
    try:
        auth_object = getattr(client, "auth_" + mechanism.lower().replace("-", "_"))
        return client.auth(mechanism, auth_object)[0]
    except smtplib.SMTPAuthenticationError as err:
        return err.smtp_code
    finally:
        client.close()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_smtplib_client_against_our_servers(mechanism: str) -> None:
    def server() -> sasl.ServerMechanism:
        return sasl.server_mechanism(mechanism, STORE, challenge=RFC2195_CHALLENGE)

    assert smtplib_auth(mechanism, server(), "tim", "tanstaaftanstaaf") == 235
    assert smtplib_auth(mechanism, server(), "tim", "wrong") == 535
    assert smtplib_auth(mechanism, server(), "nobody", "tanstaaftanstaaf") == 535


def test_aiosmtplib_encoders_match_our_clients() -> None:
    auth = pytest.importorskip("aiosmtplib.auth")
    user, password = "tim", "tanstaaftanstaaf"
    assert auth.auth_plain_encode(user, password) == sasl.encode_response(
        sasl.Plain(user, password).initial_response()
    )
    cram = sasl.CramMD5(user, password).respond(RFC2195_CHALLENGE)
    their_cram = auth.auth_crammd5_verify(user, password, sasl.encode_challenge(RFC2195_CHALLENGE))
    assert their_cram == sasl.encode_response(cram)
    login = sasl.Login(user, password)
    answers = (login.respond(b"Username:"), login.respond(b"Password:"))
    assert auth.auth_login_encode(user, password) == tuple(map(sasl.encode_response, answers))
    assert auth.auth_xoauth2_encode("someuser@example.com", GOOGLE_TOKEN) == GOOGLE_LINE


@pytest.mark.parametrize("username", ["user", "a,b=c", "J\u00fcrgen"])
def test_scram_against_scramp(username: str) -> None:
    scramp = pytest.importorskip("scramp")
    mech = scramp.ScramMechanism("SCRAM-SHA-256")
    salt, stored_key, server_key, count = mech.make_auth_info("pencil", 4096, SALT)
    ours = sasl.scram_credentials_from_password("pencil", SALT, 4096)
    assert (ours.stored_key, ours.server_key) == (stored_key, server_key)

    # Our client, scramp's server.
    server = mech.make_server(lambda _user: (salt, stored_key, server_key, count))
    client = sasl.ScramSHA256(username, "pencil", C_NONCE)
    server.set_client_first(client.initial_response().decode())
    client_final = client.respond(server.get_server_first().encode())
    server.set_client_final(client_final.decode())
    assert client.respond(server.get_server_final().encode()) == b""
    client.verify_success(None)

    # scramp's client, our server.
    their = scramp.ScramClient(["SCRAM-SHA-256"], username, "pencil")
    store = ScramStore({username: ours})
    our_server = sasl.ScramSHA256Server(store, S_NONCE)
    first = our_server.step(their.get_client_first().encode())
    assert isinstance(first, Challenge)
    their.set_server_first(first.data.decode())
    final = our_server.step(their.get_client_final().encode())
    assert isinstance(final, Challenge)
    their.set_server_final(final.data.decode())  # raises if our signature were wrong
    assert our_server.step(b"") == Success(authcid=username, authzid="")


def rfc5802_client_final(channel_binding: bytes) -> bytes:
    """A client-final message for the RFC 7677 exchange with the given c= value, with a proof
    computed straight from the RFC 5802 §3 formulas."""
    import hashlib
    import hmac

    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", SALT, 4096)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    nonce = (C_NONCE + S_NONCE).encode()
    without_proof = b"c=" + channel_binding + b",r=" + nonce
    auth_message = CLIENT_FIRST[3:] + b"," + SERVER_FIRST + b"," + without_proof
    signature = hmac.new(stored_key, auth_message, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    return without_proof + b",p=" + base64.b64encode(proof)


def test_scram_server_checks_channel_binding_with_a_valid_proof() -> None:
    # RFC 5802 §5.1 "c": the server checks that the channel binding data matches the
    # gs2 header the client sent first ("n,," here, base64 "biws"), even under a valid proof.
    assert rfc5802_client_final(b"biws") == CLIENT_FINAL
    server = sasl.ScramSHA256Server(RFC7677_STORE, S_NONCE)
    server.step(CLIENT_FIRST)
    result = server.step(rfc5802_client_final(base64.b64encode(b"y,,")))
    assert isinstance(result, Failure)
    assert "channel-bindings-dont-match" in result.reason


def test_module_docstring_example_runs() -> None:
    import doctest

    failures, tried = doctest.testmod(sasl, verbose=False, report=True)
    assert tried >= 9
    assert failures == 0


def test_public_names_have_the_public_module() -> None:
    for name in sasl.__all__:
        obj = getattr(sasl, name)
        if isinstance(obj, type) or callable(obj):
            assert obj.__module__ == "smtpcore.sasl", name
