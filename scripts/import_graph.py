"""Print which unseen modules import which, and every import cycle (issue #21).

  python scripts/import_graph.py          # module -> the unseen modules it imports
  python scripts/import_graph.py --cycles # only the cycles; exit 1 if there is one

Imports inside functions count too (marked *): a lazy import hides a cycle from Python, not from
the design. A package's `__init__` counts as the package.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph() -> dict[str, dict[str, bool]]:
    """module -> {imported unseen module: imported at module level}."""
    known = {module_name(p) for p in SRC.rglob("*.py")}
    out: dict[str, dict[str, bool]] = {}
    for path in sorted(SRC.rglob("*.py")):
        me = module_name(path)
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        edges: dict[str, bool] = {}
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("unseen"):
                subs = [f"{node.module}.{a.name}" for a in node.names]
                names = [n for n in subs if n in known] or [node.module]  # a name, or submodules
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("unseen")]
            for name in names:
                while name not in known and "." in name:
                    name = name.rsplit(".", 1)[0]
                if name in known and name != me and not me.startswith(name + "."):
                    edges[name] = edges.get(name, False) or id(node) in top
        out[me] = edges
    return out


def cycles(g: dict[str, dict[str, bool]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in g.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in g:
        if v not in index:
            visit(v)
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", action="store_true")
    args = ap.parse_args()
    g = graph()
    if not args.cycles:
        for m, edges in g.items():
            print(f"{m}: " + ", ".join(f"{k}{'' if top else '*'}" for k, top in sorted(edges.items())))
    found = cycles(g)
    for c in found:
        print("cycle: " + " <-> ".join(c))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
