"""Throughput of the DATA codec (smtpcore._data) next to anchors measured in the same run.

Run by hand::

    .venv/bin/python benchmarks/bench_codec.py            # 20 MiB messages, median of 5 runs
    .venv/bin/python benchmarks/bench_codec.py --smoke    # 1 MiB, one run, well under 2 s (CI)

Two messages: a realistic one (headers, a text part of ~76-octet lines with a few lines that
start with ".", a base64 attachment) and a dot-heavy one (every other line starts with ".").
For each it prints, in MB/s (10**6 octets per second):

* ``find``: ``bytes.find(b"\\r\\n.\\r\\n")`` over the DATA stream: one C scan, the ceiling;
* ``decode``: ``ReceiveBuffer.feed`` of 64 KiB reads plus ``DataDecoder.decode`` to the end;
* ``encode``: ``DataEncoder.encode`` of 64 KiB chunks plus ``finish``;
* ``line loop``: a naive decoder written here, one Python iteration per line (find the CRLF,
  compare with ".", strip the dot), the usual way DATA is read in Python;
* ``aiosmtpd``: aiosmtpd's own ``SMTP.smtp_DATA`` reading the stream from an in-memory
  ``asyncio.StreamReader`` (when aiosmtpd is installed; its real DATA path, handler included),

and the ratios between them. Both codec results are checked against the expected message,
so a broken codec cannot post a good number. Timings are medians; on a busy machine compare
the ratios rather than the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smtpcore._data import DataDecoder, DataEncoder, normalize_line_endings
from smtpcore._receivebuffer import ReceiveBuffer

MiB = 1024 * 1024
READ_SIZE = 65536  # what a transport typically hands over per read

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "I",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "been",
    "one",
    "all",
    "we",
    "their",
    "has",
    "would",
    "when",
    "if",
    "so",
    "no",
    "said",
    "what",
    "up",
    "its",
    "about",
    "into",
    "than",
    "them",
    "can",
    "only",
    "other",
    "new",
    "some",
    "could",
    "time",
    "these",
    "two",
    "may",
    "then",
    "do",
    "first",
    "any",
    "my",
    "now",
    "such",
    "like",
    "our",
    "over",
    "man",
    "me",
    "even",
    "most",
    "made",
    "after",
    "also",
    "delivery",
    "message",
    "server",
    "relay",
    "queue",
    "bounce",
    "recipient",
    "envelope",
    "header",
    "mailbox",
    "domain",
]
PUNCT = ["", "", "", "", ",", ".", ";", ":", "!", "?"]


def text_lines(rng: random.Random, count: int) -> list[bytes]:
    """``count`` lines of prose, 60-76 octets, with sentence punctuation."""
    lines = []
    for _ in range(count):
        words: list[str] = []
        length = 0
        target = rng.randint(60, 76)
        while length < target - 8:
            word = rng.choice(WORDS) + rng.choice(PUNCT)
            words.append(word)
            length += len(word) + 1
        lines.append(" ".join(words).encode("ascii")[:76])
    return lines


def make_message(size: int, *, dot_every: int | None, seed: int = 5321) -> bytes:
    """A CRLF message of about ``size`` octets: headers, text, a base64 attachment.

    ``dot_every``: every n-th text line starts with "."; None means a realistic few (about
    one per MiB of text).
    """
    rng = random.Random(seed)
    headers = (
        b"Received: from client.example (client.example [192.0.2.1])\r\n"
        b"\tby mx.example with ESMTPS id 4Xyz; Sun, 29 Nov 2026 00:00:00 +0000\r\n"
        b"From: Alice <alice@client.example>\r\nTo: Bob <bob@mx.example>\r\n"
        b"Subject: quarterly report\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    pool = text_lines(rng, 4096)
    text_size = size // 2
    count = text_size // 72
    every = dot_every if dot_every is not None else max(count // max(text_size // MiB, 1), 1)
    body = []
    for i in range(count):
        line = pool[rng.randrange(len(pool))]
        if i % every == every // 2:
            line = b"." + line[:75]
        body.append(line)
    text = b"\r\n".join(body) + b"\r\n"
    attachment_raw = rng.randbytes(max(size - len(headers) - len(text), 0) * 3 // 4)
    attachment = base64.encodebytes(attachment_raw).replace(b"\n", b"\r\n")
    return (
        headers
        + text
        + b"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + attachment
        + b"--b1--\r\n"
    )


def chunked(data: bytes, size: int = READ_SIZE) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# The timed functions hand their output on as a list of pieces, as a transport would write
# them; joining happens only in the correctness checks.


def encode(chunks: list[bytes]) -> list[bytes]:
    encoder = DataEncoder()
    out = [encoder.encode(chunk) for chunk in chunks]
    out.append(encoder.finish())
    return out


def decode(chunks: list[bytes]) -> tuple[list[bytes], bytes]:
    buf = ReceiveBuffer()
    decoder = DataDecoder()
    pieces = []
    for chunk in chunks:
        buf.feed(chunk)
        while piece := decoder.decode(buf):
            pieces.append(piece)
    assert decoder.done
    return pieces, buf.peek()


def line_loop_decode(chunks: list[bytes]) -> tuple[list[bytes], bytes]:
    """The baseline: a Python iteration per line, as most Python servers read DATA."""
    buf = bytearray()
    lines = []
    for chunk in chunks:
        buf += chunk
        pos = 0
        while (end := buf.find(b"\r\n", pos)) >= 0:
            line = bytes(buf[pos : end + 2])
            pos = end + 2
            if line == b".\r\n":
                del buf[:pos]
                return lines, bytes(buf)
            lines.append(line[1:] if line.startswith(b".") else line)
        del buf[:pos]
    raise AssertionError("no end of data")


def aiosmtpd_decode(stream: bytes) -> Callable[[], bytes] | None:
    """A runner of aiosmtpd's smtp_DATA over ``stream``, or None without aiosmtpd."""
    try:
        from aiosmtpd.smtp import SMTP, Envelope, Session
    except ImportError:
        return None

    class Handler:
        content: bytes = b""

        async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
            self.content = envelope.original_content or b""
            return "250 OK"

    class Writer:
        def write(self, data: bytes) -> None:
            pass

        async def drain(self) -> None:
            pass

    async def main() -> bytes:
        handler = Handler()
        smtp = SMTP(handler, data_size_limit=None)
        smtp.session = Session(asyncio.get_running_loop())
        smtp.session.host_name = "client.example"
        smtp.envelope = Envelope()
        smtp.envelope.rcpt_tos = ["bob@mx.example"]
        reader = asyncio.StreamReader(limit=READ_SIZE)
        for chunk in chunked(stream):
            reader.feed_data(chunk)
        reader.feed_eof()
        smtp._reader = reader
        smtp._writer = Writer()
        smtp.transport = object()
        await smtp.smtp_DATA("")
        return handler.content

    return lambda: asyncio.run(main())


CODEC = ("find", "decode", "encode")


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def bench(name: str, message: bytes, runs: int) -> dict[str, float]:
    stream = b"".join(encode(chunked(message)))
    expected = normalize_line_endings(message, final_crlf=True)
    # Correctness first: the codec must round-trip before it is timed.
    pipelined = b"QUIT\r\n"
    stream_chunks = chunked(stream + pipelined)
    for decoder in (decode, line_loop_decode):
        pieces, rest = decoder(stream_chunks)
        assert (b"".join(pieces), rest) == (expected, pipelined), decoder.__name__
    message_chunks = chunked(message)

    cases: dict[str, tuple[int, Callable[[], object]]] = {
        "find": (len(stream), lambda: stream.find(b"\r\n.\r\n")),
        "decode": (len(stream), lambda: decode(stream_chunks)),
        "encode": (len(message), lambda: encode(message_chunks)),
        "line loop": (len(stream), lambda: line_loop_decode(stream_chunks)),
    }
    runner = aiosmtpd_decode(stream)
    if runner is not None:
        assert runner() == expected
        cases["aiosmtpd"] = (len(stream), runner)

    # Each run times find, decode and encode back to back, so that the ratios of one run
    # share the machine's load of that moment; then the baselines, whose heaps of small
    # objects would otherwise disturb the codec's timings. Reported: median speeds and
    # median per-run ratios.
    speeds: dict[str, list[float]] = {key: [] for key in cases}
    for group in (CODEC, tuple(key for key in cases if key not in CODEC)):
        for key in group:
            cases[key][1]()  # warm up: first-touch page faults are not the codec's speed
        for _ in range(runs):
            for key in group:
                size, func = cases[key]
                speeds[key].append(size / timed(func) / 1e6)
    mbps = {key: statistics.median(values) for key, values in speeds.items()}

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(speeds[a], speeds[b], strict=True))

    dot_lines = stream.count(b"\r\n..")
    print(f"\n{name}: {len(stream) / MiB:.1f} MiB stream, {dot_lines} stuffed lines")
    for key, value in mbps.items():
        print(f"  {key:10s} {value:9.0f} MB/s")
    print(
        f"  decode/find {ratio('decode', 'find'):.2f}   encode/find {ratio('encode', 'find'):.2f}"
    )
    print(f"  decode/line loop {ratio('decode', 'line loop'):.1f}x", end="")
    if "aiosmtpd" in mbps:
        print(f"   decode/aiosmtpd {ratio('decode', 'aiosmtpd'):.1f}x", end="")
    print()
    return mbps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="1 MiB, one run (CI)")
    parser.add_argument("--size", type=float, default=20, help="message size in MiB")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    size = MiB if args.smoke else int(args.size * MiB)
    runs = 1 if args.smoke else args.runs
    print(f"Python {sys.version.split()[0]}; median of {runs} run(s); reads of {READ_SIZE} octets")
    realistic = bench("realistic", make_message(size, dot_every=None), runs)
    bench("dot-heavy", make_message(size, dot_every=2), runs)
    # Targets (issue 8) on the realistic message.
    print(
        f"\ntargets: decode >= 400 MB/s: {realistic['decode']:.0f}; "
        f"encode >= 1000 MB/s: {realistic['encode']:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
