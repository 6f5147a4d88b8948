"""Dependencies point inward (docs/architecture.md): each layer imports only the layers below it.

Read from the source with `ast`, so a new import that points the wrong way fails here by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "imagegate"

# layer -> the layers (top-level names under imagegate) it must never import
FORBIDDEN: dict[str, set[str]] = {
    "domain": {
        "db",
        "http",
        "web",
        "service",
        "routing",
        "providers",
        "storage",
        "state",
        "observability",
        "wiring",
        "cli",
        "config",
        "provenance",
    },
    "providers": {
        "db",
        "http",
        "web",
        "service",
        "routing",
        "storage",
        "state",
        "observability",
        "wiring",
        "cli",
        "provenance",
    },
    "provenance": {
        "db",
        "http",
        "web",
        "service",
        "routing",
        "providers",
        "storage",
        "state",
        "observability",
        "wiring",
        "cli",
    },
    "storage": {"db", "http", "web", "service", "routing", "providers", "state", "observability", "wiring", "cli"},
    "state": {"db", "http", "web", "service", "routing", "providers", "storage", "observability", "wiring", "cli"},
    "db": {"http", "web", "service", "routing", "providers", "storage", "state", "observability", "wiring", "cli"},
    "routing": {"db", "http", "web", "service", "storage", "state", "observability", "wiring", "cli", "provenance"},
    "service": {"http", "web", "wiring", "cli"},
    "observability": {"http", "web", "wiring", "cli"},
    "config": {
        "db",
        "http",
        "web",
        "service",
        "routing",
        "providers",
        "storage",
        "state",
        "observability",
        "wiring",
        "node",
        "cli",
        "provenance",
    },
    "http": {"cli"},
    "web": {"cli"},
}


def _imported_layers(path: Path) -> set[str]:
    """The top-level `imagegate` names a module imports (relative imports resolved)."""
    module = path.relative_to(PACKAGE.parent).with_suffix("").parts  # ("imagegate", "service", "admin")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module[: len(module) - node.level]
                target = (*base, *(node.module.split(".") if node.module else ()))
                names = [(*target, alias.name) for alias in node.names] if len(target) == 1 else [target]
            else:
                names = [tuple(node.module.split("."))] if node.module else []
            for name in names:
                if name[0] == "imagegate" and len(name) > 1:
                    found.add(name[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "imagegate" and len(parts) > 1:
                    found.add(parts[1])
    return found


LAYER_MODULES = [p for layer in FORBIDDEN for p in sorted((PACKAGE / layer).rglob("*.py"))]


@pytest.mark.parametrize("path", LAYER_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_inward(path: Path) -> None:
    layer = path.relative_to(PACKAGE).parts[0]
    wrong = _imported_layers(path) & FORBIDDEN[layer]
    assert not wrong, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(wrong)}: see docs/architecture.md"


def test_nothing_below_the_edge_imports_the_edge() -> None:
    edge = {"http", "web", "wiring", "node", "cli"}
    inner = [
        p
        for p in PACKAGE.rglob("*.py")
        if p.relative_to(PACKAGE).parts[0].removesuffix(".py") not in edge | {"__main__"}
    ]
    wrong = {str(p.relative_to(PACKAGE)): sorted(_imported_layers(p) & edge) for p in inner}
    assert {k: v for k, v in wrong.items() if v} == {}
