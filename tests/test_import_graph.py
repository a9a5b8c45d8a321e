"""The import graph of ``src/snnbench``: no cycles, and every import follows the pipeline

    data -> encoding -> neurons/synapses -> learning -> models -> metrics -> experiments
         -> report -> cli

(a module imports only from its own stage or an earlier one). Built from the source with
the stdlib ``ast`` module, so lazy imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "snnbench"

# Stage of every subpackage and top-level module. Private helpers shared by every stage
# (validation, atomic files, native builds, valid-step masks) come first; the package root
# re-exports every stage. A new subpackage or top-level module must be named here.
STAGES: dict[str, int] = {
    "_validation": 0, "_signature": 0, "_files": 0, "_native": 0, "_steps": 0, "_version": 0,
    "data": 1,
    "encoding": 2,
    "neurons": 3, "synapses": 3,
    "learning": 4,
    "models": 5, "interop": 5,
    "metrics": 6,
    "experiments": 7,
    "report": 8,
    "cli": 9, "cli_data": 9, "scale_cli": 9, "cli_interop": 9, "__main__": 9,
    "": 10,  # snnbench/__init__.py
}

# Imports against the order that are known and not yet resolved: (importer, imported) -> why.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("snnbench.data.fsdd", "snnbench.encoding.cochlea"):
        "the 'fsdd-spikes' dataset is cached cochlea spikes: a dataset built by an encoder",
    ("snnbench.encoding.cochlea", "snnbench.neurons.lif"):
        "the cochlea encoder's spike generator is one LIF unit per channel",
}


def _is_module(name: str) -> bool:
    path = SRC.parent / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, name: str, is_package: bool) -> set[str]:
    """snnbench modules that module ``name`` imports (absolute and relative, at any depth).
    ``from pkg import x`` counts as importing ``pkg.x`` when that is a module, else ``pkg``."""
    package = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "snnbench")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] == "snnbench":
                out.update(f"{mod}.{a.name}" if _is_module(f"{mod}.{a.name}") else mod for a in node.names)
    return out


def _graph() -> dict[str, set[str]]:
    return {
        _module_name(p): imports_of(p.read_text(), _module_name(p), p.name == "__init__.py")
        for p in sorted(SRC.rglob("*.py"))
    }


def _stage(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else ""
    assert key in STAGES, f"{module}: add its subpackage or module {key!r} to STAGES in this test"
    return STAGES[key]


def test_every_module_has_a_stage():
    for module in _graph():
        _stage(module)


def test_imports_follow_the_pipeline_order():
    bad = [
        f"{module} (stage {_stage(module)}) imports {dep} (stage {_stage(dep)})"
        for module, deps in _graph().items()
        for dep in deps
        if _stage(dep) > _stage(module) and (module, dep) not in KNOWN_EXCEPTIONS
    ]
    assert not bad, "imports against the pipeline order:\n" + "\n".join(sorted(bad))


def test_known_exceptions_still_exist():
    """An exception that was fixed must leave the list (so the list cannot rot)."""
    graph = _graph()
    gone = [f"{a} -> {b}" for a, b in KNOWN_EXCEPTIONS if b not in graph.get(a, set())]
    assert not gone, "remove from KNOWN_EXCEPTIONS: " + ", ".join(gone)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every back edge of a depth-first search, as the cycle it closes."""
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def test_no_import_cycles():
    cycles = find_cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checks_see_what_they_look_for():
    """Relative imports resolve (so a violation cannot hide) and a cycle is found."""
    src = "from ..experiments.config import X\nfrom . import registry\nimport snnbench.cli\n"
    assert imports_of(src, "snnbench.data.x", False) == {
        "snnbench.experiments.config", "snnbench.data.registry", "snnbench.cli"}
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
