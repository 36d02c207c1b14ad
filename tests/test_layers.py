"""The package's layers (docs/architecture.md): every `rlft` import, at module level or inside a function, points
down a layer or stays inside its own package, and no imports close a cycle. Siblings on one layer (data and envs,
rm and ppo, ...) do not import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rlft

ROOT = Path(rlft.__file__).parent

# bottom to top; a module belongs to the first entry its name starts with
LAYERS: list[tuple[str, ...]] = [
    ("rlft.core",),
    ("rlft.rewards",),
    ("rlft.data", "rlft.envs"),
    ("rlft.models",),
    ("rlft.eval",),
    ("rlft.rm", "rlft.ppo", "rlft.alol"),
    ("rlft.stages",),
    ("rlft.runner",),
    ("rlft.analysis",),
    ("rlft.cli",),
    ("rlft",),  # the public API: rlft.run, rlft.sweep, rlft.compare, ...
]


def module_name(path: Path, root: Path = ROOT) -> str:
    """rlft/core/config.py -> rlft.core.config; a package's __init__.py is the package."""
    parts = (root.name, *path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str], root: Path = ROOT) -> set[str]:
    """The rlft modules a file imports, anywhere in it; `from pkg import name` counts as pkg.name when that is
    a module."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    return {m for m in found if m in modules}


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    return {name: imports(path, set(files), root) - {name} for name, path in files.items()}


def layer(module: str, layers: list[tuple[str, ...]]) -> tuple[int, str]:
    """(rank, package) of a module: the most specific layer prefix it falls under."""
    best = max(((len(p), i, p) for i, group in enumerate(layers) for p in group
                if module == p or module.startswith(p + ".")), default=None)  # fmt: skip
    if best is None:
        raise AssertionError(f"{module} is in no layer; add it to LAYERS and docs/architecture.md")
    return best[1], best[2]


def upward(edges: dict[str, set[str]], layers: list[tuple[str, ...]]) -> list[str]:
    """Imports that point up a layer or across to a sibling package of the same layer.

    >>> upward({"rlft.core.a": {"rlft.stages.b"}, "rlft.stages.b": {"rlft.core.a"}},
    ...        [("rlft.core",), ("rlft.stages",), ("rlft",)])
    ['rlft.core.a imports rlft.stages.b (layer rlft.stages is above rlft.core)']
    """
    problems = []
    for module, targets in sorted(edges.items()):
        rank, package = layer(module, layers)
        for target in sorted(targets):
            t_rank, t_package = layer(target, layers)
            if t_rank > rank:
                problems.append(f"{module} imports {target} (layer {t_package} is above {package})")
            elif t_rank == rank and t_package != package:
                problems.append(f"{module} imports {target} (sibling packages {package} and {t_package})")
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles, each once, as the modules around it.

    >>> cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    [['a', 'b', 'c', 'a']]
    """
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_every_import_points_down():
    assert upward(graph(), LAYERS) == []


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_check_finds_an_upward_import_and_a_cycle(tmp_path):
    """A synthetic package with the two mistakes the rules exist for: core importing a stage (inside a
    function, where it once hid a cycle) and a cycle inside one layer."""
    pkg = tmp_path / "rlft"
    for rel, text in {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/config.py": "def check():\n    from rlft.stages import registry\n",
        "stages/__init__.py": "",
        "stages/registry.py": "from rlft.core import config\n",
        "stages/a.py": "from rlft.stages import b\n",
        "stages/b.py": "from . import a\n",
    }.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    edges = graph(pkg)
    assert edges["rlft.core.config"] == {"rlft.stages.registry"}
    assert upward(edges, LAYERS) == [
        "rlft.core.config imports rlft.stages.registry (layer rlft.stages is above rlft.core)"
    ]
    assert sorted(map(sorted, cycles(edges))) == [
        ["rlft.core.config", "rlft.core.config", "rlft.stages.registry"],
        ["rlft.stages.a", "rlft.stages.a", "rlft.stages.b"],
    ]


@pytest.mark.parametrize("module", ["rlft.rewards"])
def test_rewards_is_a_leaf(module):
    """`import rlft.rewards` loads the rewards package and the core it needs: no data, model, trainer, stage or
    pipeline module, and no torch."""
    import subprocess
    import sys

    code = (f"import {module}, sys; print(' '.join(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('rlft', 'torch', 'transformers', 'trl'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "rlft.rewards" in out
    assert [m for m in out if not m.startswith(("rlft.rewards", "rlft.core"))] == ["rlft"]
