"""Sweeps on untrusted or bad input (issue 11: items 1–5 through the sweep, 3 and 10 for
specs, 11 for the commands): a crafted store is recovered without touching anything outside
it, a bad spec is one line naming the key, and no user error ends in a traceback — one line
on stderr naming the path and the problem, and a non-zero exit.

Cells are tiny (2 seeds, 20 steps); tables are compared bit for bit
(``assert_frame_equal(check_exact=True)``).
"""

import argparse
import errno
import json
import os
import re
import warnings
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

import mesabase.sims.experiments.store as store_module
from mesabase.sims.cli import app as cli
from mesabase.sims.cli import sweep as sweep_cli
from mesabase.sims.experiments import sweeps as sw
from mesabase.sims.experiments.store import LOCK, MANIFEST, Store
from mesabase.sims.experiments.sweeps import SpecError, grid, load_spec, spec_name

CELLS = grid(scenario="proxy-bandit", learner="reinforce", lr=[0.1, 0.5], seeds=2, steps=20,
             record_every=10)
SPEC = """
[sweep]
seeds = 2
steps = 20
record_every = 10

[[grid]]
scenario = "proxy-bandit"
learner = "reinforce"
lr = [0.1, 0.5]
"""
GRID = '[[grid]]\nscenario = "proxy-bandit"\n'


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return sw.sweep(CELLS, executor="serial", store=tmp_path_factory.mktemp("ref"))


@pytest.fixture
def counted(monkeypatch):
    seen, real = [], sw.run_cell

    def counting(cell, *args, **kwargs):
        seen.append(cell.key)
        return real(cell, *args, **kwargs)

    monkeypatch.setattr(sw, "run_cell", counting)
    return seen


def _records(store: Store) -> list[dict]:
    return [json.loads(line) for line in (store.path / MANIFEST).read_text().splitlines()]


def _append(store: Store, rec: dict):
    with open(store.path / MANIFEST, "a") as f:
        f.write(json.dumps(rec) + "\n")


def _spec(tmp_path: Path, text: str = SPEC, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _main(*argv: str) -> int:
    """``mesabase sweep|results ARGS`` through :mod:`~mesabase.sims.cli.sweep` alone: its own
    messages, whatever the top-level guard of ``cli.main`` adds."""
    parser = argparse.ArgumentParser(prog="mesabase")
    sweep_cli.add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return (sweep_cli.sweep_main if args.command == "sweep" else sweep_cli.results_main)(args)


def _one_line(err: str) -> str:
    """The only line of ``err`` (no traceback, nothing else)."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ---- 1, 4, 5 through the sweep -----------------------------------------------------------------

def test_a_record_pointing_outside_is_recovered_without_deleting_it(reference, tmp_path,
                                                                    counted):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    store = Store(tmp_path / "s")
    sw.sweep(CELLS, executor="serial", store=store)
    key = CELLS[0].key
    rec = [r for r in _records(store) if r["key"] == key][-1]
    for name in ("../victim.txt", str(victim)):
        _append(store, {**rec, "file": name})
        del counted[:]
        with pytest.warns(RuntimeWarning, match=re.escape(f"cell {key} in {store.path} is "
                                                          f"corrupt (bad file name {name!r}")):
            table, computed, corrupt = sw.sweep_with_report(CELLS, "serial", store, None)
        assert victim.read_text() == "precious"
        assert counted == computed == corrupt == [key]
        assert_frame_equal(table, reference, check_exact=True)


def test_swapped_records_are_found_by_key_and_recomputed(reference, tmp_path, counted):
    store = Store(tmp_path / "s")
    sw.sweep(CELLS, executor="serial", store=store)
    a, b = (next(r for r in _records(store) if r["key"] == c.key) for c in CELLS)
    _append(store, {**b, "key": a["key"]})
    _append(store, {**a, "key": b["key"]})
    del counted[:]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = sw.sweep(CELLS, executor="serial", store=store)
    said = " ".join(str(w.message) for w in caught)
    assert all(f"cell {c.key}" in said for c in CELLS) and "not this key's" in said
    assert sorted(counted) == sorted(c.key for c in CELLS)
    assert_frame_equal(table, reference, check_exact=True)   # not the other key's table


@pytest.mark.filterwarnings("ignore:.*is not a manifest record:RuntimeWarning")
@pytest.mark.parametrize("changes, stays", [({"rows": 3}, False), ({"bytes": 10}, False),
                                            ({"rows": "x"}, True), ({"meta": 3}, True),
                                            ({"sha256": "not hex"}, True)])
def test_a_wrong_record_never_breaks_results_or_sweep(reference, tmp_path, capsys, changes,
                                                      stays):
    """A record that disagrees with its file: ``results`` names the cell (exit 1) and the
    sweep recomputes it. A malformed record: one warning line, the earlier record stands."""
    spec, out = _spec(tmp_path), tmp_path / "store"
    assert _main("sweep", str(spec), "--executor", "serial", "--out", str(out)) == 0
    capsys.readouterr()
    key = CELLS[1].key
    rec = next(r for r in _records(Store(out)) if r["key"] == key)
    _append(Store(out), {**rec, **changes})
    code = _main("results", str(out))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if stays:
        assert code == 0
        assert _one_line(captured.err).startswith(f"mesabase: warning: {out / MANIFEST}: "
                                                  "line 3 is not a manifest record")
    else:
        assert code == 1
        assert captured.err.startswith(f"mesabase: corrupt cell {key}: ")
    assert _main("sweep", str(spec), "--executor", "serial", "--out", str(out)) == 0
    text = capsys.readouterr().out
    assert ("wrote 0 cells" in text) if stays else ("wrote 1 cells (1 recomputed: corrupt)"
                                                    in text)
    assert _main("results", str(out)) == 0
    assert_frame_equal(sw.order_columns(Store(out).table()), reference, check_exact=True)


def test_recomputed_cells_are_counted_as_written(tmp_path, capsys):
    """10(c): after a recovery the command said "wrote 0 cells"."""
    spec, out = _spec(tmp_path), tmp_path / "store"
    assert _main("sweep", str(spec), "--executor", "serial", "--out", str(out)) == 0
    capsys.readouterr()
    store = Store(out)
    path = out / next(r for r in _records(store) if r["key"] == CELLS[0].key)["file"]
    path.write_bytes(path.read_bytes()[:-5])
    assert _main("sweep", str(spec), "--executor", "serial", "--out", str(out)) == 0
    captured = capsys.readouterr()
    assert "wrote 1 cells (1 recomputed: corrupt)" in captured.out
    assert _one_line(captured.err) == (f"mesabase: warning: cell {CELLS[0].key} in {out} is "
                                       "corrupt (truncated: " + captured.err.split(
                                           "(truncated: ")[1].strip())


def test_a_symlinked_manifest_stops_the_sweep_with_one_line(tmp_path, capsys):
    victim = tmp_path / "victim.jsonl"
    victim.write_text("precious\n")
    spec, out = _spec(tmp_path), tmp_path / "store"
    out.mkdir()
    (out / MANIFEST).symlink_to(victim)
    assert _main("sweep", str(spec), "--executor", "serial", "--out", str(out)) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"mesabase: error: {out / MANIFEST}: ") and "symbolic link" in line
    assert victim.read_text() == "precious\n"
    assert _main("results", str(out)) == 1
    assert "symbolic link" in _one_line(capsys.readouterr().err)
    assert {p.name for p in out.iterdir()} <= {MANIFEST, LOCK}  # no cell, no temp file


# ---- 3: a spec's name is a plain name ------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../x", "/tmp/x", ".hidden", "a/b", "..", "", "a b",
                                  "x" * 101])
def test_a_spec_name_that_is_not_a_plain_name_is_refused(tmp_path, monkeypatch, capsys,
                                                         name):
    monkeypatch.chdir(tmp_path)
    spec = _spec(tmp_path, f"[sweep]\nname = {json.dumps(name)}\n" + SPEC.replace(
        "[sweep]\n", ""))
    with pytest.raises(SpecError) as e:
        spec_name(spec)
    assert e.value.key == "sweep.name" and "plain name" in str(e.value)
    with pytest.raises(SpecError):
        load_spec(spec)
    before = sorted(tmp_path.parent.rglob("*"))
    assert _main("sweep", str(spec), "--executor", "serial") == 2
    assert "sweep.name: must be a plain name" in _one_line(capsys.readouterr().err)
    assert sorted(tmp_path.parent.rglob("*")) == before  # no store anywhere


def test_a_file_stem_that_is_not_a_plain_name_needs_a_name(tmp_path):
    spec = _spec(tmp_path, SPEC, name="my sweep.toml")
    with pytest.raises(SpecError, match=r"sweep.name: the file's name 'my sweep' is not a "
                                        r"plain name .*set \[sweep\] name"):
        spec_name(spec)
    named = _spec(tmp_path, '[sweep]\nname = "v1.2_ok-name"\n' + SPEC.replace("[sweep]\n", ""),
                  name="my sweep 2.toml")
    assert spec_name(named) == "v1.2_ok-name"


# ---- 10: limits and types in specs ---------------------------------------------------------------

@pytest.mark.parametrize("text, key", [
    (GRID + "steps = 1000000000000\n", "grid[0].steps"),
    ("[sweep]\nsteps = 1000000000000\n" + GRID, "sweep.steps"),
    (GRID + "seeds = 100000000\nsteps = 2\n", "grid[0].seeds"),
    (GRID + "steps = 100000\nseeds = 1000\nlr = [" + ", ".join(
        str(i / 100) for i in range(101)) + "]\n", "grid"),
    (GRID + "lr = [" + ", ".join(str(i / 1000) for i in range(1000)) + "]\nseeds = ["
     + ", ".join(str(i) for i in range(1, 102)) + "]\n", "grid[0]"),
])
def test_work_past_the_limits_is_refused_at_once(tmp_path, capsys, text, key):
    """10(a): ``steps = 10**12`` was accepted and hung for most of an hour (the default
    record_every search alone) before any output."""
    spec = _spec(tmp_path, text)
    with pytest.raises(SpecError) as e:
        load_spec(spec)
    assert e.value.key == key and "over the limit" in str(e.value)
    assert _main("sweep", str(spec), "--out", str(tmp_path / "o")) == 2
    assert "over the limit" in _one_line(capsys.readouterr().err)
    with pytest.raises(SpecError, match="over the limit"):
        grid(scenario="proxy-bandit", steps=10**12)


@pytest.mark.parametrize("text, key, words", [
    (GRID + 'gamma = "0.9"\n', "grid[0].gamma", "real number"),
    (GRID + "steps = 2.7\n", "grid[0].steps", "integer"),
    (GRID + "seeds = true\n", "grid[0].seeds", "integer"),
    (GRID + "record_every = 2.0\n", "grid[0].record_every", "integer"),
    ("[sweep]\nsteps = 2.7\n" + GRID, "sweep.steps", "integer"),
    ("[sweep]\nseeds = true\n" + GRID, "sweep.seeds", "integer"),
    (GRID + 'lr = ["0.1"]\n', "grid[0].lr", "real number"),
    (GRID + "natural = 1\n", "grid[0].natural", "true or false"),
    (GRID + "baseline = true\n", "grid[0].baseline", "real number"),
    (GRID + 'seeds = "8"\n', "grid[0].seeds", "integer"),
])
def test_wrong_types_are_refused_naming_the_key(tmp_path, text, key, words):
    """10(d)."""
    with pytest.raises(SpecError) as e:
        load_spec(_spec(tmp_path, text))
    assert e.value.key == key and words in str(e.value)


@pytest.mark.parametrize("kwargs, key", [(dict(gamma="0.9"), "gamma"), (dict(steps=2.7), "steps"),
                                         (dict(seeds=True), "seeds")])
def test_wrong_types_are_refused_by_grid(kwargs, key):
    with pytest.raises(SpecError) as e:
        grid(scenario="proxy-bandit", **kwargs)
    assert e.value.key == key


# ---- 11: one line, never a traceback -------------------------------------------------------------

def test_a_spec_that_is_not_utf8_or_not_toml_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(GRID.encode() + b'lr = "\xff\xfe"\n')
    assert _main("sweep", str(bad), "--out", str(tmp_path / "o")) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"mesabase: error: {bad}: (toml): not UTF-8 text (byte 41: 0xff)")
    for text in ("[[grid]\n", GRID + "lr = " + "[" * 10000 + "]" * 10000 + "\n",
                 GRID + "steps = 1" + "0" * 5000 + "\n"):
        bad.write_text(text)
        assert _main("sweep", str(bad), "--out", str(tmp_path / "o")) == 2
        assert _one_line(capsys.readouterr().err).startswith(f"mesabase: error: {bad}: (toml): ")
    assert not (tmp_path / "o").exists()


def test_an_unreadable_spec_is_one_line(tmp_path, capsys, monkeypatch):
    spec = _spec(tmp_path)
    real = Path.read_bytes

    def denied(self):  # chmod 000 does not stop root, who runs the tests here
        if self == spec:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert _main("sweep", str(spec), "--out", str(tmp_path / "o")) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"mesabase: error: cannot read the spec: {spec}: Permission denied")


def test_a_store_path_that_is_a_file_or_below_one_is_one_line(tmp_path, capsys):
    spec, file = _spec(tmp_path), tmp_path / "file"
    file.write_text("")
    assert _main("sweep", str(spec), "--out", str(file)) == 2
    assert "exists and is not a directory" in _one_line(capsys.readouterr().err)
    assert _main("sweep", str(spec), "--out", str(file / "store")) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(file / "store") in line and "Not a directory" in line
    folder = tmp_path / "folder"  # a folder of other things is not made a store
    folder.mkdir()
    (folder / "thesis.tex").write_text("")
    assert _main("sweep", str(spec), "--out", str(folder)) == 2
    assert "is not a results store" in _one_line(capsys.readouterr().err)
    assert [p.name for p in folder.iterdir()] == ["thesis.tex"]
    assert _main("results", str(file)) == 2
    assert "no results store" in _one_line(capsys.readouterr().err)


def test_a_full_disk_is_one_line_and_the_rerun_resumes(reference, tmp_path, capsys,
                                                       monkeypatch):
    spec, out = _spec(tmp_path), tmp_path / "store"
    real, calls = store_module.write_all, []

    def fills_up(fd, data):  # the second cell's file finds the disk full
        calls.append(len(data))
        if len(calls) == 3:  # cell 1's file, its record, cell 2's file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data)

    monkeypatch.setattr(store_module, "write_all", fills_up)
    assert _main("sweep", str(spec), "--executor", "serial", "--out", str(out)) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"mesabase: error: {out}: cannot write cell ")
    assert line.endswith("No space left on device (the cells finished so far are kept)")
    assert len(Store(out).keys()) == 1
    assert not any(p.name.startswith(store_module.TEMP_PREFIX) for p in out.iterdir())
    monkeypatch.setattr(store_module, "write_all", real)
    assert _main("sweep", str(spec), "--executor", "serial", "--out", str(out)) == 0
    assert "1 already in" in capsys.readouterr().out
    assert_frame_equal(sw.order_columns(Store(out).table()), reference, check_exact=True)


def test_a_read_only_store_is_one_line_and_results_still_reads_it(tmp_path, capsys,
                                                                  monkeypatch):
    spec, out = _spec(tmp_path), tmp_path / "store"
    sw.sweep(CELLS[:1], executor="serial", store=out)
    (out / LOCK).unlink()
    real = os.open

    def read_only(path, flags, *args, **kwargs):  # chmod does not stop root: simulate EROFS
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    assert _main("sweep", str(spec), "--executor", "serial", "--out", str(out)) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"mesabase: error: {out / LOCK}: cannot write cell ")
    assert "Read-only file system" in line
    assert _main("results", str(out)) == 0
    assert "1 cells, 6 rows" in capsys.readouterr().out
    csv = tmp_path / "file" / "all.csv"
    (tmp_path / "file").write_text("")
    assert _main("results", str(out), "--csv", str(csv)) == 1
    assert _one_line(capsys.readouterr().err).startswith("mesabase: error: --csv: ")


def test_results_says_when_it_creates_the_csv_folder(tmp_path, capsys):
    out = tmp_path / "store"
    sw.sweep(CELLS[:1], executor="serial", store=out)
    csv = tmp_path / "new" / "deeper" / "all.csv"
    assert _main("results", str(out), "--csv", str(csv)) == 0
    text = capsys.readouterr().out
    assert f"mesabase: created folder {csv.parent}" in text and csv.exists()


def test_the_command_never_ends_in_a_traceback(tmp_path, capsys):
    """End to end through ``cli.main``: each bad input is one line naming the path and a
    non-zero exit, whichever layer (the command or the top-level guard) words it."""
    spec, out = _spec(tmp_path), tmp_path / "store"
    bad = tmp_path / "bad.toml"
    bad.write_bytes(GRID.encode() + b'lr = "\xff"\n')
    assert cli.main(["sweep", str(bad), "--out", str(out)]) == 2
    assert str(bad) in _one_line(capsys.readouterr().err)
    link = tmp_path / "linked"
    link.mkdir()
    (link / MANIFEST).symlink_to(tmp_path / "victim")
    assert cli.main(["sweep", str(spec), "--executor", "serial", "--out", str(link)]) != 0
    assert str(link / MANIFEST) in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "victim").exists()
    assert cli.main(["sweep", str(spec), "--executor", "serial", "--out", str(out)]) == 0
    key = CELLS[0].key
    rec = next(r for r in _records(Store(out)) if r["key"] == key)
    _append(Store(out), {**rec, "rows": 1})
    capsys.readouterr()
    assert cli.main(["results", str(out)]) == 1
    assert key in capsys.readouterr().err
    assert cli.main(["sweep", str(spec), "--executor", "serial", "--out", str(out)]) == 0
    assert "wrote 1 cells (1 recomputed: corrupt)" in capsys.readouterr().out
    assert cli.main(["results", str(out)]) == 0
