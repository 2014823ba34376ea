"""Static import graph of a package tree, for the import-rule tests.

Every ``import`` and ``from … import`` anywhere in a module counts (also inside functions
and under ``if TYPE_CHECKING``: a circle held apart only by a late or typing-time import is
still a circle to a reader).  Importing ``a.b.c`` also runs ``a`` and ``a.b``, so the
parent packages count as imported too.
"""

from __future__ import annotations

import ast
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    """``gateway/core/intake/__init__.py`` -> ``gateway.core.intake``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    names: set[str] = set()
    if isinstance(node, ast.Import):
        names = {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            base = base[: len(base) - node.level + (1 if is_package else 0)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = {prefix}
        names |= {f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in known}
    found: set[str] = set()
    for name in names:
        parts = name.split(".")
        found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {n for n in found if n in known}


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same tree it imports (including parent packages)."""
    files = {module_name(root, p): p for p in root.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            edges |= _targets(node, module, path.name == "__init__.py", known)
        # a module's own parent packages run before it: not an import of the module's own
        edges -= {module}
        edges -= {p for p in known if module.startswith(p + ".")}
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]], within: str) -> list[str] | None:
    """One import circle among the modules under ``within`` (as a path), or None."""
    nodes = {m for m in graph if m == within or m.startswith(within + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m] & nodes):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state and (cycle := visit(n)) is not None:
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(nodes):
        if m not in state and (cycle := visit(m)) is not None:
            return cycle
    return None
