"""Measures of how easy the code is to change, read from the source alone (nothing is imported or run):

- parameters: every function and method in src/ with more than 8 parameters (all named ones, keyword-only
  included, ``*args`` and ``**kwargs`` counted as one each; ``self`` and ``cls`` not counted), and the largest;
- run_presto: the length in lines of ``prestorepro.presto.algorithm.run_presto``;
- modules: the longest module of the package, in lines;
- import circles: strongly connected groups of the package's modules, following every import of one package
  module by another (at the top or inside a function);
- README: its length in lines and bytes.

    python benchmarks/code_measures.py            # the table
    python benchmarks/code_measures.py --json     # the same, machine-readable

tests/test_structure.py holds the code to these measures.
"""
from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "prestorepro"
MAX_PARAMETERS = 8
MAX_MODULE_LINES = 400  # docs/architecture.md states it


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = node.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names) + (a.vararg is not None) + (a.kwarg is not None)


def functions() -> list[dict]:
    """Every function of the package: module, qualified name, parameter count, length in lines."""
    out = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(), filename=str(path))

        def visit(node, prefix):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    qual = f"{prefix}{child.name}"
                    out.append({"module": name, "function": qual, "parameters": parameter_count(child),
                                "lines": child.end_lineno - child.lineno + 1,
                                "file": str(path.relative_to(ROOT)), "line": child.lineno})
                    visit(child, qual + ".")
                elif isinstance(child, ast.ClassDef):
                    visit(child, f"{prefix}{child.name}.")
                else:
                    visit(child, prefix)

        visit(tree, "")
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (a name imported from a package that is itself a module
    counts as that module)."""
    mods = modules()
    graph = {m: set() for m in mods}
    for name, path in mods.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name and t.startswith("prestorepro"):
                    graph[name].add(t)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.append(m)
                    if m == node:
                        break
                if len(group) > 1:
                    out.append(sorted(group))
    return out


def measure() -> dict:
    funcs = functions()
    over = sorted((f for f in funcs if f["parameters"] > MAX_PARAMETERS), key=lambda f: -f["parameters"])
    presto = [f for f in funcs if f["module"] == "prestorepro.presto.algorithm" and f["function"] == "run_presto"]
    readme = ROOT / "README.md"
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in modules().values()}
    longest = max(lengths, key=lengths.get)
    return {
        "largest_parameter_count": max(f["parameters"] for f in funcs),
        "functions_over_limit": [{k: f[k] for k in ("file", "function", "parameters")} for f in over],
        "run_presto_lines": presto[0]["lines"] if presto else None,
        "longest_module": {"file": longest, "lines": lengths[longest]},
        "import_circles": circles(import_graph()),
        "readme_lines": len(readme.read_text().splitlines()),
        "readme_bytes": readme.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    m = measure()
    if parser.parse_args().json:
        print(json.dumps(m, indent=2))
        return
    print(f"largest parameter count      {m['largest_parameter_count']}")
    print(f"functions over {MAX_PARAMETERS} parameters   {len(m['functions_over_limit'])}")
    for f in m["functions_over_limit"]:
        print(f"    {f['parameters']:3d}  {f['file']}:{f['function']}")
    print(f"run_presto                   {m['run_presto_lines']} lines")
    print(f"longest module               {m['longest_module']['file']}, {m['longest_module']['lines']} lines")
    print(f"import circles               {len(m['import_circles'])}")
    for c in m["import_circles"]:
        print("    " + " <-> ".join(c))
    print(f"README                       {m['readme_lines']} lines, {m['readme_bytes']} bytes")


if __name__ == "__main__":
    main()
