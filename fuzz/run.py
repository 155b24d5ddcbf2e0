"""Run one fuzz target by hand, with atheris (coverage-guided) when it is installed, else with
hypothesis and a large example budget.

    .venv/bin/python -m fuzz.run server                  # atheris, until stopped
    .venv/bin/python -m fuzz.run data --seconds 300
    .venv/bin/python -m fuzz.run dsn --hypothesis --examples 200000

Targets: server, client, command, reply, data, dsn (see fuzz/targets.py). atheris grows a
working corpus in fuzz/work/<target>/ (seeded from fuzz/corpus/<target>/, which it only
reads) and writes crashing inputs as fuzz/work/crash-*; copy a crash into
fuzz/corpus/<target>/ and it becomes a test (tests/test_fuzz.py replays the corpus).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _atheris(target: str, seconds: int | None, runs: int | None, extra: list[str]) -> int:
    import atheris

    with atheris.instrument_imports(include=["smtpcore"]):
        from fuzz.targets import TARGETS

    work = HERE / "work" / target
    work.mkdir(parents=True, exist_ok=True)
    args = [sys.argv[0], str(work), str(HERE / "corpus" / target)]
    args.append(f"-artifact_prefix={HERE / 'work'}/crash-{target}-")
    if seconds is not None:
        args.append(f"-max_total_time={seconds}")
    if runs is not None:
        args.append(f"-runs={runs}")
    fn = TARGETS[target]
    atheris.Setup([*args, *extra], fn)
    atheris.Fuzz()
    return 0


def _hypothesis(target: str, seconds: int | None, examples: int) -> int:
    from hypothesis import HealthCheck, given, settings, strategies as st

    from fuzz.targets import TARGETS

    corpus = [p.read_bytes() for p in sorted((HERE / "corpus" / target).glob("*"))]
    fn = TARGETS[target]
    start = time.monotonic()

    def mutate(seed: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
        data = bytearray(seed)
        for pos, cut, junk in edits:
            at = pos % (len(data) + 1)
            data[at : at + cut] = junk
        return bytes(data)

    inputs = st.one_of(
        st.binary(max_size=4096),
        st.builds(
            mutate,
            st.sampled_from(corpus or [b""]),
            st.lists(
                st.tuples(st.integers(0, 1 << 16), st.integers(0, 32), st.binary(max_size=32))
            ),
        ),
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(inputs)
    def run(data: bytes) -> None:
        if seconds is not None and time.monotonic() - start > seconds:
            return
        fn(data)

    run()
    print(f"{target}: {examples} examples in {time.monotonic() - start:.1f} s, no failure")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__)
    parser.add_argument("target", choices=["server", "client", "command", "reply", "data", "dsn"])
    parser.add_argument("--seconds", type=int, default=None, help="stop after this long")
    parser.add_argument("--runs", type=int, default=None, help="atheris: stop after N inputs")
    parser.add_argument("--hypothesis", action="store_true", help="use hypothesis, not atheris")
    parser.add_argument("--examples", type=int, default=100_000, help="hypothesis budget")
    args, extra = parser.parse_known_args(argv)
    if not args.hypothesis:
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed: using hypothesis", file=sys.stderr)
        else:
            return _atheris(args.target, args.seconds, args.runs, extra)
    return _hypothesis(args.target, args.seconds, args.examples)


if __name__ == "__main__":
    sys.exit(main())
