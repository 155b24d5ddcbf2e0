"""Write the seed corpus (fuzz/corpus/<target>/) from the inputs the tests use.

    .venv/bin/python -m fuzz.make_corpus

The seeds are the attacks of tests/test_security_*.py (smuggling vectors, STARTTLS
injection, hostile replies), ordinary sessions, and the DSN samples of tests/data/dsn/.
Files are named by the hash of their content; rerunning rewrites the same files.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
DSN_SAMPLES = HERE.parent / "tests" / "data" / "dsn"

SMUGGLING = [
    b"\n.\n",
    b"\n.\r\n",
    b"\r.\r",
    b"\r.\r\n",
    b"\r\n.\r",
    b"\r\n.\n",
    b"\n.\r",
    b"\r.\n",
    b"\r\n.\r\r\n",
    b"\r\n.\x00\r\n",
    b"\r\n\x00.\r\n",
]
SMUGGLED = b"MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<v@example.net>\r\nDATA\r\nsmuggled\r\n"
HELLO = b"EHLO c.example\r\n"
TXN = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"


def _server() -> list[bytes]:
    # option octet: policy (bits 0-1 mod 3), LMTP 0x04, STARTTLS 0x08, AUTH 0x10,
    # strict 0x20, SIZE 0x40, AUTH needs TLS 0x80; then the chunk size octet
    seeds = [
        bytes([0x18, 64]) + HELLO + TXN + b"DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n",
        bytes([0x18, 1]) + HELLO + b"STARTTLS\r\nMAIL FROM:<ceo@bank.example>\r\n" + HELLO,
        bytes([0x11, 7]) + HELLO + b"AUTH PLAIN AHVzZXIAcHc=\r\nMAIL FROM:<a@example.org>\r\n",
        bytes([0x10, 3]) + HELLO + b"AUTH LOGIN\r\ndXNlcg==\r\n*\r\nAUTH LOGIN\r\n!!\r\n",
        bytes([0x40, 9]) + HELLO + TXN + b"BDAT 5\r\nhelloBDAT 3 LAST\r\nabcQUIT\r\n",
        bytes([0x00, 5]) + HELLO + b"BDAT 20 LAST\r\n" + b"MAIL FROM:<x@y>\r\nRSET\r\n",
        bytes([0x04, 11]) + b"LHLO c.example\r\n" + TXN + b"RCPT TO:<c@example.net>\r\nDATA\r\n"
        b"x\r\n.\r\n",
        bytes([0x20, 13]) + HELLO + b"MAIL FROM: <a@example.org> SIZE=1 SIZE=2\r\n"
        b"MAIL FROM:<\xff@example.org>\r\nRCPT TO:<@r.example:b@example.net>\r\n"
        b"NOOP\x00\r\n" + b"A" * 1200 + b"\r\nXYZZY\r\n",
        bytes([0x00, 17]) + HELLO + TXN + b"DATA\r\nSubject: jumped the gun\r\n\r\n.\r\n",
    ]
    for i, vec in enumerate(SMUGGLING):
        body = b"DATA\r\nSubject: x\r\n\r\nfirst" + vec + SMUGGLED + b".\r\nQUIT\r\n"
        seeds.append(bytes([i % 3, 1 + 5 * i]) + HELLO + TXN + body)
    return seeds


def _client() -> list[bytes]:
    ehlo = b"250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n"
    ok = b"250 2.0.0 ok\r\n"
    return [
        bytes([0, 64]) + b"220 mx.example ESMTP\r\n" + ehlo + ok + ok + b"354 go\r\n" + ok,
        bytes([0, 1]) + b"220 mx\r\n" + ehlo + b"550 5.1.1 no\r\n" + ok + b"554 no\r\n",
        bytes([1, 5]) + b"220 mx LMTP\r\n" + ehlo + ok + ok + b"354 go\r\n" + ok + ok,
        bytes([0, 3]) + b"220 go\r\n250 injected\r\n",
        bytes([0, 7]) + b"220-mx\r\n" * 200,
        bytes([0, 9]) + b"220 " + b"x" * 5000 + b"\r\n",
        bytes([0, 2]) + b"220-mx\r\n250 mixed\r\n",
        bytes([0, 4]) + b"2x0 mx\r\n",
        bytes([0, 6]) + b"220 mx \xff\xfe\r\n" + ehlo + b"421 4.7.0 bye\r\n",
        bytes([0, 8]) + b"220 mx\n250 bare lf\n",
    ]


def _commands() -> list[bytes]:
    lines = [
        b"EHLO client.example",
        b"MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1",
        b"MAIL FROM:<> AUTH=<>",
        b"MAIL FROM:<\xc3\xa9@example.org> SMTPUTF8",
        b"RCPT TO:<b@example.net> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b@example.net",
        b"RCPT TO:<@a.example,@b.example:c@example.net>",
        b'RCPT TO:<"quoted local"@example.net>',
        b"RCPT TO:<user@[192.0.2.1]>",
        b"RCPT TO:<user@[IPv6:2001:db8::1]>",
        b"BDAT 1000 LAST",
        b"AUTH PLAIN AHVzZXIAcHc=",
        b"VRFY <someone@example.org>",
        b"MAIL FROM:<a@example.org> SIZE=1 SIZE=2",
        b"MAIL FROM:<a@example.org>\x00",
    ]
    seeds = [bytes([i % 4]) + line for i, line in enumerate(lines)]
    # the first fuzz crash (test_non_ascii_parameter_value_needs_smtputf8), kept fixed here
    seeds.append(b"\x01MAIL FROM:<a@example.org> SIZERET=H\xc5\xadS ENVID=Q+2B1")
    return seeds


def _replies() -> list[bytes]:
    return [
        b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
        b"550-5.1.1 first\r\n550 5.1.1 second\r\n",
        b"220 go\r\n250 injected\r\n",
        b"250-x\r\n251 y\r\n",
        b"421 4.7.0 " + b"long " * 200 + b"\r\n",
        b"354\r\n334 \r\n999 no\r\n",
    ]


def _data() -> list[bytes]:
    seeds = [bytes([0, 3]) + b"Subject: x\r\n\r\n..stuffed\r\n.\r\n"]
    for i, vec in enumerate(SMUGGLING):
        seeds.append(bytes([i % 3, i]) + b"first" + vec + SMUGGLED + b"\r\n.\r\n")
    return seeds


def main() -> None:
    groups = {
        "server": _server(),
        "client": _client(),
        "command": _commands(),
        "reply": _replies(),
        "data": _data(),
        "dsn": [p.read_bytes() for p in sorted(DSN_SAMPLES.glob("*.eml"))],
    }
    for name, seeds in groups.items():
        folder = CORPUS / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for seed in seeds:
            (folder / hashlib.sha1(seed).hexdigest()[:16]).write_bytes(seed)  # noqa: S324
        print(f"{name}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
