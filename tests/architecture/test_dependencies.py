"""The dependency rule, read from the source: victims -> takedown -> detection, and no cycle between Django apps.

Every import statement counts, at module level or inside a function, because a deferred import is still a
dependency at run time. The project package's composition root (settings, urls, celery, wsgi/asgi) may name every
app; it is not an app.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]
COMPOSITION_ROOT = {"takedown.settings", "takedown.urls", "takedown.celery", "takedown.wsgi", "takedown.asgi",
                    "takedown"}


def _app_names() -> list[str]:
    """Our Django apps, and takedown's other packages (the partner API) as units of their own."""
    ours = {config.name for config in apps.get_app_configs()
            if config.name.split(".")[0] in {"takedown", "victims", "detection"}}
    ours |= {f"takedown.{path.parent.name}" for path in (ROOT / "takedown").glob("*/__init__.py")}
    return sorted(ours, key=len, reverse=True)


def _app_of(module: str, names: list[str]) -> str | None:
    for name in names:
        if module == name or module.startswith(name + "."):
            return name
    return None


def _imports() -> dict[tuple[str, str], set[str]]:
    """(importing app, imported app) -> the files that make the edge."""
    names = _app_names()
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for top in ("takedown", "victims", "detection"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT)
            module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            if module in COMPOSITION_ROOT or "migrations" in rel.parts:
                continue
            source = _app_of(module, names)
            assert source is not None, f"{rel} belongs to no Django app"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets = [node.module]
                else:
                    continue
                for target in targets:
                    imported = _app_of(target, names)
                    if imported and imported != source:
                        edges[(source, imported)].add(str(rel))
    return edges


def test_the_apps_are_found() -> None:
    edges = _imports()
    assert ("victims", "takedown.cases") in edges and ("takedown.partners", "detection") in edges


def test_takedown_and_detection_never_import_victims() -> None:
    wrong = {edge: sorted(files) for edge, files in _imports().items()
             if edge[1] == "victims" and edge[0] != "victims"}
    assert wrong == {}


def test_detection_imports_neither_takedown_nor_victims() -> None:
    wrong = {edge: sorted(files) for edge, files in _imports().items()
             if edge[0] == "detection" and edge[1] != "detection"}
    assert wrong == {}


def test_no_import_cycle_between_apps() -> None:
    edges = _imports()
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    cycles = []
    # Any cycle passes through some edge a -> b with a path b -> ... -> a.
    for source, target in edges:
        seen, stack = set(), [target]
        while stack:
            node = stack.pop()
            if node == source:
                cycles.append((source, target, sorted(edges[(source, target)])))
                break
            if node not in seen:
                seen.add(node)
                stack.extend(graph[node])
    assert cycles == []
