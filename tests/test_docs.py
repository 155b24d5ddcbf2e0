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
        if transition.on_positive is not state:
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
