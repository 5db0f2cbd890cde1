"""Every ```python block of README.md runs as a script (in a temporary directory)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(pytest.param(match.group(1), id=f"README.md:{line}"))
    return blocks


def test_the_readme_has_python_snippets():
    assert len(python_blocks()) >= 5


@pytest.mark.parametrize("code", python_blocks())
def test_readme_snippet_runs(code, tmp_path):
    for module in ("dask", "distributed"):
        if re.search(rf"^\s*(import|from) {module}\b", code, re.MULTILINE):
            if importlib.util.find_spec(module) is None:
                pytest.skip(f"this snippet needs {module}, which is not installed")
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
