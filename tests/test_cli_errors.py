"""No user error ends in a traceback (issue 11, item 11).

An output folder that cannot be created, a read-only folder, a full disk, an input that is
not UTF-8 text or not valid, a missing input: each gives ONE line on stderr naming the path
and the problem, and a non-zero exit (:mod:`mesabase.sims.files`). Missing output folders
are created only with a ``mesabase: created folder PATH`` line. A genuine bug keeps its
traceback.
"""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mesabase.sims.cli import app as cli
from mesabase.sims.cli.errors import describe
from mesabase.sims.files import PathError, make_folder, reason
from mesabase.sims.reports.report import atomic_write

RUN = ["run", "proxy-bandit", "--seeds", "1", "--steps", "20"]
SPEC = """[sweep]
name = "tiny"
seeds = 1
steps = 20
record_every = 10

[[grid]]
scenario = "proxy-bandit"
learner = "reinforce"
lr = 0.1
"""


def _one_line(err: str, *needles: str) -> str:
    """The single stderr line; it contains every needle and there is no traceback."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mesabase: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)
    return lines[0]


def _main(argv, capsys):
    code = cli.main(argv)
    return code, capsys.readouterr()


def _no_temporary_files(folder: Path):
    assert not [p for p in folder.rglob(".*") if p.is_file()], "temporary files left behind"


# ---- outputs that cannot be created ----------------------------------------------------------
@pytest.mark.parametrize("command", [RUN, ["demo", "--quick"], ["prove", "telescoping"]])
def test_out_under_a_file_is_one_line(command, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = blocker / "results"
    code, io = _main([*command, "--out", str(out)], capsys)
    assert code == 1
    line = _one_line(io.err, str(out), "is a file, not a folder")
    assert line == f"mesabase: cannot create folder {out}: {blocker} is a file, not a folder"
    assert blocker.read_text() == "not a folder"


def test_out_that_is_a_file_is_one_line(tmp_path, capsys):
    out = tmp_path / "results"
    out.write_text("x")
    code, io = _main([*RUN, "--out", str(out)], capsys)
    assert code == 1
    _one_line(io.err, str(out), "it is a file, not a folder")


@pytest.mark.parametrize("command", [["run", "proxy-bandit"], ["demo", "--quick"]])
def test_out_under_a_file_in_a_subprocess(command, tmp_path):
    """The real process: exit status, stderr and no traceback (nothing is run first)."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = blocker / "sub" / "results"
    r = subprocess.run([sys.executable, "-m", "mesabase.sims.cli", *command, "--out", str(out)],
                       capture_output=True, text=True, check=False, cwd=tmp_path)
    assert r.returncode == 1
    _one_line(r.stderr, str(out), "is a file, not a folder")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_read_only_out_folder_is_one_line(tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    out.chmod(0o555)
    try:
        code, io = _main([*RUN, "--out", str(out)], capsys)
    finally:
        out.chmod(0o755)
    assert code == 1
    _one_line(io.err, f"cannot write to {out}: Permission denied")
    assert list(out.iterdir()) == []


def test_read_only_file_system_is_one_line(tmp_path, capsys, monkeypatch):
    """EROFS as the kernel reports it for any file created under ``out`` (simulated: tests
    may run as root, for whom a chmod does not make a folder read-only)."""
    out = tmp_path / "results"
    out.mkdir()
    real_open = os.open

    def open_(path, flags, *args, **kwargs):
        if str(path).startswith(str(out)) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    code, io = _main([*RUN, "--out", str(out)], capsys)
    assert code == 1
    line = _one_line(io.err)
    assert line == f"mesabase: cannot write to {out}: Read-only file system"


def test_full_disk_is_one_line_and_leaves_no_temporary_file(tmp_path, capsys, monkeypatch):
    """ENOSPC from the kernel: every Parquet table is written to /dev/full instead."""
    real = pd.DataFrame.to_parquet

    def full(self, path, *args, **kwargs):
        if not os.path.exists("/dev/full"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, "/dev/full", *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    out = tmp_path / "results"
    code, io = _main([*RUN, "--out", str(out)], capsys)
    assert code == 1
    _one_line(io.err, f"cannot write {out / 'proxy-bandit'}", ".parquet",
              "No space left on device")
    _no_temporary_files(out)


def test_a_failed_write_keeps_the_old_file_and_names_it(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old")

    def write(tmp):
        Path(tmp).write_text("partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

    with pytest.raises(PathError) as e:
        atomic_write(path, write)
    assert str(e.value) == f"cannot write {path}: No space left on device"
    assert isinstance(e.value, OSError) and e.value.errno == errno.ENOSPC
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


# ---- inputs ----------------------------------------------------------------------------------
def test_non_utf8_spec_is_one_line(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_bytes(b"[sweep]\nname = \"caf\xe9\"\n")
    store = tmp_path / "store"
    code, io = _main(["sweep", str(spec), "--executor", "serial", "--out", str(store)], capsys)
    assert code == 2
    _one_line(io.err, str(spec), "not UTF-8 text", "0xe9", "19")
    assert not store.exists()


def test_missing_spec_is_one_line(tmp_path, capsys):
    spec = tmp_path / "nope.toml"
    code, io = _main(["sweep", str(spec), "--executor", "serial"], capsys)
    assert code == 2
    _one_line(io.err, str(spec))


def test_missing_store_is_one_line(tmp_path, capsys):
    code, io = _main(["results", str(tmp_path / "nope")], capsys)
    assert code == 2
    _one_line(io.err, str(tmp_path / "nope"))


@pytest.mark.parametrize("content, problem", [
    (b"\xff\xfe{}", "not UTF-8 text (byte 0xff at offset 0)"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "not a mesabase meta.json"),
    (b'{"scenario": "x", "description": "", "sizes": {"seeds": 1}, "seconds": 1, '
     b'"attributions": [{"environment": "train"}]}',
     "not a mesabase meta.json (missing or wrong steps, record_every, attributions[0].learner"),
])
def test_a_bad_meta_json_in_the_results_folder_is_one_line(content, problem, tmp_path, capsys):
    """``run`` rebuilds the report from every scenario folder in ``--out``: a foreign or
    damaged one is named, not a traceback."""
    out = tmp_path / "results"
    (out / "foreign").mkdir(parents=True)
    (out / "foreign" / "meta.json").write_bytes(content)
    code, io = _main([*RUN, "--out", str(out)], capsys)
    assert code == 2
    _one_line(io.err, f"cannot read {out / 'foreign' / 'meta.json'}: {problem}")


@pytest.mark.parametrize("damage, problem", [
    (lambda p: p.write_bytes(b"not parquet"), "Parquet"),
    (lambda p: pd.DataFrame({"x": [1]}).to_parquet(p), "not a mesabase verdicts table"),
    (lambda p: p.unlink(), "No such file or directory"),
])
def test_a_bad_table_in_the_results_folder_is_one_line(damage, problem, tmp_path, capsys):
    out = tmp_path / "results"
    assert cli.main([*RUN, "--out", str(out)]) == 0
    bad = out / "proxy-bandit" / "verdicts.parquet"
    damage(bad)
    code, io = _main(["run", "proxy-bandit-control", *RUN[2:], "--out", str(out)], capsys)
    assert code == 2
    _one_line(io.err, f"cannot read {bad}: ", problem)


# ---- folders are created only with a word -----------------------------------------------------
def test_run_says_when_it_creates_the_out_folder(tmp_path, capsys):
    out = tmp_path / "a" / "b" / "results"
    code, io = _main([*RUN, "--out", str(out)], capsys)
    assert code == 0 and out.is_dir()
    lines = io.out.splitlines()
    assert lines[0].startswith("exactness check:")
    assert f"mesabase: created folder {out}" in lines
    code, io = _main([*RUN, "--out", str(out)], capsys)   # it exists now: nothing said
    assert code == 0 and "created folder" not in io.out


def test_prove_says_when_it_creates_the_out_folder(tmp_path, capsys):
    out = tmp_path / "new" / "proofs"
    code, io = _main(["prove", "telescoping", "--out", str(out)], capsys)
    assert code == 0 and (out / "telescoping.md").is_file()
    assert io.out.splitlines()[0] == f"mesabase: created folder {out}"
    _no_temporary_files(out)


def test_results_csv_says_when_it_creates_the_folder(tmp_path, capsys):
    spec, store = tmp_path / "tiny.toml", tmp_path / "store"
    spec.write_text(SPEC, encoding="utf-8")
    assert cli.main(["sweep", str(spec), "--executor", "serial", "--out", str(store)]) == 0
    capsys.readouterr()
    csv = tmp_path / "new" / "folder" / "table.csv"
    code, io = _main(["results", str(store), "--csv", str(csv)], capsys)
    assert code == 0 and csv.is_file()
    assert f"mesabase: created folder {csv.parent}" in io.out.splitlines()


def test_make_folder_is_silent_for_an_existing_folder(tmp_path, capsys):
    assert make_folder(tmp_path, sys.stdout) is False
    assert capsys.readouterr().out == ""
    assert list(tmp_path.iterdir()) == []          # the writability probe is removed


# ---- what is not a user error ------------------------------------------------------------------
@pytest.mark.parametrize("bug", [ZeroDivisionError, KeyError, TypeError, ValueError])
def test_a_bug_keeps_its_traceback(bug, monkeypatch):
    def broken(*args, **kwargs):
        raise bug("a bug in mesabase")

    monkeypatch.setattr(cli, "solvers", broken)
    with pytest.raises(bug):
        cli.main(["solvers"])


def test_interrupt_is_one_line_and_130(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "solvers", interrupted)
    code, io = _main(["solvers"], capsys)
    assert code == 130
    assert io.err.strip() == "mesabase: interrupted"


def test_a_closed_stdout_exits_quietly(monkeypatch, capsys):
    def piped(*args, **kwargs):
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    monkeypatch.setattr(cli, "solvers", piped)
    code, io = _main(["solvers"], capsys)
    assert code == 1 and io.err == ""


def test_describe_and_reason():
    arrow = OSError("Failed to open local file '/x/y.parquet'. Detail: [errno 30] "
                    "Read-only file system")
    assert reason(arrow) == "Read-only file system"
    assert describe(PermissionError(errno.EACCES, "Permission denied", "/x/y")) == (
        "/x/y: Permission denied", 1)
    assert describe(FileNotFoundError(errno.ENOENT, "No such file or directory", "/x")) == (
        "/x: No such file or directory", 2)
    assert describe(arrow) == ("Failed to open local file '/x/y.parquet'. Detail: [errno 30] "
                               "Read-only file system", 1)
    assert describe(PathError("read", "/s.toml", "not UTF-8 text", input=True)) == (
        "cannot read /s.toml: not UTF-8 text", 2)


# ---- usage errors and work limits ------------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["run", "proxy-bandit", "--steps", str(10**12)], "over the limit"),
    (["run", "proxy-bandit", "--steps", "100000", "--seeds", "1000000"], "over the limit"),
    (["run", "no-such-scenario"], "invalid choice"),
    (["no-such-command"], "invalid choice"),
])
def test_a_usage_error_or_a_run_past_the_work_limit_is_one_line(argv, needle, capsys):
    """`mesabase run --steps 10**12` used to spend an hour choosing record_every (a loop over
    every candidate divisor) before any output; it is now refused at once, and argparse's
    usage errors are one line too."""
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("mesabase") and needle in err, err


def test_record_every_for_a_huge_step_count_is_a_divisor_found_quickly():
    """The default record_every for 10¹² steps is found by trial division up to √n."""
    from mesabase.sims.experiments.sizes import default_record_every

    r = default_record_every(10**10 / 3, 10**12, None)
    assert 10**12 % r == 0 and 2 * r >= round(10**10 / 3)
