"""A Sphinx directive that draws smtpcore's session state machine from ``smtpcore._state``.

``.. smtpcore-state-table::`` writes, at build time, from ``TRANSITIONS`` (nothing is copied
by hand, so the pages cannot drift from the code):

* a table with one row per (state, step) pair: the state after a positive (2yz), negative
  (4yz/5yz) and intermediate (3yz) reply;
* a matrix of steps against states (which commands each state allows);
* a Mermaid ``stateDiagram-v2`` text (render it with any Mermaid viewer; no graphviz needed).

Option ``:part:`` picks one of ``table``, ``matrix``, ``mermaid`` (default: all three).
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from smtpcore._state import REPLY_CODES, TRANSITIONS, State

# Steps in the order a session uses them, for the matrix columns.
STEP_ORDER = [
    "GREETING",
    "EHLO",
    "HELO",
    "LHLO",
    "STARTTLS",
    "AUTH",
    "AUTH*",
    "*",
    "MAIL",
    "RCPT",
    "DATA",
    ".",
    "BDAT",
    "BDAT LAST",
    "RSET",
    "VRFY",
    "EXPN",
    "HELP",
    "NOOP",
    "UNKNOWN",
    "QUIT",
]
STATE_ORDER = list(State)


def _steps() -> list[str]:
    used = {step for _state, step in TRANSITIONS}
    extra = sorted(used - set(STEP_ORDER))
    return [s for s in STEP_ORDER if s in used] + extra


def _code(text: str) -> str:
    return f"``{text}``"


def table_lines() -> list[str]:
    """An RST list-table of every transition, grouped by state."""
    lines = [
        ".. list-table:: Every transition in ``smtpcore._state.TRANSITIONS``",
        "   :header-rows: 1",
        "   :widths: 12 14 14 14 14 20",
        "",
        "   * - state",
        "     - step",
        "     - after 2yz",
        "     - after 4yz/5yz",
        "     - after 3yz",
        "     - replies allowed",
    ]
    order = {s: i for i, s in enumerate(_steps())}
    keys = sorted(TRANSITIONS, key=lambda k: (STATE_ORDER.index(k[0]), order[k[1]]))
    for state, step in keys:
        t = TRANSITIONS[state, step]
        inter = t.on_intermediate.value if t.on_intermediate is not None else "-"
        codes = ", ".join(
            c if len(c) == 3 else f"{c}xx" for c in sorted(REPLY_CODES.get(step, frozenset()))
        )
        lines += [
            f"   * - {state.value}",
            f"     - {_code(step)}",
            f"     - {t.on_positive.value}",
            f"     - {t.on_negative.value}",
            f"     - {inter}",
            f"     - {codes}",
        ]
    return lines


def matrix_lines() -> list[str]:
    """Steps against states: which commands each state accepts (the rest get 503)."""
    steps = _steps()
    states = [s for s in STATE_ORDER if any(k[0] is s for k in TRANSITIONS)]
    lines = [
        ".. list-table:: Which steps each state accepts, and the state after a positive reply"
        " (a dot: refused with 503 5.5.1)",
        "   :header-rows: 1",
        "   :stub-columns: 1",
        "",
        "   * - step",
    ]
    lines += [f"     - {state.value}" for state in states]
    for step in steps:
        lines.append(f"   * - {_code(step)}")
        for state in states:
            t = TRANSITIONS.get((state, step))
            lines.append(f"     - {'→ ' + t.on_positive.value if t else '·'}")
    return lines


def _allows(step: str, klass: str) -> bool:
    """Whether REPLY_CODES lets a reply of class ``klass`` ("2", "3") answer ``step``."""
    return any(code.startswith(klass) for code in REPLY_CODES.get(step, frozenset()))


def _mermaid_name(state: State) -> str:
    return state.value


def mermaid_text() -> str:
    """A Mermaid stateDiagram-v2 of the positive and intermediate transitions (an edge for a
    reply class only where ``REPLY_CODES`` allows that class, so DATA has only its 354)."""
    out = ["stateDiagram-v2", "    [*] --> GREETING"]
    edges: dict[tuple[str, str], list[str]] = {}
    for (state, step), t in TRANSITIONS.items():
        targets = [(t.on_positive, step)] if _allows(step, "2") else []
        if t.on_intermediate is not None:
            targets.append((t.on_intermediate, f"{step} (3yz)"))
        for target, label in targets:
            if target is state and step in ("VRFY", "EXPN", "HELP", "NOOP", "UNKNOWN"):
                continue  # self-loops that change nothing would drown the picture
            edges.setdefault((_mermaid_name(state), _mermaid_name(target)), []).append(label)
    for (src, dst), labels in sorted(edges.items()):
        out.append(f"    {src} --> {dst}: {', '.join(dict.fromkeys(labels))}")
    out.append("    TLS --> HELLO: tls_established()")
    out.append("    CLOSED --> [*]")
    return "\n".join(out)


class StateTable(SphinxDirective):
    has_content = False
    option_spec = {"part": directives.unchanged}  # noqa: RUF012

    def run(self) -> list[nodes.Node]:
        part = self.options.get("part", "all").strip()
        lines: list[str] = []
        if part in ("all", "table"):
            lines += [*table_lines(), ""]
        if part in ("all", "matrix"):
            lines += [*matrix_lines(), ""]
        if part in ("all", "mermaid"):
            lines += [".. code-block:: text", ""]
            lines += ["   " + ln for ln in mermaid_text().splitlines()]
            lines.append("")
        if part not in ("all", "table", "matrix", "mermaid"):
            raise self.error(f"unknown part {part!r}: table, matrix or mermaid")
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="<smtpcore._state>"), 0, container)
        return container.children


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("smtpcore-state-table", StateTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
