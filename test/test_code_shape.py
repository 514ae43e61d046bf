"""The code's shape, read from its source: the layers of degram_core import downwards only,
the nodes use only the runtime side, and no function is longer than a reader can hold."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 80
# What each part of degram_core must not import (degram_core/__init__.py gives the rule).
FORBIDDEN = {
    "nn": ("runtime", "data", "training", "scoring", "galleries", "commands"),
    "runtime": ("data", "training", "scoring", "galleries", "commands"),
    "galleries": ("data", "training", "scoring", "commands"),
    "data": ("training", "scoring", "galleries", "commands"),
    "scoring": ("training", "galleries", "commands"),
}
RUNTIME_SIDE = ("degram_core.runtime", "degram_core.galleries")


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imported(path: Path, text: str | None = None) -> set[str]:
    """Every module `path` (or `text` as if it were that file) imports, absolute."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text() if text is None else text)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            # `from . import x` imports the module x
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_no_layer_above_it(layer):
    bad = {f"degram_core.{name}" for name in FORBIDDEN[layer]}
    for path in sources(f"degram_core/{layer}"):
        wrong = sorted(m for m in imported(path) if any(m == b or m.startswith(b + ".") for b in bad))
        assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


def test_the_nodes_use_only_the_runtime_side_of_degram_core():
    for path in sources("degram_ros"):
        core = sorted(m for m in imported(path) if m.split(".")[0] == "degram_core")
        wrong = [m for m in core if not m.startswith(RUNTIME_SIDE)]
        assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


def test_the_rule_sees_relative_imports():
    """The check itself: a runtime module importing training, relatively, is seen."""
    found = imported(ROOT / "degram_core" / "runtime" / "probe.py",
                     "from ..training import train\nfrom . import stream\n")
    assert "degram_core.training" in found and "degram_core.runtime.stream" in found


@pytest.mark.parametrize("folder", ["degram_core", "degram_ros"])
def test_no_function_is_longer_than_80_lines(folder):
    long = []
    for path in sources(folder):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, long
