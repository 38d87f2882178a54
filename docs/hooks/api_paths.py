"""MkDocs hook: let mkdocstrings find ``mesabase`` by its import name.

The repository maps ``theory/``, ``sims/`` and ``proofs/`` to ``mesabase.theory``,
``mesabase.sims`` and ``mesabase.proofs`` (``[tool.setuptools.package-dir]`` in
pyproject.toml). griffe, which reads the sources for mkdocstrings, looks for a folder named
``mesabase`` on its search paths and cannot follow setuptools' editable finder for a mapping
like this one. So, before mkdocstrings starts its handler, this hook builds a temporary folder
``mesabase/`` of symbolic links to the mapped folders (read from pyproject.toml, nothing
hard-coded) and gives it to the Python handler as ``paths``. The sources are read, never
imported; the folder is removed when the build process exits.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import tomllib
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority


def package_dirs(root: Path) -> dict[str, Path]:
    """``{"mesabase.theory": <root>/theory, ...}`` from pyproject.toml's package-dir table."""
    with open(root / "pyproject.toml", "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name: (root / folder).resolve() for name, folder in mapping.items()}


def link_tree(mapping: dict[str, Path], dest: Path) -> None:
    """Under ``dest``, one symbolic link per package: ``dest/mesabase/theory -> theory/``."""
    for name, folder in mapping.items():
        if not (folder / "__init__.py").is_file():
            raise PluginError(f"api_paths: {folder} (package {name}) has no __init__.py")
        link = dest.joinpath(*name.split("."))
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(folder, target_is_directory=True)


@event_priority(100)  # before mkdocstrings' on_config, which starts the Python handler
def on_config(config):
    root = Path(config.config_file_path).resolve().parent
    dest = Path(tempfile.mkdtemp(prefix="mesabase-docs-"))
    atexit.register(shutil.rmtree, dest, ignore_errors=True)  # links only, never targets
    link_tree(package_dirs(root), dest)
    handlers = config.plugins["mkdocstrings"].config.handlers
    python = handlers.setdefault("python", {})
    python["paths"] = [str(dest), *python.get("paths", [])]
    return config
