"""Every docstring example in the installed package runs and gives what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import mesabase.proofs
import mesabase.sims
import mesabase.theory


def _modules():
    for pkg in (mesabase.theory, mesabase.sims, mesabase.proofs):
        yield pkg.__name__
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
            yield info.name


@pytest.mark.parametrize("name", sorted(set(_modules())))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest(s) failed in {name}"


def test_doctests_exist():
    """The suite above is not vacuous: the core modules carry examples."""
    finder = doctest.DocTestFinder()
    mod = importlib.import_module("mesabase.theory.solvers.iteration")
    assert sum(len(t.examples) for t in finder.find(mod)) >= 3
