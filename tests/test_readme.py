"""README.md runs: every fenced ``python`` block, in order, in one fresh namespace.

The blocks run in a temporary working directory (the sweep example writes a store there,
not into the repository). They also must not rebind a public name of ``mesabase.theory``,
``mesabase.sims`` or ``mesabase.proofs`` (``run = simulate(...)`` hides the function ``run``
from every later block), and import only from those three top levels, whose exports are
stable while the modules below them move.
"""

import ast
import re
from pathlib import Path

import pytest

import mesabase.proofs
import mesabase.sims
import mesabase.theory

README = Path(__file__).resolve().parents[1] / "README.md"
TOP_LEVELS = ("mesabase.theory", "mesabase.sims", "mesabase.proofs")
PUBLIC = {name: pkg.__name__ for pkg in (mesabase.theory, mesabase.sims, mesabase.proofs)
          for name in pkg.__all__}


def python_blocks() -> list[tuple[int, str]]:
    """(line number of the opening fence, source) of every ```python block, in order."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for m in re.finditer(r"^```python[ \t]*\n(.*?)^```[ \t]*$", text, flags=re.S | re.M):
        blocks.append((text.count("\n", 0, m.start()) + 1, m.group(1)))
    return blocks


BLOCKS = python_blocks()


def _ids():
    return [f"README.md:{line}" for line, _ in BLOCKS]


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 8, "the README's examples were not found (fence format changed?)"


def _bound_names(tree: ast.AST):
    """(name, line) of every name the code binds to a new value (imports of the same
    name, ``from x import run``, bind the public object itself and are allowed)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id, node.lineno
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name, node.lineno
        elif isinstance(node, ast.ExceptHandler) and node.name:
            yield node.name, node.lineno
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.asname and alias.asname != alias.name.rpartition(".")[2]:
                    yield alias.asname, node.lineno
        elif isinstance(node, ast.arg):
            yield node.arg, node.lineno


@pytest.mark.parametrize(("line", "source"), BLOCKS, ids=_ids())
def test_block_shadows_no_public_name(line, source):
    clashes = [f"README.md:{line + n}: {name!r} hides {PUBLIC[name]}.{name}"
               for name, n in _bound_names(ast.parse(source)) if name in PUBLIC]
    assert not clashes, "\n".join(clashes)


@pytest.mark.parametrize(("line", "source"), BLOCKS, ids=_ids())
def test_block_imports_only_top_levels(line, source):
    deep = []
    for node in ast.walk(ast.parse(source)):
        modules = ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                   else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        deep += [f"README.md:{line + node.lineno}: {m}" for m in modules
                 if m.startswith("mesabase") and m not in TOP_LEVELS]
    assert not deep, "import from mesabase.theory, .sims or .proofs only:\n" + "\n".join(deep)


def test_readme_runs(tmp_path, monkeypatch):
    """All blocks in order, one namespace, as a reader pasting them into one session would;
    then any ``test_*`` function the README defines (the hypothesis example) is called."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__readme__"}
    for line, source in BLOCKS:
        # pad with newlines so a traceback's line numbers are README.md's own
        code = compile("\n" * line + source, str(README), "exec")
        exec(code, namespace)
    for name, obj in list(namespace.items()):
        if name.startswith("test_") and callable(obj):
            obj()
