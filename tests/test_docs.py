"""The documentation sources: the API reference lists every public name, the gallery is complete.

The site itself is built by ``make docs`` (in CI, warnings as errors); these checks are cheap.
"""

from __future__ import annotations

import re
from pathlib import Path

import emkit
import emkit.hmm
import emkit.plot

DOCS = Path(__file__).parents[1] / "docs"


def documented():
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    return set(re.findall(r"^\.\. auto(?:class|function):: ([\w.]+)", text, re.MULTILINE))


def test_api_reference_lists_every_public_name():
    names = documented()
    classes = {n for n in emkit.__all__ if n[0].isupper()}
    assert {f"emkit.{n}" for n in classes} <= names
    assert {f"emkit.hmm.{n}" for n in emkit.hmm.__all__} <= names
    plot_functions = set(emkit.plot.__all__) - {"KINDS"}
    assert {f"emkit.plot.{n}" for n in plot_functions} <= names


def test_every_example_is_a_gallery_script_with_a_title():
    examples = sorted((DOCS / "examples").glob("*.py"))
    assert len(examples) >= 5
    for path in examples:
        assert path.name.startswith("plot_"), f"{path.name}: sphinx-gallery runs plot_*.py"
        head = path.read_text(encoding="utf-8").split('"""')[1].strip().splitlines()
        assert len(head) >= 2 and set(head[1]) == {"="} and len(head[1]) >= len(head[0])
