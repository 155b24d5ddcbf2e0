"""Sphinx configuration for smtpcore's documentation.

Built in CI with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` and
``-b doctest``: every warning is an error, and every ``>>>`` sample in these pages runs.
No network access is needed (intersphinx is off).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

import smtpcore  # noqa: E402

project = "smtpcore"
author = "smtpcore developers"
copyright = "smtpcore developers"
release = smtpcore.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "myst_parser",  # docs/interop.md and docs/security.md are Markdown
    "smtpcore_states",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

exclude_patterns = ["_build"]
templates_path: list[str] = []
html_static_path: list[str] = []
html_theme = "furo"
html_title = f"smtpcore {release}"
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# Autodoc: members in the order of the source, signatures with types, and nothing fails the
# build because a docstring points at a private name.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Members are listed per directive, in the order people use them (see docs/api/).
autodoc_default_options: dict[str, object] = {}
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Doctest: the pages import what they use; this only keeps them short.
doctest_global_setup = f"""
import smtpcore
DOCS = {str(HERE)!r}  # the docs folder, for sample files under docs/_data
"""
doctest_test_doctest_blocks = "default"

# "more than one target found for cross-reference 'type'": annotations such as
# ``type[NEED_DATA]`` meet attributes named ``type`` (smtpcore.dsn.TypedAddress.type); the
# builtin is meant, and an ambiguous link is no error in the text.
suppress_warnings = ["ref.python"]
nitpicky = False


def _keep_property_prose(
    app: object, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Napoleon reads the first line of an attribute or property docstring as ``type: text``
    (Google style), so prose such as "The capabilities as advertised now: no STARTTLS ..."
    loses everything before the colon to a "Type:" field. smtpcore writes prose, not Google
    style: an empty RST comment in front makes napoleon take that comment as the "type-less"
    line and leave the prose as it is."""
    if what in ("attribute", "property", "data") and any(":" in line for line in lines[:1]):
        lines[:0] = ["..", ""]


def setup(app: Any) -> None:
    # Priority 400: before napoleon's own handler (500).
    app.connect("autodoc-process-docstring", _keep_property_prose, priority=400)
