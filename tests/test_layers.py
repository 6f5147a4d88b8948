"""Dependencies point inward (docs/architecture.md): each package imports only the packages it is allowed.

An allow-list, read from the source with `ast`: every module of `imagegate` belongs to a package (or is a root
module) listed here, so a new package is constrained from its first line, and a new import that points the
wrong way fails here by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "imagegate"

# package (or root module) -> the packages and root modules it may import ("__init__": the version)
ALLOWED: dict[str, set[str]] = {
    # the pure centre, and leaf helpers beside it
    "domain": set(),
    "host": set(),  # the machine: atomic files, live pids
    "imaging": {"domain"},  # Pillow work
    # adapters: implement the domain's ports
    "providers": {"domain", "imaging", "config"},  # config.setting: their credential variables
    "provenance": {"domain", "imaging"},
    "storage": {"domain", "host"},
    "state": {"domain", "host"},
    "db": {"domain"},
    "config": {"domain"},  # each setting declared once, in its section
    # the upstream call, and the use cases
    "routing": {"domain", "imaging", "providers"},
    "service": {"domain", "db", "routing", "imaging", "host"},
    "observability": {"domain"},  # the Prometheus Meter, logs, redaction
    # the composition root
    "wiring": {
        "__init__",
        "config",
        "domain",
        "imaging",
        "db",
        "state",
        "storage",
        "providers",
        "provenance",
        "routing",
        "service",
        "observability",
    },
    # the edges: the API, the pages, the command line; the served app mounts the first two
    "http": {"__init__", "config", "domain", "service", "observability", "wiring"},
    "web": {"domain", "service", "http"},
    "asgi": {"config", "http", "web", "node", "observability", "wiring"},
    "node": {"config", "observability", "wiring"},  # a node's start and stop (serve's lifespan, worker)
    "cli": {"__init__", "config", "domain", "service", "wiring", "http", "asgi", "node"},
    "__main__": {"cli"},
    "__init__": set(),
}

# module -> what it imports beyond its package's list, and why (each one an arrow to cut, not a pattern)
EXCEPTIONS: dict[str, set[str]] = {
    "storage/factory.py": {"config"},  # picks the store from IMAGEGATE_STORAGE_URL's scheme
    "service/operator/doctor.py": {"config", "providers", "provenance"},  # its probes and the C2PA check (issue 20.6)
    "service/images/files.py": {"storage"},  # the URL signer's verdict on a download
    "http/unavailable.py": {"db"},  # which database errors mean "unreachable" (503)
}


def _imported_layers(path: Path) -> set[str]:
    """The top-level `imagegate` names a module imports (relative imports resolved; `from .. import
    __version__` is the package root, `__init__`)."""
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
                    found.add("__init__" if name[1].startswith("__version") else name[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "imagegate" and len(parts) > 1:
                    found.add(parts[1])
    return found


def _package(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_inward(path: Path) -> None:
    name = str(path.relative_to(PACKAGE))
    package = _package(path)
    assert package in ALLOWED, f"{name}: package '{package}' is not in tests/test_layers.py's ALLOWED list"
    allowed = ALLOWED[package] | {package} | EXCEPTIONS.get(name, set())
    wrong = _imported_layers(path) - allowed
    assert not wrong, f"{name} ({package}) imports {sorted(wrong)}: see docs/architecture.md"


def test_migrations_import_only_the_database_layer() -> None:
    for path in (PACKAGE / "db" / "migrations").rglob("*.py"):
        assert _imported_layers(path) <= {"db", "domain"}, path


def test_every_exception_names_a_module_that_needs_it() -> None:
    """An exception outlives its arrow only by mistake: once the import is gone, so is the line."""
    for name, extra in EXCEPTIONS.items():
        path = PACKAGE / name
        assert path.exists(), f"EXCEPTIONS names {name}, which no longer exists"
        needed = _imported_layers(path) - ALLOWED[_package(path)] - {_package(path)}
        assert extra == needed, f"{name}: EXCEPTIONS says {sorted(extra)}, the module needs {sorted(needed)}"


def test_nothing_imports_the_edge_but_the_edge() -> None:
    edge = {"http", "web", "asgi", "node", "cli", "wiring", "__main__"}
    for package, allowed in ALLOWED.items():
        if package not in edge:
            assert not allowed & edge, f"{package} may import {sorted(allowed & edge)}"
