"""A results folder is untrusted input: mesabase follows no symbolic link below ``--out``.

A folder shared by someone else may hold ``proxy-bandit -> /somewhere`` or
``cruxes.csv -> /etc/passwd``; rebuilding the report from it must neither read nor write
outside it. Each link is refused with one line naming it and exit code 2
(:mod:`mesabase.sims.files`: ``open_input``, ``input_exists``, ``make_folder(root=)``), and
the files outside are left exactly as they were.
"""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mesabase.sims.cli import app as cli
from mesabase.sims.files import (
    LINK_REASON,
    USAGE,
    PathError,
    input_exists,
    make_folder,
    open_input,
)
from mesabase.sims.reports import report
from mesabase.sims.reports.crux_figures import read_tornado, write_cruxes
from mesabase.sims.reports.meta_section import STUDY, study_section

SIZES = ["--seeds", "1", "--steps", "20"]


def _one_line(err: str, *needles: str) -> str:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mesabase: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)
    return lines[0]


def _snapshot(folder: Path) -> dict:
    """Every entry below ``folder`` with its bytes (files) or None (folders)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One results folder made by ``mesabase run proxy-bandit`` (copied by each test)."""
    out = tmp_path_factory.mktemp("built") / "results"
    assert cli.main(["run", "proxy-bandit", *SIZES, "--out", str(out)]) == 0
    return out


@pytest.fixture
def results(built, tmp_path) -> Path:
    out = tmp_path / "results"
    shutil.copytree(built, out, symlinks=True)
    return out


@pytest.fixture
def outside(tmp_path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("not mesabase's\n")
    return folder


def _is_link_error(e: PathError, path: Path, action: str = "read"):
    assert str(e) == f"cannot {action} {path}: {LINK_REASON}"
    assert e.exit_code == USAGE


# ---- (a) a file of a scenario folder is a link ------------------------------------------------
def test_a_linked_meta_json_is_refused_and_its_target_untouched(results, outside, capsys):
    meta = results / "proxy-bandit" / "meta.json"
    target = outside / "meta.json"
    shutil.copy(meta, target)   # a valid meta.json: only the link is wrong
    meta.unlink()
    meta.symlink_to(target)
    before = _snapshot(outside)
    code = cli.main(["run", "proxy-bandit-control", *SIZES, "--out", str(results)])
    io = capsys.readouterr()
    assert code == USAGE
    assert _one_line(io.err) == f"mesabase: cannot read {meta}: {LINK_REASON}"
    assert _snapshot(outside) == before and meta.is_symlink()
    with pytest.raises(PathError) as e:
        report.load_attributions(results, "proxy-bandit")
    _is_link_error(e.value, meta)


def test_a_linked_table_is_refused_not_taken_for_missing(results, outside):
    """An optional table (revealed) that is a link, even a dangling one, is refused."""
    table = results / "proxy-bandit" / "revealed.parquet"
    table.unlink()
    table.symlink_to(outside / "nowhere.parquet")  # dangling
    with pytest.raises(PathError) as e:
        report.load_attributions(results, "proxy-bandit")
    _is_link_error(e.value, table)


def test_rewriting_a_linked_file_replaces_the_link_not_its_target(results, outside, capsys):
    """``atomic_write`` renames over the link: the outside file keeps its bytes."""
    meta = results / "proxy-bandit" / "meta.json"
    meta.unlink()
    meta.symlink_to(outside / "secret.txt")
    assert cli.main(["run", "proxy-bandit", *SIZES, "--out", str(results)]) == 0
    capsys.readouterr()
    assert not meta.is_symlink() and meta.read_text().startswith("{")
    assert (outside / "secret.txt").read_text() == "not mesabase's\n"


# ---- (b) a scenario folder is a link ----------------------------------------------------------
def test_a_linked_scenario_folder_is_refused_and_nothing_written_outside(results, outside,
                                                                          capsys):
    folder = results / "proxy-bandit"
    shutil.copytree(folder, outside / "proxy-bandit")  # a valid folder: only the link is wrong
    shutil.rmtree(folder)
    folder.symlink_to(outside / "proxy-bandit", target_is_directory=True)
    before = _snapshot(outside)
    # writing its tables into it: refused before any file is written
    code = cli.main(["run", "proxy-bandit", *SIZES, "--out", str(results)])
    io = capsys.readouterr()
    assert code == USAGE
    assert _one_line(io.err) == f"mesabase: cannot write into {folder}: {LINK_REASON}"
    # listing the results folders for the report: refused too
    code = cli.main(["run", "proxy-bandit-control", *SIZES, "--out", str(results)])
    io = capsys.readouterr()
    assert code == USAGE
    assert _one_line(io.err) == f"mesabase: cannot read {folder}: {LINK_REASON}"
    assert _snapshot(outside) == before
    for call in (lambda: report.draw_scenario(results, "proxy-bandit", dpi=40),
                 lambda: report.load_attributions(results, "proxy-bandit"),
                 lambda: report.result_folders(results)):
        with pytest.raises(PathError, match=LINK_REASON):
            call()
    assert _snapshot(outside) == before


def test_a_link_in_the_results_folder_is_refused_even_with_another_name(results, outside):
    """Listing ``out`` refuses every link in it (module docstring of report.py)."""
    (results / "latest").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathError) as e:
        report.result_folders(results)
    _is_link_error(e.value, results / "latest")


def test_the_results_folder_itself_may_be_a_link(results, tmp_path):
    """The user named ``--out``: a link there is theirs, and followed."""
    alias = tmp_path / "alias"
    alias.symlink_to(results, target_is_directory=True)
    assert report.result_folders(alias) == ["proxy-bandit"]
    (a,) = report.load_attributions(alias, "proxy-bandit")
    assert a.scenario == "proxy-bandit"
    assert make_folder(alias / "new", root=alias) is True


# ---- (c) cruxes.csv is a link -----------------------------------------------------------------
def test_a_linked_cruxes_csv_is_refused(results, outside, capsys):
    target = write_cruxes(outside)   # a valid tornado table, outside
    (results / "cruxes.csv").symlink_to(target)
    before = _snapshot(outside)
    with pytest.raises(PathError) as e:
        read_tornado(results)
    _is_link_error(e.value, results / "cruxes.csv")
    code = cli.main(["run", "proxy-bandit", *SIZES, "--out", str(results)])
    io = capsys.readouterr()
    assert code == USAGE
    _one_line(io.err, f"cannot read {results / 'cruxes.csv'}: {LINK_REASON}")
    assert _snapshot(outside) == before


# ---- (d) the study folder, or a file in it, is a link -----------------------------------------
def _study_files(folder: Path):
    folder.mkdir()
    pd.DataFrame({"agent": ["a"], "horizon": [2], "regret": [0.5], "ci_low": [0.4],
                  "ci_high": [0.6], "exact_regret": [0.5]}).to_csv(folder / "summary.csv",
                                                                   index=False)
    (folder / "study.json").write_text('{"n_tasks": 1, "n_seeds": 1, "family": "uniform", '
                                       '"n_arms": 2}')


def test_the_study_section_reads_a_real_study_folder(results):
    _study_files(results / STUDY)
    assert any("| a | 0.5 |" in line for line in study_section(results))


def test_a_linked_study_folder_is_refused(results, outside):
    _study_files(outside / STUDY)
    (results / STUDY).symlink_to(outside / STUDY, target_is_directory=True)
    with pytest.raises(PathError) as e:
        study_section(results)
    _is_link_error(e.value, results / STUDY)
    from mesabase.sims.meta.study import run_study, study_sizes

    before = _snapshot(outside)
    with pytest.raises(PathError) as e:  # refused before any work
        run_study(results, study_sizes(True))
    _is_link_error(e.value, results / STUDY, "write into")
    assert _snapshot(outside) == before


def test_a_linked_file_in_the_study_folder_is_refused(results, outside):
    _study_files(results / STUDY)
    (outside / "study.json").write_text("{}")
    (results / STUDY / "study.json").unlink()
    (results / STUDY / "study.json").symlink_to(outside / "study.json")
    with pytest.raises(PathError) as e:
        study_section(results)
    _is_link_error(e.value, results / STUDY / "study.json")


# ---- the helpers ------------------------------------------------------------------------------
def test_open_input_refuses_a_fifo_and_a_folder_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "dir.csv").mkdir()
    for name, why in (("fifo.csv", "it is not a regular file"),
                      ("dir.csv", "it is a folder, not a file")):
        with pytest.raises(PathError) as e:
            open_input(tmp_path / name, tmp_path)
        assert str(e.value) == f"cannot read {tmp_path / name}: {why}"
        assert e.value.exit_code == USAGE


def test_input_exists_and_open_input(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_bytes(b"hi")
    assert input_exists(tmp_path / "a" / "x.txt", tmp_path)
    assert not input_exists(tmp_path / "a" / "y.txt", tmp_path)
    assert not input_exists(tmp_path / "b" / "y.txt", tmp_path)
    with open_input(tmp_path / "a" / "x.txt", tmp_path) as f:
        assert f.read() == b"hi"
    with pytest.raises(PathError, match="No such file or directory"):
        open_input(tmp_path / "a" / "y.txt", tmp_path)
    with pytest.raises(ValueError, match="not a path inside"):
        open_input(tmp_path / ".." / "x.txt", tmp_path)
