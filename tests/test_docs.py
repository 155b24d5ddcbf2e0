"""The documentation builds without a warning, and every sample in it runs.

The builds run ``sphinx-build`` in a subprocess (as CI does, with ``-W --keep-going``) into a
temporary folder, each bounded in time. The state tables in the docs are generated from
``smtpcore._state``; the tests check the generator covers every transition.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BUILD_TIMEOUT = 300  # seconds per builder

pytest.importorskip("sphinx")
pytest.importorskip("furo")


def sphinx_build(builder: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-E",
            "-b",
            builder,
            str(DOCS),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        cwd=ROOT,
        check=False,
    )


def test_html_builds_without_warnings(tmp_path: Path) -> None:
    done = sphinx_build("html", tmp_path / "html")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
    states = (tmp_path / "html" / "states.html").read_text(encoding="utf-8")
    from smtpcore._state import TRANSITIONS, State

    # every state with a transition appears in the generated tables and diagram
    for state in {s for s, _ in TRANSITIONS} | {t.on_positive for t in TRANSITIONS.values()}:
        assert f"{state.value} --&gt;" in states or f"--&gt; {state.value}" in states
    assert State.ERROR.value in states
    api = (tmp_path / "html" / "api" / "core.html").read_text(encoding="utf-8")
    assert 'id="smtpcore.ClientConnection"' in api and 'id="smtpcore.ServerConnection"' in api


def test_every_doctest_passes(tmp_path: Path) -> None:
    done = sphinx_build("doctest", tmp_path / "doctest")
    report = (tmp_path / "doctest" / "output.txt").read_text(encoding="utf-8")
    assert done.returncode == 0, report + done.stderr
    summary = re.search(r"(\d+) tests\n\s+0 failures in tests", report)
    assert summary is not None, report
    assert int(summary[1]) >= 100  # the pages hold well over a hundred examples
    assert "0 failures in setup code" in report and "0 failures in cleanup code" in report


def test_state_table_generator_covers_every_transition() -> None:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import smtpcore_states
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    from smtpcore._state import TRANSITIONS

    table = "\n".join(smtpcore_states.table_lines())
    rows = re.findall(r"   \* - (\w+)\n     - ``([^`]+)``\n     - (\w+)\n     - (\w+)", table)
    assert len(rows) == len(TRANSITIONS)
    by_name = {(state.value, step): t for (state, step), t in TRANSITIONS.items()}
    for state, step, positive, negative in rows:
        transition = by_name[state, step]
        assert (positive, negative) == (transition.on_positive.value, transition.on_negative.value)
    assert {(state, step) for state, step, _, _ in rows} == set(by_name)
    mermaid = smtpcore_states.mermaid_text()
    for (state, step), transition in TRANSITIONS.items():
        if transition.on_positive is not state and smtpcore_states._allows(step, "2"):
            assert re.search(
                rf"^    {state.value} --> {transition.on_positive.value}: .*{re.escape(step)}",
                mermaid,
                re.M,
            ), (state, step)
    matrix = smtpcore_states.matrix_lines()
    assert sum(1 for line in matrix if "→" in line) == len(TRANSITIONS)


def test_every_example_is_shown_in_the_docs() -> None:
    page = (DOCS / "examples.rst").read_text(encoding="utf-8")
    for script in sorted((ROOT / "examples").glob("*.py")):
        assert f"literalinclude:: ../examples/{script.name}" in page, script.name


# --- the command-line page: every "$ smtpcore ..." line runs and prints what is shown -------


def console_sessions(text: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for each ``$`` line of the console blocks."""
    sessions: list[tuple[str, list[str]]] = []
    for block in re.findall(r"\.\. code-block:: console\n\n((?:   .*\n|\n)+)", text):
        lines = [line[3:] for line in block.rstrip("\n").split("\n")]
        for line in lines:
            if line.startswith("$ "):
                sessions.append((line[2:], []))
            elif sessions:
                sessions[-1][1].append(line)
    return sessions


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; ``...`` inside a line matches any text, a line of only ``...`` any lines."""
    pattern = "".join(
        r"(?:.*\n)*"
        if line.strip() == "..."
        else ".*".join(map(re.escape, line.split("..."))) + r"\n"
        for line in expected
    )
    return re.fullmatch(pattern, "".join(f"{line.rstrip()}\n" for line in actual)) is not None


def first_line(proc: subprocess.Popen[str]) -> str:
    """The first line ``proc`` prints, waiting at most BUILD_TIMEOUT seconds."""
    import threading

    lines: list[str] = []
    assert proc.stdout is not None
    stream = proc.stdout
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(BUILD_TIMEOUT)
    assert lines, "no output in time"
    return lines[0].rstrip("\n")


def test_every_command_on_the_cli_page_runs(tmp_path: Path) -> None:
    import os
    import shlex

    sessions = console_sessions((DOCS / "cli.rst").read_text(encoding="utf-8"))
    assert sum(cmd.startswith("smtpcore serve") for cmd, _ in sessions) == 1
    assert len(sessions) >= 6
    (tmp_path / "bounce.eml").write_bytes((DOCS / "_data" / "exim-bounce.eml").read_bytes())
    env = dict(os.environ)
    server: subprocess.Popen[str] | None = None
    port = "8025"
    try:
        for command, expected in sessions:
            words = shlex.split(command)
            while "=" in words[0]:  # VAR=value prefixes
                key, _, value = words.pop(0).partition("=")
                env[key] = value
            assert words[0] == "smtpcore"
            argv = [sys.executable, "-m", "smtpcore", *words[1:]]
            if words[1] == "serve":
                argv[argv.index("8025")] = "0"  # a free port; the shown one is an example
                server = subprocess.Popen(
                    argv,
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                first = first_line(server)
                assert "listening on 127.0.0.1:" in first, first
                found = re.search(r"127\.0\.0\.1:(\d+)", first)
                assert found is not None
                port = found[1]
                shown = [line.replace("8025", port) for line in expected]
                assert matches(shown, [first]), (shown, first)
                continue
            argv = [word.replace("127.0.0.1:8025", f"127.0.0.1:{port}") for word in argv]
            done = subprocess.run(
                argv,
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT,
                check=False,
            )
            refused = "Relay access denied" in "\n".join(expected)
            assert done.returncode == (1 if refused else 0), (command, done.stdout, done.stderr)
            assert matches(expected, done.stdout.rstrip("\n").split("\n")), (command, done.stdout)
    finally:
        if server is not None:
            server.terminate()
            server.wait(BUILD_TIMEOUT)
            assert server.stdout is not None
            server.stdout.close()
    stored = list((tmp_path / "mail" / "bob@example.net" / "new").iterdir())
    assert len(stored) == 2  # the two messages the page sends to bob
