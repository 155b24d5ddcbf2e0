"""The layering rules of DESIGN.md, checked on the source with ``ast``.

core < I/O (_backends) < adapters (_async, _sync, sync, aio, _aio_session, testing) <
services (mx, dsn, relay) < application (_cli, __main__, _tools). A module imports only from
its own layer or below; the core imports no I/O module, reads no clock and rolls no dice;
only ``mx`` imports ``dns``; and ``import smtpcore`` loads neither asyncio, ssl nor dns.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "smtpcore"

CORE, IO, ADAPTERS, SERVICES, APPLICATION = range(5)
LAYER_NAMES = ["core", "I/O", "adapters", "services", "application"]

# Top-level stdlib modules the sans-I/O core must never import: sockets, event loops,
# threads, clocks and dice (DESIGN.md "Layers").
CORE_FORBIDDEN = {
    "socket",
    "ssl",
    "asyncio",
    "selectors",
    "threading",
    "time",
    "dns",
    "random",
    "secrets",
    "select",
    "subprocess",
    "urllib",
    "http",
    "datetime",
    "concurrent",
}


def layer_of(module: str) -> int:
    """The layer of a dotted module name inside smtpcore (``smtpcore._data`` -> core)."""
    parts = module.split(".")[1:]
    head = parts[0] if parts else "__init__"
    if head == "_backends":
        return IO
    if head in {"_async", "_sync", "sync", "aio", "_aio_session", "testing"}:
        return ADAPTERS
    if head in {"mx", "dsn", "relay"} or head.startswith(("_dsn", "_relay")):
        return SERVICES
    if head in {"_cli", "__main__", "_tools"} or head.startswith("_cli_"):
        return APPLICATION
    return CORE


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(imported absolute module, line) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # ``from . import sasl`` imports the submodule sasl
            for alias in node.names:
                found.append((f"{target}.{alias.name}", node.lineno))
    return found


def all_modules() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def test_there_are_modules_to_check() -> None:
    assert len(all_modules()) >= 3


@pytest.mark.parametrize("path", all_modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_layering(path: Path) -> None:
    mod = module_name(path)
    mine = layer_of(mod)
    problems = []
    for target, line in imports_of(path):
        top = target.split(".")[0]
        if top == "smtpcore":
            head = target.split(".")[1] if "." in target else "__init__"
            if not ((PKG / head).is_dir() or (PKG / f"{head}.py").exists()):
                continue  # a name imported from the package itself, e.g. "smtpcore.Reply"
            theirs = layer_of(target)
            if theirs > mine:
                problems.append(
                    f"line {line}: {LAYER_NAMES[mine]} module {mod} imports "
                    f"{LAYER_NAMES[theirs]} module {target}"
                )
        elif mine == CORE and top in CORE_FORBIDDEN:
            problems.append(f"line {line}: core module {mod} imports {target}")
        elif top == "dns" and mod != "smtpcore.mx":
            problems.append(f"line {line}: only smtpcore.mx may import dns, not {mod}")
    assert not problems, "\n".join(problems)


def test_import_smtpcore_loads_no_io() -> None:
    code = (
        "import sys, smtpcore\n"
        "io = ('asyncio', 'ssl', 'dns', 'socket', 'selectors')\n"
        "bad = sorted(m for m in io if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "", f"import smtpcore loaded: {out.stdout.strip()}"


def test_layer_of_knows_the_design() -> None:
    assert layer_of("smtpcore._data") == CORE
    assert layer_of("smtpcore.sasl") == CORE
    assert layer_of("smtpcore._mx") == CORE
    assert layer_of("smtpcore._backends.sync") == IO
    assert layer_of("smtpcore._async.client") == ADAPTERS
    assert layer_of("smtpcore.mx") == SERVICES
    assert layer_of("smtpcore._cli") == APPLICATION
    assert layer_of("smtpcore._cli_mx") == APPLICATION
    assert layer_of("smtpcore._client") == CORE
