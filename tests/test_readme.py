"""The README's example runs, and its commands are the ones CI uses."""

from __future__ import annotations

import doctest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_doctest() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n>>>")[1:]]
    assert blocks, "the README lost its sans-I/O example"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for i, block in enumerate(blocks):
        test = parser.get_doctest(">>>" + block, {}, f"README-{i}", "README.md", 0)
        result = runner.run(test)
        assert result.failed == 0, f"README example {i} failed"
        assert result.attempted > 5


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ".venv/bin/python -m pytest" in readme
    assert ".venv/bin/python -m pytest" in ci
    assert ".venv/bin/python -m smtpcore serve" in readme
