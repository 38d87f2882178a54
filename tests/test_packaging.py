"""Every package folder under theory/, sims/ and proofs/ is listed in pyproject.toml, so a
regular (non-editable) install ships it, the shipped sweep specs are package data, and no
dependency floor admits a release with a known code-execution flaw."""

import importlib.metadata
import tomllib
from pathlib import Path

import pytest

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
    assert "specs/*.toml" in conf["package-data"]["mesabase.sims.experiments"]
    assert list((ROOT / "sims" / "experiments" / "specs").glob("*.toml"))


# ---- dependency floors: no known-insecure release is allowed --------------------------------
#: Advisories whose fixed release the floor must reach: (distribution, first fixed, advisory).
FIXED_FLOORS = [
    ("pyarrow", "14.0.1", "CVE-2023-47248: a crafted Parquet/IPC file executes code"),
    ("tqdm", "4.66.3", "CVE-2024-34062: eval of `python -m tqdm` option values"),
]


def _floor(requirements, name):
    """The lowest version ``requirements`` (PEP 508 strings) let ``name`` take, or None."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    for text in requirements:
        req = Requirement(text)
        if req.name.lower() != name or req.marker is not None:
            continue
        lows = [Version(s.version) for s in req.specifier if s.operator in (">=", ">", "==")]
        return max(lows) if lows else None
    raise AssertionError(f"{name} is not a dependency")


@pytest.mark.parametrize("name, fixed, advisory", FIXED_FLOORS)
def test_installed_metadata_floor_excludes_vulnerable_releases(name, fixed, advisory):
    """The floor in the installed package metadata (what pip resolves against) is a fixed
    release; a stale install fails here too: reinstall with ``pip install -e .``."""
    from packaging.version import Version

    floor = _floor(importlib.metadata.requires("mesabase"), name)
    assert floor is not None and floor >= Version(fixed), f"{name} floor {floor}: {advisory}"


@pytest.mark.parametrize("name, fixed, advisory", FIXED_FLOORS)
def test_pyproject_floor_excludes_vulnerable_releases(name, fixed, advisory):
    from packaging.version import Version

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floor = _floor(deps, name)
    assert floor is not None and floor >= Version(fixed), f"{name} floor {floor}: {advisory}"


def test_installed_pyarrow_is_not_vulnerable():
    from packaging.version import Version

    assert Version(importlib.metadata.version("pyarrow")) >= Version("14.0.1")
