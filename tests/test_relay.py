"""smtpcore.relay end to end on loopback: static routes, MX from a real DNS server (nsd),
fallback to the next MX on a 4xx, null MX, per-recipient results and the bounce."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpcore import Address, MailParams, RcptParams, Reply, dsn
from smtpcore.relay import bounce, deliver, deliver_async
from tests.servers import Recorder, async_server_thread, sync_server

A = Address.parse
MSG = (
    b"From: a@origin.test\r\nTo: x@dest.test\r\nSubject: relay\r\n"
    b"Message-ID: <1@origin.test>\r\n\r\nhello\r\n"
)


def test_static_route_partial_success_and_bounce() -> None:
    rec = Recorder(refuse={"gone@dest.test": Reply.of(550, "no such user", "5.1.1")})
    with sync_server(recorder=rec) as (server, _):
        report = deliver(
            MSG,
            "a@origin.test",
            ["x@dest.test", "gone@dest.test", "y@DEST.test"],
            routes={"dest.test": f"127.0.0.1:{server.port}"},
            rcpt_params={A("gone@dest.test"): RcptParams(notify=("FAILURE",))},
        )
    assert [r.status for r in report.results] == ["delivered", "failed", "delivered"]
    # one transaction for the domain (grouped case-insensitively)
    assert len(rec.messages) == 1
    assert rec.messages[0].envelope.recipients == (A("x@dest.test"), A("y@DEST.test"))
    assert rec.messages[0].data == MSG
    failed = report.result("gone@dest.test")
    assert failed.reply is not None and failed.reply.code == 550 and failed.host == "127.0.0.1"
    notice = bounce(report, MSG, "a@origin.test", reporting_mta="relay.test")
    assert notice is not None
    parsed = dsn.parse(notice.as_bytes())
    assert parsed is not None and parsed.is_bounce
    [r] = parsed.recipients
    assert r.final_recipient is not None and r.final_recipient.address == "gone@dest.test"
    assert str(r.status) == "5.1.1" and r.action == "failed"
    assert dsn.classify(r, parsed).reason == "userunknown"


def test_no_bounce_for_notify_never_or_null_sender() -> None:
    with sync_server(recorder=Recorder(refuse={"*": Reply.of(550, "no", "5.1.1")})) as (s, _):
        route = {"*": f"127.0.0.1:{s.port}"}
        rep = deliver(
            MSG,
            "a@origin.test",
            ["n@dest.test"],
            routes=route,
            rcpt_params={A("n@dest.test"): RcptParams(notify=("NEVER",))},
        )
        assert rep.failed and bounce(rep, MSG, "a@origin.test", reporting_mta="r.test") is None
        rep = deliver(MSG, None, ["n@dest.test"], routes=route)
        assert bounce(rep, MSG, None, reporting_mta="r.test") is None


def test_connection_refused_is_deferred() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    report = deliver(MSG, "a@origin.test", ["x@dest.test"], routes={"*": f"127.0.0.1:{port}"})
    [res] = report.results
    assert res.status == "deferred"
    assert res.attempts and res.attempts[0].outcome == "connect-error"


# --- MX from a real DNS server ----------------------------------------------------------------


def _zone(origin: str, body: str) -> str:
    return (
        f"$ORIGIN {origin}.\n$TTL 300\n"
        f"@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 60\n@ NS ns.{origin}.\n"
        f"ns A 127.0.0.1\n{body}"
    )


@pytest.fixture(scope="module")
def dns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.interop.dns_fixtures import run_nsd

    zones: dict[str, str | None] = {
        "relay.test": _zone(
            "relay.test",
            "@ MX 10 mx1.relay.test.\n@ MX 20 mx2.relay.test.\nmx1 A 127.0.0.1\nmx2 A 127.0.0.2\n",
        ),
        "nullmx.test": _zone("nullmx.test", "@ MX 0 .\n"),
    }
    with run_nsd(Path(tmp_path_factory.mktemp("nsd")), zones) as server:
        yield server


@pytest.mark.interop
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_mx_fallback_to_the_next_host_on_4xx(dns_server, flavour) -> None:  # type: ignore[no-untyped-def]
    busy = Recorder(refuse={"*": Reply.of(451, "try later", "4.3.0")})
    good = Recorder()
    with async_server_thread(recorder=busy, host="127.0.0.1") as (mx1, _):  # noqa: SIM117
        with sync_server(recorder=good, host="127.0.0.2", port=mx1.port) as (_mx2, _):
            kw = {"resolver": dns_server.resolver(), "port": mx1.port}  # type: ignore[attr-defined]
            rcpts = ["u@relay.test", "v@nullmx.test", "w@nxdomain.relay.test"]
            if flavour == "sync":
                report = deliver(MSG, "a@origin.test", rcpts, **kw)
            else:
                report = asyncio.run(deliver_async(MSG, "a@origin.test", rcpts, **kw))
    ok, null, nx = report.results
    assert ok.status == "delivered" and ok.host == "mx2.relay.test" and ok.address == "127.0.0.2"
    assert [a.host for a in ok.attempts] == ["mx1.relay.test", "mx2.relay.test"]
    assert ok.attempts[0].reply is not None and ok.attempts[0].reply.code == 451
    assert good.messages[0].data == MSG and not busy.messages
    assert null.status == "failed" and null.reply is not None and null.reply.code == 556
    assert nx.status == "failed" and nx.enhanced_status == "5.1.2"


def test_requiretls_refuses_plain_servers() -> None:
    with sync_server() as (server, rec):
        report = deliver(
            MSG,
            "a@origin.test",
            ["x@dest.test"],
            routes={"*": f"127.0.0.1:{server.port}"},
            mail_params=MailParams(requiretls=True),
        )
    assert report.results[0].status != "delivered" and not rec.messages


@pytest.mark.interop
def test_a_relay_that_is_an_mx_host_uses_only_better_ones(dns_server) -> None:  # type: ignore[no-untyped-def]
    # RFC 5321 §5.1: discard our own MX RR and every one of equal or greater preference.
    good = Recorder()
    with async_server_thread(recorder=good, host="127.0.0.1") as (mx1, _):
        kw = {"resolver": dns_server.resolver(), "port": mx1.port}  # type: ignore[attr-defined]
        # we are mx2 (preference 20): only mx1 (10) is tried
        report = deliver(
            MSG, "a@origin.test", ["u@relay.test"], own_names=["MX2.relay.test."], **kw
        )
        [res] = report.results
        assert res.status == "delivered" and res.host == "mx1.relay.test"
        assert [a.host for a in res.attempts] == ["mx1.relay.test"]
        # we are mx1, the best: nothing better is left, the mail would loop
        report = deliver(MSG, "a@origin.test", ["u@relay.test"], own_names=["mx1.relay.test"], **kw)
        [loop] = report.results
        assert loop.status == "failed" and loop.enhanced_status == "5.4.6" and not loop.attempts
    assert len(good.messages) == 1


def test_without_self_keeps_only_more_preferred_groups() -> None:
    from smtpcore._mx import MXHost, MXRoute

    def host(name: str, pref: int) -> MXHost:
        return MXHost(host=name, preference=pref, addresses=("192.0.2.1",))

    route = MXRoute(
        domain="d.test",
        ascii_domain="d.test",
        implicit=False,
        groups=((host("a.d.test", 10),), (host("b.d.test", 20), host("c.d.test", 20))),
        ttl=60,
    )
    assert route.without_self(["x.other.test"]) is route
    assert [h.host for h in route.without_self(["c.d.test"]).hosts] == ["a.d.test"]
    assert route.without_self(["A.D.TEST."]).groups == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("smart.example", ("smart.example", 25)),
        ("smart.example:587", ("smart.example", 587)),
        ("[192.0.2.1]:2525", ("192.0.2.1", 2525)),
        ("[192.0.2.1]", ("192.0.2.1", 25)),
        ("2001:db8::1", ("2001:db8::1", 25)),
        ("[2001:db8::1]:26", ("2001:db8::1", 26)),
    ],
)
def test_static_route_forms(value: str, expected: tuple[str, int]) -> None:
    from smtpcore.relay import _static_route

    [(host, address, port)] = _static_route({"*": value}, "any.test", 25)  # type: ignore[misc]
    assert (host, port) == expected and address == host
