"""Interop tests need real programs: skip without them, fail instead under CI.

``require_program(name)`` returns the program's path. When it is missing the test is skipped,
unless the environment variable ``SMTPCORE_REQUIRE_INTEROP=1`` is set (CI sets it): then the
test fails, so a missing peer can never pass unnoticed.
"""

from __future__ import annotations

import os
import shutil

import pytest

# Daemons such as nsd, dnsmasq and postfix live in sbin, often not on an ordinary user's PATH.
_EXTRA_PATH = os.pathsep.join(["/usr/local/sbin", "/usr/sbin", "/sbin"])


def require_program(name: str) -> str:
    """The path of program ``name``; skip the test without it (fail under REQUIRE_INTEROP=1)."""
    path = shutil.which(name) or shutil.which(name, path=_EXTRA_PATH)
    if path is not None:
        return path
    message = f"{name} is not installed"
    if os.environ.get("SMTPCORE_REQUIRE_INTEROP") == "1":
        pytest.fail(f"{message} (SMTPCORE_REQUIRE_INTEROP=1)")
    pytest.skip(message)
