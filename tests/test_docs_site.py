"""The documentation site: ``mkdocs build --strict`` passes, and its hooks do what they say.

The strict build fails on any warning: a broken link or anchor, a page missing from the nav,
an API object mkdocstrings cannot collect, a cross-reference it cannot resolve, and a
gallery example without its figure (docs/hooks/gallery.py). The Python blocks of the
hand-written pages run too, except those copied verbatim from the README (tests/test_readme.py
runs those).
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
pytest.importorskip("material", reason="mkdocs-material is not installed")
pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HOOKS = DOCS / "hooks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}", HOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gallery = _load("gallery")
griffe_docstrings = _load("griffe_docstrings")


def mkdocs_build(config: Path, site: Path, strict: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "mkdocs", "build", "-f", str(config), "--site-dir", str(site)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(cmd + (["--strict"] if strict else []), cwd=config.parent, env=env,
                          capture_output=True, text=True, timeout=600)


# --- the site itself ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    done = mkdocs_build(ROOT / "mkdocs.yml", site)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return site


def test_strict_build_has_every_page(site):
    for page in ["index", "concepts/index", "architecture/index", "cruxes/index",
                 "capabilities/index", "gallery/index", "api/index", "api/theory/index",
                 "api/sims/index", "api/proofs/index"]:
        assert (site / f"{page}.html").is_file() or (site / page / "index.html").is_file(), page
    for md in (DOCS / "capabilities").glob("*.md"):
        built = "index.html" if md.stem == "index" else f"{md.stem}/index.html"
        assert (site / "capabilities" / built).is_file(), md.name


def test_gallery_has_one_page_per_example_with_its_figure(site):
    scripts = gallery.example_scripts(ROOT)
    index = (site / "gallery" / "index.html").read_text(encoding="utf-8")
    for script in scripts:
        page = (site / "gallery" / script.stem / "index.html").read_text(encoding="utf-8")
        assert f'src="../{script.stem}.png"' in page, script.name
        assert (site / "gallery" / f"{script.stem}.png").is_file(), script.name
        assert f'href="{script.stem}/"' in index, script.name


@pytest.mark.parametrize(("page", "package"), [("theory", "mesabase.theory"),
                                               ("sims", "mesabase.sims"),
                                               ("proofs", "mesabase.proofs")])
def test_api_pages_document_every_exported_name(site, page, package):
    html = (site / "api" / page / "index.html").read_text(encoding="utf-8")
    module = importlib.import_module(package)
    missing = [n for n in module.__all__ if f'id="{package}.{n}"' not in html]
    assert not missing, f"api/{page}.md does not document {missing}"


def test_docstring_roles_are_rewritten(site):
    html = (site / "api" / "theory" / "index.html").read_text(encoding="utf-8")
    assert ":func:" not in html and ":class:" not in html
    assert 'class="arithmatex"' in (site / "capabilities" / "solvers" / "index.html").read_text(
        encoding="utf-8")


# --- the gallery hook on its own ------------------------------------------------------------

EXAMPLE = """# ---
# jupyter:
#   jupytext:
#     text_representation:
#       format_name: percent
# ---

# %% [markdown]
# # A title
#
# First paragraph, $x^2$.

# %%
import math

print(math.pi)

# %% [markdown]
# ## More
"""


def test_cells_reads_jupytext_percent_format():
    assert gallery.cells(EXAMPLE) == [("markdown", "# A title\n\nFirst paragraph, $x^2$."),
                                      ("code", "import math\n\nprint(math.pi)"),
                                      ("markdown", "## More")]
    assert gallery.title_and_summary("# A title\n\nFirst paragraph.", "x") == (
        "A title", "First paragraph.")
    assert gallery.title_and_summary("no heading", "fallback") == ("fallback", "no heading")


def _tiny_site(tmp_path: Path, figures: list[str]) -> Path:
    (tmp_path / "docs" / "gallery").mkdir(parents=True)
    (tmp_path / "examples").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n\n[Gallery](gallery/index.md)\n")
    for name in ("alpha", "beta"):
        (tmp_path / "examples" / f"{name}.py").write_text(EXAMPLE.replace("A title", name))
    (tmp_path / "examples" / "run_all.py").write_text("# %%\nprint('the driver')\n")
    for name in figures:
        (tmp_path / "docs" / "gallery" / f"{name}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(f"site_name: t\nhooks:\n  - {HOOKS / 'gallery.py'}\n"
                      "nav:\n  - Home: index.md\n  - Gallery: gallery/index.md\n"
                      "markdown_extensions: [attr_list, md_in_html]\n")
    return config


def test_missing_figure_fails_the_strict_build(tmp_path):
    config = _tiny_site(tmp_path, figures=["alpha"])
    done = mkdocs_build(config, tmp_path / "site")
    assert done.returncode != 0
    assert "examples/beta.py has no figure docs/gallery/beta.png" in done.stderr, done.stderr


def test_gallery_pages_and_nav(tmp_path):
    config = _tiny_site(tmp_path, figures=["alpha", "beta"])
    done = mkdocs_build(config, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    site = tmp_path / "site"
    page = (site / "gallery" / "beta" / "index.html").read_text(encoding="utf-8")
    assert '<h1 id="beta">beta' in page and "print" in page and 'src="../beta.png"' in page
    assert not (site / "gallery" / "run_all").exists()  # the driver is not an example
    index = (site / "gallery" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'href="alpha/".*href="beta/"', index, re.S)  # sorted, both in nav/index


# --- the docstring rewriting ----------------------------------------------------------------

def test_to_markdown_examples():
    t = griffe_docstrings.to_markdown
    assert t("see :func:`~.belief.\n    train_belief_policy` and :class:`TabularMDP`") == (
        "see `train_belief_policy` and `TabularMDP`")
    assert t("Example:\n  >>> 1\n  1") == "Examples:\n  >>> 1\n  1"
    assert t("Every name::\n\n    from x import y") == "Every name:\n\n    from x import y"
    assert t("log π_θ[n](a_n|s_n), `x[n](y)`") == "log π_θ[n]\\(a_n|s_n), `x[n](y)`"
    assert t("    x[n](y)") == "    x[n](y)"  # an indented code line is left alone


@given(st.text(alphabet=st.characters(blacklist_characters=":]`")))
def test_to_markdown_leaves_plain_text_alone(text):
    assert griffe_docstrings.to_markdown(text) == text


# --- the hand-written pages' Python blocks --------------------------------------------------

def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", text, flags=re.S | re.M)


README_BLOCKS = set(_python_blocks((ROOT / "README.md").read_text(encoding="utf-8")))
PAGE_BLOCKS = [(md.relative_to(DOCS).as_posix(), block)
               for md in sorted(DOCS.rglob("*.md"))
               for block in _python_blocks(md.read_text(encoding="utf-8"))
               if block not in README_BLOCKS]


def test_some_page_blocks_are_not_the_readmes():
    assert len(PAGE_BLOCKS) >= 3


@pytest.mark.parametrize(("page", "source"), PAGE_BLOCKS, ids=[p for p, _ in PAGE_BLOCKS])
def test_page_block_runs(page, source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(source, f"docs/{page}", "exec"), {"__name__": "__docs__"})
