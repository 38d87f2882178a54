"""Every package folder under theory/, sims/ and proofs/ is listed in pyproject.toml, so a
regular (non-editable) install ships it, and the shipped sweep specs are package data."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_installed():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    dirs = {v: k for k, v in conf["package-dir"].items()}  # folder -> import name
    found = set()
    for folder, name in dirs.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *rel)))
    assert found <= listed, f"not installed: {sorted(found - listed)}"


def test_specs_are_package_data():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "specs/*.toml" in conf["package-data"]["mesabase.sims"]
    assert list((ROOT / "sims" / "specs").glob("*.toml"))
