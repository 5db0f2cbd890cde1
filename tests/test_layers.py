"""The layer rules of DESIGN.md, read from the source: imports point downward, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import emkit

ROOT = Path(emkit.__file__).resolve().parent

# Layer of each top-level part of the package; a module may import only from its own layer or
# lower ones (kernels lowest). Leaf packages (io, cli, plot) sit on top of models.
LAYERS = {
    "_version": 0,
    "exceptions": 0,
    "kernels": 1,
    "latent": 2,
    "families": 3,
    "criteria": 3,
    "_validation": 3,
    "engine": 4,
    "models": 5,
    "hmm": 6,
    "io": 7,
    "cli": 8,
    "plot": 8,
}
# Extra rules of the house, beyond the ordering above.
FORBIDDEN = {
    "kernels": {"latent", "families", "engine", "models", "io", "cli", "hmm", "_validation"},
    "latent": {"families", "engine", "models"},
    "families": {"engine", "models", "latent"},
}


def _module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["emkit", *parts])


def _resolve(name):
    """The emkit module a dotted import name refers to (a module, a package, or None)."""
    parts = name.split(".")
    while parts:
        candidate = ROOT.joinpath(*parts[1:])
        if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
            return ".".join(parts)
        parts = parts[:-1]
    return None


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] != "emkit":
                continue
            target = _resolve(name)
            if target and target != me:
                found.add(target)
    return found


def _graph():
    return {
        _module_name(p): _imports(p) for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts
    }


def _part(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


GRAPH = _graph()


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _part(m) is not None))
def test_imports_point_down_the_layers(module):
    mine = _part(module)
    assert mine in LAYERS, f"{module}: add its part {mine!r} to LAYERS in this test"
    for target in GRAPH[module]:
        other = _part(target)
        if other is None:
            pytest.fail(f"{module} imports the top-level emkit package; import the module")
        assert other in LAYERS, f"{target}: add its part {other!r} to LAYERS in this test"
        assert other not in FORBIDDEN.get(mine, ()), f"{module} must not import {target}"
        assert LAYERS[other] <= LAYERS[mine], f"{module} imports {target}, a higher layer"


def test_no_import_cycles():
    colour = {}
    stack = []

    def visit(node):
        colour[node] = "grey"
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if colour.get(nxt) == "grey":
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in colour:
                visit(nxt)
        stack.pop()
        colour[node] = "black"

    for module in sorted(GRAPH):
        if module not in colour:
            visit(module)
