"""The house rules (docs/architecture.md), checked on the source: no import cycles, imports
point down the layers only, no module imports another's private ``_name``, no file over 500
lines, one public name is one object, and no function shadows its own module.

The import graph is built from the source with :mod:`ast` (every ``import`` and ``from ...
import``, at module level or inside functions: a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOPS = {"theory": "mesabase.theory", "sims": "mesabase.sims", "proofs": "mesabase.proofs"}
MAX_LINES = 500

#: Layers, lowest first: a module may import its own folder and any lower layer, never a
#: higher one or another folder of the same layer. The key is the longest matching module
#: prefix; every module must match one (a new folder is placed here on purpose).
LAYERS = {
    # mesabase.theory: the MDP and what every computation shares, then solvers/, then what
    # is built on solving (bandits/, history/), then attribution/.
    "mesabase.theory.checks": 0, "mesabase.theory.rationals": 0.5,
    "mesabase.theory.rowcheck": 0.6,
    "mesabase.theory.mdp": 1, "mesabase.theory.solution": 2,
    "mesabase.theory.episodic": 3, "mesabase.theory.evaluation": 4,
    "mesabase.theory.examples": 5, "mesabase.theory.convert": 5.1,
    "mesabase.theory.strategies": 5.2,
    "mesabase.theory.solvers": 10,
    "mesabase.theory.bandits": 11, "mesabase.theory.history": 12,
    "mesabase.theory.attribution": 16,
    "mesabase.theory": 19,
    # mesabase.sims (above every theory module)
    "mesabase.sims.files": 20, "mesabase.sims.envs": 20.5,
    "mesabase.sims.agents": 21,
    "mesabase.sims.simulation": 22,
    "mesabase.sims.scenarios": 23,
    "mesabase.sims.attribution": 24,
    "mesabase.sims.reports": 25,
    "mesabase.sims.meta": 26, "mesabase.sims.experiments": 26,
    "mesabase.sims.cli": 27,
    "mesabase.sims": 29,
    # mesabase.proofs (above sims)
    "mesabase.proofs.base": 30, "mesabase.proofs": 31,
}


def _none(found: list[str]) -> None:
    assert not found, "violations:\n" + "\n".join(sorted(found))


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for folder, name in TOPS.items():
        for f in (ROOT / folder).rglob("*.py"):
            parts = list(f.relative_to(ROOT / folder).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            mods[".".join([name, *parts])] = (f, is_pkg)
    return mods


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, str | None, int]]:
    """(target module, imported name or None, line) for every mesabase import in ``name``."""
    path, is_pkg = MODULES[name]
    package = name if is_pkg else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("mesabase"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    out.append((sub, None, node.lineno))
                else:
                    out.append((target, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names
                    if a.name.startswith("mesabase")]
    return out


GRAPH = {m: {t for t, _, _ in _imports(m) if t in MODULES and t != m} for m in MODULES}


def _layer(module: str) -> tuple[str, int]:
    keys = [k for k in LAYERS if module == k or module.startswith(k + ".")]
    assert keys, f"{module} is in no layer: place its folder in LAYERS (docs/architecture.md)"
    key = max(keys, key=len)
    return key, LAYERS[key]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    _none(["cycle: " + " ".join(c) for c in _cycles(GRAPH)])


def test_every_module_is_in_a_layer():
    for m in MODULES:
        _layer(m)


def test_imports_point_down_the_layers():
    upward = []
    for m in MODULES:
        key, rank = _layer(m)
        for target, _, _line in _imports(m):
            if target not in MODULES:
                continue
            tkey, trank = _layer(target)
            if tkey == key:
                continue  # inside one folder (its package __init__ may gather its modules)
            if trank >= rank:
                upward.append(f"upward: {m} imports {target}")
    _none(upward)


def test_no_module_imports_a_private_name_of_another():
    found = [f"private: {m} imports {name} from {target}"
             for m in MODULES for target, name, line in _imports(m)
             if name and name.startswith("_") and not name.startswith("__") and target != m]
    found += [f"private: {m} imports the private module {target}"
              for m in MODULES for target, name, line in _imports(m)
              if name is None and target.rsplit(".", 1)[-1].startswith("_")
              and not target.endswith("__")]
    _none(found)


def test_no_file_over_500_lines():
    _none([f"long: {p.relative_to(ROOT)}" for p, _ in MODULES.values()
              if len(p.read_text(encoding="utf-8").splitlines()) > MAX_LINES])


def _packages() -> list[types.ModuleType]:
    out = []
    for top in TOPS.values():
        pkg = importlib.import_module(top)
        out.append(pkg)
        for info in pkgutil.walk_packages(pkg.__path__, top + "."):
            if info.ispkg:
                out.append(importlib.import_module(info.name))
    return out


def test_one_public_name_is_one_object():
    """Across the ``__all__`` of mesabase.theory, .sims, .proofs and every subpackage, a name
    means one object (``from mesabase.theory import X`` and ``from mesabase.sims import X``
    cannot be two different things)."""
    seen: dict[str, tuple[str, object]] = {}
    clashes = []
    for pkg in _packages():
        for name in getattr(pkg, "__all__", ()):
            obj = getattr(pkg, name)
            if isinstance(obj, (int, float, str, tuple, frozenset)):
                continue  # constants may share a spelling (e.g. two folders' COLUMNS)
            if name in seen and seen[name][1] is not obj:
                clashes.append(f"{name}: {seen[name][0]} and {pkg.__name__} differ")
            seen.setdefault(name, (pkg.__name__, obj))
    assert not clashes, "\n".join(clashes)


def test_every_all_name_exists():
    for pkg in _packages():
        missing = [n for n in getattr(pkg, "__all__", ()) if not hasattr(pkg, n)]
        assert not missing, (pkg.__name__, missing)


def test_no_function_shadows_its_own_module():
    """``import mesabase.sims.simulation`` is a module: no package binds a submodule's name to
    something else (a function or class of the same name)."""
    shadowed = []
    for pkg in _packages():
        for info in pkgutil.iter_modules(pkg.__path__):
            obj = getattr(pkg, info.name, None)
            if obj is not None and not inspect.ismodule(obj):
                shadowed.append(f"{pkg.__name__}.{info.name} is a {type(obj).__name__}")
    assert not shadowed, "\n".join(shadowed)


@pytest.mark.parametrize("top", sorted(TOPS.values()))
def test_the_top_levels_export_their_public_names(top):
    pkg = importlib.import_module(top)
    assert pkg.__all__ and len(set(pkg.__all__)) == len(pkg.__all__)


def test_research_notes_import_from_the_three_top_levels():
    from mesabase.sims import Reinforce, Store, get_scenario, grid, run, simulate, sweep  # noqa: F401
    from mesabase.theory import MDPBatch, history_optimal, solve, solve_batch  # noqa: F401


def test_no_file_points_outside_the_project():
    """A clone has no ``../shared``: every reference is to docs/ or a public source."""
    texts = [p for p, _ in MODULES.values()] + list(ROOT.glob("*.md")) + list(
        (ROOT / "docs").glob("*.md")) + list((ROOT / "benchmarks").glob("*.py")) + list(
        (ROOT / "tests").glob("*.py"))
    bad = [str(p.relative_to(ROOT)) for p in texts if p.name != "test_architecture.py"
           and "shared/" in p.read_text(encoding="utf-8")]
    assert not bad, bad
