"""The results store: round trips, order, idempotence, corruption found by key, crash safety.

Every comparison of tables is exact (``assert_frame_equal(check_exact=True)``: tolerance 0,
dtypes and index included): the store moves bytes, it computes nothing.
"""

import fcntl
import hashlib
import inspect
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd

import mesabase.sims.experiments.store as store_module
from mesabase.sims.experiments.store import LOCK, MANIFEST, CorruptCell, Store


def _cell_frame(i: int, n: int = 50) -> pd.DataFrame:
    """A deterministic table for cell ``i`` (rows deliberately not sorted)."""
    rng = np.random.default_rng(i)
    return pd.DataFrame({"i": np.full(n, i, dtype=np.int64), "seed": np.arange(n)[::-1],
                         "x": rng.standard_normal(n)})


def _records(store: Store) -> list[dict]:
    """The manifest's lines, each of which must be a complete JSON record."""
    text = (store.path / MANIFEST).read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _file(store: Store, key: str) -> Path:
    [rec] = [r for r in _records(store) if r["key"] == key][-1:]
    return store.path / rec["file"]


def _assert_consistent(store: Store):
    """Every recorded cell verifies; no temp files; no cell file that no record names."""
    recs = _records(store)
    live = {}
    for r in recs:
        if r["op"] == "put":
            live[r["key"]] = r["file"]
        else:
            live.pop(r["key"], None)
    assert store.keys() == sorted(live)
    assert store.verify() == {}
    files = {p.name for p in store.path.iterdir()} - {MANIFEST, LOCK}
    assert files == set(live.values())


# ---- round trip, order, idempotence -----------------------------------------------------------

def test_round_trip_keeps_dtypes_index_and_row_order(tmp_path):
    df = pd.DataFrame({
        "i8": np.array([3, -1, 2], dtype=np.int8),
        "u16": np.array([1, 2, 65535], dtype=np.uint16),
        "f32": np.array([0.5, np.nan, -0.0], dtype=np.float32),
        "f64": [1.0, 1e-300, np.inf],
        "b": [True, False, True],
        "s": ["x", "", None],
        "cat": pd.Categorical(["a", "b", "a"]),
        "t": pd.to_datetime(["2020-01-01", "2021-01-01", None]),
        "nullable": pd.array([1, None, 3], dtype="Int64"),
    }, index=[10, 5, 7])
    store = Store(tmp_path / "deep" / "store")  # parents created
    store.write("k", df, {"seed": 3, "grid": [0.1, 0.2]})
    out = Store(store.path).read("k")  # a second Store instance reads what the first wrote
    pd.testing.assert_frame_equal(out, df, check_exact=True)
    assert list(out.index) == [10, 5, 7]
    assert np.signbit(out["f32"].iloc[2])  # -0.0 kept bit for bit
    assert store.meta("k") == {"seed": 3, "grid": [0.1, 0.2]}
    assert store.has("k") and "k" in store and not store.has("other")


@settings(max_examples=20, deadline=None)
@given(hpd.data_frames([hpd.column("a", dtype=np.int64),
                        hpd.column("b", dtype=np.float64),
                        hpd.column("c", dtype=bool),
                        hpd.column("d", elements=st.text(max_size=5))],
                       index=hpd.range_indexes(max_size=8)),
       st.text(min_size=1, max_size=20))
def test_round_trip_property(df, key):
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        df = df.astype({"d": "str"})
        store.write(key, df, {})
        pd.testing.assert_frame_equal(store.read(key), df, check_exact=True)
        assert store.keys() == [key]
        assert store.verify() == {}


def test_table_is_sorted_by_key_with_each_cells_rows_in_order(tmp_path):
    store = Store(tmp_path)
    cells = {"c": [5, 4], "a": [9, 1, 3], "b": [7]}
    for key, xs in cells.items():  # written out of order
        store.write(key, pd.DataFrame({"key": key, "x": xs}), {})
    expected = pd.DataFrame({"key": ["a", "a", "a", "b", "c", "c"], "x": [9, 1, 3, 7, 5, 4]})
    pd.testing.assert_frame_equal(store.table(), expected, check_exact=True)
    pd.testing.assert_frame_equal(Store(tmp_path).table(), expected, check_exact=True)
    sub = store.table(["c", "a", "c"])  # order and repeats of the argument do not matter
    pd.testing.assert_frame_equal(sub, expected.iloc[[0, 1, 2, 4, 5]].reset_index(drop=True))
    assert store.table([]).empty
    assert Store(tmp_path / "empty").table().empty
    with pytest.raises(KeyError, match="'zz'"):
        store.table(["a", "zz"])


def test_identical_rewrite_is_a_no_op_and_different_bytes_replace(tmp_path):
    store = Store(tmp_path)
    store.write("k", _cell_frame(1), {"run": 1})
    path = _file(store, "k")
    stat = path.stat()
    store.write("k", _cell_frame(1), {"run": 2})  # same bytes: no file, no line, first meta
    assert len(_records(store)) == 1
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino
    assert store.meta("k") == {"run": 1}
    store.write("k", _cell_frame(2), {"run": 3})  # different bytes: last writer wins
    assert len(_records(store)) == 2
    assert not path.exists()  # the superseded file is gone
    pd.testing.assert_frame_equal(store.read("k"), _cell_frame(2), check_exact=True)
    assert store.meta("k") == {"run": 3}
    _assert_consistent(store)


def test_rewrite_with_identical_bytes_repairs_a_damaged_file(tmp_path):
    store = Store(tmp_path)
    store.write("k", _cell_frame(1), {})
    path = _file(store, "k")
    path.write_bytes(path.read_bytes()[:-10])
    store.write("k", _cell_frame(1), {})
    assert store.verify() == {}
    pd.testing.assert_frame_equal(store.read("k"), _cell_frame(1), check_exact=True)


# ---- corruption: detected by key, discarded, recomputed ---------------------------------------

def _three(tmp_path) -> Store:
    store = Store(tmp_path)
    for i, key in enumerate(["a", "b", "c"]):
        store.write(key, _cell_frame(i), {"i": i})
    return store


def test_truncated_file_is_detected_by_key_then_discarded_and_recomputed(tmp_path):
    store = _three(tmp_path)
    path = _file(store, "b")
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    assert store.has("b")  # has() does not hash: presence only
    with pytest.raises(CorruptCell) as err:
        store.read("b")
    assert err.value.key == "b" and err.value.path == path
    assert err.value.reason == f"truncated: {size // 2} of {size} bytes"
    assert "'b'" in str(err.value)
    assert store.verify() == {"b": f"truncated: {size // 2} of {size} bytes"}
    assert store.verify(["a", "c", "not-there"]) == {}
    with pytest.raises(CorruptCell) as err:
        store.table()
    assert err.value.key == "b"
    pd.testing.assert_frame_equal(store.table(["a", "c"]),
                                  pd.concat([_cell_frame(0), _cell_frame(2)], ignore_index=True))

    store.discard("b")
    assert not store.has("b") and store.keys() == ["a", "c"] and not path.exists()
    assert store.verify() == {}
    with pytest.raises(KeyError):
        store.read("b")
    store.write("b", _cell_frame(1), {"i": 1})  # recompute
    pd.testing.assert_frame_equal(store.read("b"), _cell_frame(1), check_exact=True)
    _assert_consistent(store)


def test_flipped_byte_is_a_checksum_mismatch(tmp_path):
    store = _three(tmp_path)
    path = _file(store, "a")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptCell, match="checksum mismatch") as err:
        store.read("a")
    assert err.value.key == "a"
    assert list(store.verify()) == ["a"]
    assert store.verify()["a"].startswith("checksum mismatch: sha256 ")


def test_missing_file_is_corrupt_not_skipped(tmp_path):
    store = _three(tmp_path)
    _file(store, "c").unlink()
    assert not store.has("c") and store.keys() == ["a", "b"]
    assert store.verify() == {"c": "missing file"}
    with pytest.raises(CorruptCell, match="missing file") as err:
        store.table()
    assert err.value.key == "c"


def _append_record(store: Store, key: str, data: bytes, name: str | None = None, **changes):
    """Hand-write a cell file and its put record, as a buggy or foreign writer might; the
    file gets the key's own name unless ``name`` is given (then nothing is written)."""
    sha = hashlib.sha256(data).hexdigest()
    if name is None:
        name = store_module.cell_name(key, sha)
        (store.path / name).write_bytes(data)
    rec = {"op": "put", "key": key, "file": name, "sha256": sha, "bytes": len(data),
           "rows": 50, "meta": {}, "time": "t", **changes}
    with open(store.path / MANIFEST, "a") as f:
        f.write(json.dumps(rec) + "\n")


def _parquet(key: str, frame: pd.DataFrame) -> bytes:
    return store_module.to_parquet(frame, key)


def test_records_that_do_not_match_their_file(tmp_path):
    store = _three(tmp_path)
    good = _file(store, "a").read_bytes()  # cell "a"'s bytes: they carry the key "a"
    _append_record(store, "junk", b"not parquet at all")
    _append_record(store, "rows", _parquet("rows", _cell_frame(0)), rows=49)
    long = _parquet("long", _cell_frame(0))
    _append_record(store, "long", long + b"x", bytes=len(long))
    _append_record(store, "escape", good, name="../outside.parquet")
    _append_record(store, "other", good)  # a's file copied under the key "other"'s name
    bad = store.verify()  # every check of read(): name, size, hash, Parquet, key, rows
    assert bad == {
        "junk": bad["junk"], "rows": "50 rows, manifest says 49",
        "long": f"{len(long) + 1} bytes, manifest says {len(long)}",
        "escape": "bad file name '../outside.parquet' in the manifest (not a cell file name)",
        "other": "the file is cell 'a''s, not this key's"}
    assert bad["junk"].startswith("unreadable Parquet: ")
    for key, reason in bad.items():
        with pytest.raises(CorruptCell) as err:
            store.read(key)
        assert err.value.key == key and err.value.reason == reason


def test_records_with_wrong_field_types_are_skipped_with_a_warning(tmp_path):
    store = _three(tmp_path)
    _append_record(store, "b", b"x", bytes="1")
    fresh = Store(tmp_path)
    with pytest.warns(RuntimeWarning, match="line 4 is not a manifest record"):
        assert fresh.keys() == ["a", "b", "c"]
    pd.testing.assert_frame_equal(fresh.read("b"), _cell_frame(1), check_exact=True)


def test_discard_of_an_unknown_key_changes_nothing(tmp_path):
    store = _three(tmp_path)
    before = (tmp_path / MANIFEST).read_bytes()
    store.discard("zz")
    assert (tmp_path / MANIFEST).read_bytes() == before


# ---- crash leftovers: torn lines, temp files, orphans ------------------------------------------

@pytest.mark.parametrize("torn", [b'{"op":"put","key":"c","fi', b'{"op":"discard","key":"a"}'])
def test_torn_manifest_line_is_ignored_then_cut_by_the_next_writer(tmp_path, torn):
    _three(tmp_path)
    with open(tmp_path / MANIFEST, "ab") as f:
        f.write(torn)  # a record without its newline: its writer never returned
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ignored silently: not damage, an unfinished write
        fresh = Store(tmp_path)
        assert fresh.keys() == ["a", "b", "c"]
        assert fresh.verify() == {}
        fresh.write("d", _cell_frame(3), {})
    recs = _records(fresh)  # every line complete JSON: the torn tail was cut, not glued to
    assert [r["key"] for r in recs] == ["a", "b", "c", "d"]
    _assert_consistent(fresh)


def test_complete_garbage_line_is_skipped_with_a_warning(tmp_path):
    _three(tmp_path)
    lines = (tmp_path / MANIFEST).read_text().splitlines(keepends=True)
    lines.insert(1, "this is not json\n")
    (tmp_path / MANIFEST).write_text("".join(lines))
    with pytest.warns(RuntimeWarning, match="line 2 is not a manifest record"):
        keys = Store(tmp_path).keys()
    assert keys == ["a", "b", "c"]


def test_leftover_temp_files_are_ignored_and_cleaned_by_the_next_writer(tmp_path):
    store = _three(tmp_path)
    dead = tmp_path / f"{store_module.TEMP_PREFIX}999999-00000000deadbeef.parquet"
    dead.write_bytes(b"half a parq")
    live = tmp_path / f"{store_module.TEMP_PREFIX}1-0000000000000abc.parquet"  # held
    # (flocked) by a writer still running
    live.write_bytes(b"in progress")
    orphan = tmp_path / "x.000000000000.000000000000000000000000.parquet"  # renamed, unrecorded
    orphan.write_bytes(_file(store, "a").read_bytes())
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fresh = Store(tmp_path)
        assert fresh.keys() == ["a", "b", "c"] and fresh.verify() == {}
        pd.testing.assert_frame_equal(fresh.table(), store.table(), check_exact=True)
        assert dead.exists() and orphan.exists()  # readers never delete
        fresh.write("d", _cell_frame(3), {})
        assert not dead.exists() and not orphan.exists()
        assert live.exists()  # a live writer's temp file is left alone
    finally:
        os.close(fd)
    live.unlink()
    _assert_consistent(fresh)


# ---- concurrency -------------------------------------------------------------------------------

def _child(body: str, store: str = "sys.argv[1]") -> str:
    """A child script that loads only store.py and store_files.py (by path, as modules of a
    stand-in package: no mesabase/pytest imports, so it starts fast) and the exact source of
    :func:`_cell_frame`; ``store``: the store's path."""
    return "\n".join([
        "import importlib.util, os, signal, sys, types",
        "import numpy as np",
        "import pandas as pd",
        "pkg = types.ModuleType('_store_pkg')",
        f"pkg.__path__ = [{os.path.dirname(store_module.__file__)!r}]",
        "sys.modules['_store_pkg'] = pkg",
        f"spec = importlib.util.spec_from_file_location('_store_pkg.store', "
        f"{store_module.__file__!r})",
        "S = importlib.util.module_from_spec(spec)",
        "sys.modules['_store_pkg.store'] = S",
        "spec.loader.exec_module(S)",
        f"store = S.Store({store})",
        inspect.getsource(_cell_frame), textwrap.dedent(body)])


_WRITER = _child("""
    barrier.wait()
    for i in range(20):
        store.write(f"{who}-{i:02d}", _cell_frame(100 * (who == "p") + i), {"who": who})
        if i < 10:  # the same 10 cells with identical bytes from both processes
            store.write(f"shared-{i}", _cell_frame(1000 + i), {"who": who})
        if i < 5:  # the same 5 cells with different bytes: last writer wins
            store.write(f"contested-{i}", _cell_frame(2000 + i + 10 * (who == "p")), {"who": who})
""", store="path")


def test_two_processes_writing_at_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=exec, args=(_WRITER, {"path": str(tmp_path), "who": who,
                                                      "barrier": barrier})) for who in "pq"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]

    store = Store(tmp_path)
    own = [f"{w}-{i:02d}" for w in "pq" for i in range(20)]
    assert set(own) <= set(store.keys()) and len(store.keys()) == 40 + 10 + 5
    for key in own:  # all 40 readable and whole
        expected = _cell_frame(100 * key.startswith("p") + int(key[2:]))
        pd.testing.assert_frame_equal(store.read(key), expected, check_exact=True)
    recs = _records(store)
    for i in range(10):  # identical bytes: exactly one record, whoever came first
        assert sum(r["key"] == f"shared-{i}" for r in recs) == 1
        pd.testing.assert_frame_equal(store.read(f"shared-{i}"), _cell_frame(1000 + i))
    for i in range(5):  # one of the two tables, whole, and the meta of the same writer
        who = store.meta(f"contested-{i}")["who"]
        expected = _cell_frame(2000 + i + 10 * (who == "p"))
        pd.testing.assert_frame_equal(store.read(f"contested-{i}"), expected, check_exact=True)
    _assert_consistent(store)


def test_threads_sharing_one_store(tmp_path):
    store = Store(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: store.write(f"t{i:02d}", _cell_frame(i, 5), {}), range(24)))
    assert store.keys() == [f"t{i:02d}" for i in range(24)]
    _assert_consistent(store)


_KILLED_WRITER = _child("""
    for i in range(100000):
        store.write(f"cell-{i:05d}", _cell_frame(i, 4000), {"i": i})
        print(i, flush=True)
""")


@pytest.mark.parametrize("pause", [0.0, 0.005])
def test_writer_killed_with_sigkill_leaves_every_cell_whole_or_absent(tmp_path, pause):
    """SIGKILL from outside, ``pause`` seconds after the 6th cell returned: wherever the
    writer is then (the test asserts nothing about where; the deterministic test below
    visits each step), every cell is whole or absent and nothing that returned is lost."""
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    acked = [int(proc.stdout.readline()) for _ in range(6)]
    time.sleep(pause)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL and acked == list(range(6))

    store = Store(tmp_path)
    keys = store.keys()
    m = len(keys)
    assert m >= 6 and keys == [f"cell-{i:05d}" for i in range(m)]  # nothing returned is lost
    assert store.verify() == {}
    for i, key in enumerate(keys):  # each present cell complete
        pd.testing.assert_frame_equal(store.read(key), _cell_frame(i, 4000), check_exact=True)
    store.write(f"cell-{m:05d}", _cell_frame(m, 4000), {"i": m})  # the next writer tidies up
    _assert_consistent(store)


_CRASH_AT = _child("""
    for i in range(5):
        store.write(f"cell-{i:05d}", _cell_frame(i), {})
    die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
    write_all = S.write_all
    def half(fd, data):
        if data.startswith(sys.argv[2].encode()):  # PAR1: the cell's bytes; {": the record
            write_all(fd, data[: len(data) // 2])
            die()
        write_all(fd, data)
    if sys.argv[2] == "rename":
        S.os.replace = die
    elif sys.argv[2] == "append":
        S.Store._append = die
    else:
        S.write_all = half
    store.write("cell-00005", _cell_frame(5), {})
""")


def test_sigkill_at_each_step_of_a_write(tmp_path):
    """A deterministic SIGKILL (the writer kills itself) in the middle of the temp file,
    before the rename, between rename and record, and in the middle of the record line."""
    steps = {"PAR1": ["temp"], "rename": ["temp"], "append": ["orphan"],
             '{"': ["orphan", "torn line"]}
    procs = {step: subprocess.Popen([sys.executable, "-c", _CRASH_AT, str(tmp_path / step[:2]),
                                     step]) for step in steps}
    for step, proc in procs.items():
        assert proc.wait(timeout=60) == -signal.SIGKILL
        store = Store(tmp_path / step[:2])
        names = {p.name for p in store.path.iterdir()}
        manifest = (store.path / MANIFEST).read_bytes()
        left = {"temp": any(n.startswith(store_module.TEMP_PREFIX) for n in names),
                "orphan": sum(n.endswith(".parquet") and n[0] != "." for n in names) == 6,
                "torn line": not manifest.endswith(b"\n")}
        assert [k for k, v in left.items() if v] == steps[step]  # the crash left that mess
        assert store.keys() == [f"cell-{i:05d}" for i in range(5)] and store.verify() == {}
        store.write("cell-00005", _cell_frame(5), {})  # the next writer: recompute, tidy up
        pd.testing.assert_frame_equal(store.table(), pd.concat(
            [_cell_frame(i) for i in range(6)], ignore_index=True), check_exact=True)
        _assert_consistent(store)
