"""The package modules a job script runs, found from its import statements (for the jobs' code stamps).

Snakemake re-runs a job when one of its inputs changes, but it does not see edits to a package the job
imports. Each rule therefore lists, as inputs, the modules of ``prestorepro`` that its script imports,
directly or through other modules, at the top of a file or inside a function: the static import
closure, read with ``ast`` (nothing is imported or run). ``modulefinder`` would do the same walk but
follows every third-party import too (torch alone is thousands of files) and cannot be limited to one
package; the walk below reads only this package's files.

A job module (``prestorepro.jobs.*``) holds several jobs, each importing what it needs inside its own
function; for ``from prestorepro.jobs.<stage> import <job>`` the walk takes the module's top-level
imports and those of that function (and of the module's functions it calls), not the other jobs', so
that editing plotting code plans no training job.

A package whose ``__init__`` calls ``import_submodules`` (``prestorepro.registry``: the methods of a
stage register themselves by being modules of it) imports every module beside it, and is read so.

A code stamp names the modules by their path inside the package's folder (``closure_by_name``), so a
finished run copied or mounted elsewhere plans nothing new.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "prestorepro"
PACKAGE_DIR = Path(__file__).resolve().parent


def _module_file(name: str) -> Path | None:
    """The file of module ``name`` (``prestorepro.a.b``) in this package, or None if it is not one."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.resolve().relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, here: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = here.split(".")
    drop = node.level - 1 if is_package else node.level
    base = base[: len(base) - drop] if drop else base
    return ".".join(base + ([node.module] if node.module else []))


def _submodules(package: str) -> set[str]:
    """Every module of a package of this one (its ``.py`` files and sub-packages), by name."""
    folder = _module_file(package)
    if folder is None or folder.name != "__init__.py":
        return set()
    return {f"{package}.{p.stem}" for p in folder.parent.glob("*.py") if p.name != "__init__.py"} | {
        f"{package}.{p.parent.name}" for p in folder.parent.glob("*/__init__.py")}


def _type_checking(node: ast.AST) -> bool:
    """An ``if TYPE_CHECKING:`` block: its imports name types for annotations and never run."""
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST):
    """``ast.walk`` without ``if TYPE_CHECKING:`` blocks."""
    todo = [node]
    while todo:
        n = todo.pop()
        if _type_checking(n):
            todo.extend(n.orelse)
            continue
        yield n
        todo.extend(ast.iter_child_nodes(n))


def _names_in(nodes, here: str, is_package: bool) -> set[str]:
    names: set[str] = set()
    for top in nodes:
        for node in _walk(top):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                module = _resolve(node, here, is_package)
                names.add(module)
                names.update(f"{module}.{alias.name}" for alias in node.names)
            elif (is_package and isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id == "import_submodules"):
                names.update(_submodules(here))
    return names


def _imported_names(path: Path, functions: set[str] | None = None, text: str | None = None) -> set[str]:
    """Every module name an ``import`` or ``from ... import`` in ``path`` may load, relative imports
    resolved; for ``from m import x`` both ``m`` and ``m.x`` (x may be a submodule). With ``functions``:
    only the module's top level and those functions, and the module's functions they name, transitively."""
    tree = ast.parse(path.read_text() if text is None else text, filename=str(path))
    here = _module_name(path) if path.resolve().is_relative_to(PACKAGE_DIR) else ""
    is_package = path.name == "__init__.py"
    if functions is None:
        return _names_in([tree], here, is_package)
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    top = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    chosen, todo = set(), [f for f in functions if f in defs]
    while todo:
        name = todo.pop()
        if name in chosen:
            continue
        chosen.add(name)
        for node in ast.walk(defs[name]):
            if isinstance(node, ast.Name) and node.id in defs and node.id not in chosen:
                todo.append(node.id)
    return _names_in(top + [defs[f] for f in chosen], here, is_package)


def _job_functions(path: Path, text: str | None = None) -> dict[str, set[str]]:
    """For each ``from prestorepro.jobs.<stage> import f, ...`` in ``path``: the module and its names."""
    out: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text() if text is None else text, filename=str(path))):
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith(f"{PACKAGE}.jobs."):
            out.setdefault(node.module, set()).update(alias.name for alias in node.names)
    return out


def _with_parents(name: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a/__init__``, ``a/b/__init__`` and ``a/b/c``."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def import_closure(script: str | Path, text: str | None = None) -> list[Path]:
    """The package's files that ``script`` may run: its imports of ``prestorepro`` and theirs, sorted;
    of a job module only the jobs ``script`` imports (see the module docstring). ``text``: the script's
    source, when it is not a local file (a workflow loaded as a module from a git repository)."""
    script = Path(script)
    seen: set[Path] = set()
    todo: list[tuple[Path, set[str] | None]] = []
    jobs = _job_functions(script, text)
    for module, functions in jobs.items():
        f = _module_file(module)
        if f is not None:
            seen.add(f)
            todo.append((f, functions))
    first = [(script, None, text)]
    while first or todo:
        path, functions, source = first.pop() if first else (*todo.pop(), None)
        for name in _imported_names(path, functions, source):
            for parent in _with_parents(name):
                f = _module_file(parent)
                if f is not None and f not in seen and parent not in jobs:
                    seen.add(f)
                    todo.append((f, None))
    return sorted(seen)


def closure_by_name(script: str | Path, text: str | None = None) -> dict[str, Path]:
    """``import_closure(script)`` keyed by each file's path inside the package's folder
    (``prestorepro/io.py``): names that hold wherever the package is installed (a code stamp's keys)."""
    return {p.relative_to(PACKAGE_DIR.parent).as_posix(): p for p in import_closure(script, text)}
