"""Measure the import graph of corpusforge/ and train/: circles, function-local imports, the largest files.

    python scripts/import_graph.py            # a summary
    python scripts/import_graph.py --list     # also every circle and function-local import

Module-level imports (outside `if TYPE_CHECKING:`) make the graph; a circle is a strongly connected group of two or
more modules. A function-local import is an `import` of the project's own modules inside a function body: sometimes
needed to keep torch or vLLM out of a light command, often a sign of a knot.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]  # --root measures another checkout (an older commit's worktree)
PACKAGES = ("corpusforge", "train")
# the intended floors, lowest first: an import from a lower floor to a higher one points up a layer
FLOORS = [
    ("corpusforge.errors", "corpusforge.config", "corpusforge.polyhash", "corpusforge.io"),
    (  # the run core, and the root modules it was made of (to measure earlier commits)
        "corpusforge.runtime",
        "corpusforge.output",
        "corpusforge.progress",
        "corpusforge.runlock",
        "corpusforge.runguard",
        "corpusforge.sweeper",
        "corpusforge.watchdog",
        "corpusforge.procgroup",
    ),
    ("corpusforge.llm", "corpusforge.formats", "corpusforge.models"),
    ("corpusforge.pipeline", "corpusforge.decontam", "corpusforge.decontam_mc", "corpusforge.sources_check"),
    ("corpusforge.instruct",),
    ("corpusforge.builder", "corpusforge.build", "corpusforge.label", "corpusforge.eval"),
    ("corpusforge.report", "corpusforge.hub", "corpusforge.export"),
    ("corpusforge.cli", "corpusforge", "train"),  # the trainer is a package of its own beside the CLI
]


def floor(module: str) -> int:
    best, level = "", len(FLOORS)
    for i, names in enumerate(FLOORS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > len(best):
                best, level = name, i
    return level


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(node, module, is_package)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    found = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name.split(".")[0] in PACKAGES:
            found.append(name)
    return found


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def scan() -> tuple[nx.DiGraph, set[tuple[str, int, str]], dict[str, int]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    known = {module_name(p) for p in files}
    graph = nx.DiGraph()
    local: set[tuple[str, int, str]] = set()  # one per imported module and line
    sizes: dict[str, int] = {}
    for path in files:
        module, is_package = module_name(path), path.name == "__init__.py"
        text = path.read_text()
        sizes[str(path.relative_to(ROOT))] = text.count("\n")
        graph.add_node(module)
        tree = ast.parse(text)

        def visit(node: ast.AST, in_function: bool, module=module, is_package=is_package, path=path) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child):
                    continue
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    for target in _targets(child, module, is_package, known):
                        if target == module:
                            continue
                        if in_function:
                            local.add((str(path.relative_to(ROOT)), child.lineno, target))
                        else:
                            graph.add_edge(module, target)
                visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

        visit(tree, False)
    return graph, local, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print every circle and function-local import")
    parser.add_argument("--root", type=Path, help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    if args.root:
        global ROOT
        ROOT = args.root.resolve()
    graph, local, sizes = scan()
    # a package imports its own modules through __init__: that is its face, not a circle
    faces = [(a, b) for a, b in graph.edges if b.startswith(a + ".") or a.startswith(b + ".")]
    graph.remove_edges_from(faces)
    circles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    # a function-local import still ties two modules: circles counted over every import
    every = graph.copy()
    every.add_edges_from((module_name(ROOT / path), target) for path, _, target in local)
    every.remove_edges_from([(a, b) for a, b in every.edges if b.startswith(a + ".") or a.startswith(b + ".")])
    tied = [sorted(c) for c in nx.strongly_connected_components(every) if len(c) > 1]
    own = sum(path.startswith("corpusforge/") for path, _, _ in local)
    up = sorted((a, b) for a, b in every.edges if floor(a) < floor(b))
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
    print(f"modules: {graph.number_of_nodes()}, module-level imports: {graph.number_of_edges()}")
    print(
        f"import circles: {len(circles)} at module level; {len(tied)} counting function-local imports too "
        f"({sum(len(c) for c in tied)} modules in them)"
    )
    print(f"imports that point up a layer: {len(up)} (floors in FLOORS of this script)")
    print(f"function-local imports of the project's own modules: {len(local)} ({own} in corpusforge/)")
    print(
        f"files over 600 lines: {sum(n > 600 for n in sizes.values())}; largest: "
        + ", ".join(f"{p} {n}" for p, n in largest)
    )
    if args.list:
        for c in tied:
            print("circle:", " <-> ".join(c))
        for a, b in up:
            print(f"up: {a} -> {b}")
        for path, line, target in sorted(local):
            print(f"local: {path}:{line} -> {target}")


if __name__ == "__main__":
    main()
