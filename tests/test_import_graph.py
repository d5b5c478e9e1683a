"""No import circles in engine/ or tui/: the whole import graph, function-level imports included.

import-linter checks the layers between packages; this walks every module-to-module edge (grimp,
which reads imports inside functions too), so a circle hidden behind a late import still fails.
Imports under ``if TYPE_CHECKING:`` count too: they never run, but a circle of types is still a
circle of meaning (a screen that names the app that imports every screen), and mypy follows it.
"""

from __future__ import annotations

import grimp

ROOTS = ("engine", "tui")


def _graph() -> dict[str, set[str]]:
    g = grimp.build_graph(*ROOTS, exclude_type_checking_imports=False)
    ours = {m for m in g.modules if m.split(".")[0] in ROOTS}
    return {m: set(g.find_modules_directly_imported_by(m)) & ours for m in ours}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_in_engine_or_tui() -> None:
    edges = _graph()
    assert "engine.api" in edges and "tui.app" in edges
    assert "tui.host" in edges["tui.screens.base"]  # a TYPE_CHECKING-only edge: they count
    assert cycles(edges) == []
