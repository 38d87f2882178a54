"""The results store as untrusted input (issue 11, items 1–5): a crafted or damaged store never
makes the store touch anything outside its directory, follow a link, serve one key's table
for another, or crash; what is wrong is reported by key and the cell is recomputed.

Every attack here worked against the store before these checks: a ``file`` of
``../victim.txt`` was deleted by ``discard``; a symlinked ``manifest.jsonl`` was appended to;
the clean-up deleted ``.tmp-*`` and cell-shaped files of any folder; a swapped record served
the other key's table; a wrong ``rows`` passed ``verify`` and then broke ``table``.

An audit hook (:func:`sys.addaudithook`) records every file the store opens, lists, renames
or deletes while :func:`_touched` is active: the tests assert that each is the store
directory or one of the store's own names inside it.
"""

import contextlib
import errno
import hashlib
import json
import os
import stat
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mesabase.sims.experiments.store as store_module
from mesabase.sims.experiments.store import (
    LOCK,
    MANIFEST,
    TEMP_PREFIX,
    CorruptCell,
    Store,
    StoreError,
)

# ---- the audit hook ----------------------------------------------------------------------------

_EVENTS = {"open", "os.remove", "os.rename", "os.listdir", "os.scandir", "os.mkdir",
           "os.rmdir", "os.link", "os.symlink", "os.chmod", "os.utime", "shutil.rmtree"}
_SEEN: list | None = None
_LIBRARIES = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})


def _hook(event, args):
    if _SEEN is not None and event in _EVENTS:
        _SEEN.append((event, args))


sys.addaudithook(_hook)  # permanent, but records only inside _touched()


@contextlib.contextmanager
def _touched():
    """The (event, path) pairs of the file operations run inside the block."""
    global _SEEN
    seen, _SEEN = [], []
    try:
        yield seen
    finally:
        for event, args in _SEEN:  # the path arguments: open(path, mode, flags), …
            paths = args[:2] if event in ("os.rename", "os.link", "os.symlink") else args[:1]
            seen += [(event, os.fsdecode(a)) for a in paths if isinstance(a, (str, bytes))]
        _SEEN = None


def _assert_inside(seen, root: Path):
    """Each path is the store directory, a path inside it, or a bare name of the store's
    own (used relative to a descriptor of the store directory)."""
    root = os.path.abspath(root)
    for event, p in seen:
        if "/" not in p and store_module.is_own_name(p):
            continue
        if p.endswith((".py", ".pyc", ".so")) or p.startswith(_LIBRARIES):
            continue  # an import (pyarrow loads some of its modules on first use)
        assert os.path.commonpath([root, os.path.abspath(p)]) == root, (event, p)


# ---- helpers -----------------------------------------------------------------------------------

def _frame(i: int, n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(i)
    return pd.DataFrame({"i": np.full(n, i, dtype=np.int64), "x": rng.standard_normal(n)})


def _records(store: Store) -> list[dict]:
    return [json.loads(line) for line in (store.path / MANIFEST).read_text().splitlines()]


def _record(store: Store, key: str) -> dict:
    return [r for r in _records(store) if r["key"] == key][-1]


def _append(store: Store, rec: dict | str):
    with open(store.path / MANIFEST, "a") as f:
        f.write((rec if isinstance(rec, str) else json.dumps(rec)) + "\n")


def _put(key, file, data: bytes, **changes) -> dict:
    return {"op": "put", "key": key, "file": file, "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data), "rows": 20, "meta": {}, "time": "t", **changes}


def _victim(tmp_path: Path, name="victim.txt") -> tuple[Path, bytes, int]:
    path = tmp_path / name
    path.write_bytes(b"precious, and outside the store\n")
    return path, path.read_bytes(), path.stat().st_mtime_ns


def _intact(victim):
    path, data, mtime = victim
    assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime


def _two(root: Path) -> Store:
    store = Store(root)
    store.write("a", _frame(0), {"i": 0})
    store.write("b", _frame(1), {"i": 1})
    return store


# ---- 1: a record's file outside the store --------------------------------------------------------

def _hostile_names(tmp_path: Path) -> list[str]:
    return ["../victim.txt", str(tmp_path / "victim.txt"), "..", ".", "", "/",
            "sub/../../victim.txt", "./../victim.txt", MANIFEST, LOCK,
            "a.000000000000.000000000000000000000000.parquet/../../victim.txt",
            f"{TEMP_PREFIX}1-0123456789abcdef.parquet"]


def test_a_record_naming_a_path_outside_is_reported_and_never_touched(tmp_path):
    victim = _victim(tmp_path)
    for i, name in enumerate(_hostile_names(tmp_path)):
        store = _two(tmp_path / f"s{i}")
        _append(store, _put("a", name, victim[1]))   # replaces a's record
        _append(store, _put("new", name, victim[1]))  # a key with no other record
        with _touched() as seen:
            fresh = Store(store.path)
            assert fresh.keys() == ["b"] and not fresh.has("a") and not fresh.has("new")
            bad = fresh.verify()
            assert set(bad) == {"a", "new"}, name
            assert bad["a"].startswith(f"bad file name {name!r}") or "not this key's" in bad["a"]
            with pytest.raises(CorruptCell) as err:
                fresh.read("new")
            assert err.value.key == "new"
            with pytest.raises(CorruptCell):
                fresh.table()
            for key in ("a", "new"):  # the sweep's recovery: discard, then recompute
                fresh.discard(key)
                fresh.write(key, _frame(7), {})
            fresh.write("c", _frame(2), {})  # a writer: the clean-up runs
        _assert_inside(seen, store.path)
        _intact(victim)
        assert fresh.verify() == {} and fresh.keys() == ["a", "b", "c", "new"]
        pd.testing.assert_frame_equal(fresh.read("a"), _frame(7), check_exact=True)


@settings(max_examples=40, deadline=None)
@given(name=st.one_of(st.text(max_size=30),
                      st.sampled_from(["../v", "/etc/passwd", "..", "~/.bashrc", "a/b"])),
       key=st.sampled_from(["a", "b", "z"]))
def test_any_file_name_in_a_record_stays_inside_the_store(name, key):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        victim = _victim(tmp)
        store = _two(tmp / "s")
        _append(store, _put(key, name, victim[1]))
        with _touched() as seen, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fresh = Store(store.path)
            for k, _ in fresh.verify().items():
                fresh.discard(k)
            fresh.write("c", _frame(2), {})
            fresh.write(key, _frame(3), {})
        _assert_inside(seen, store.path)
        _intact(victim)
        assert fresh.verify() == {}


# ---- 2: no links followed ------------------------------------------------------------------------

@pytest.mark.parametrize("entry", [MANIFEST, LOCK])
def test_a_symlinked_manifest_or_lock_is_refused_naming_the_path(tmp_path, entry):
    victim = _victim(tmp_path)
    store = _two(tmp_path / "s")
    (store.path / entry).unlink()
    (store.path / entry).symlink_to(victim[0])
    for call in (lambda: Store(store.path).write("c", _frame(2), {}),
                 lambda: Store(store.path).discard("a"), lambda: Store(store.path).keys(),
                 lambda: Store(store.path).read("a")):
        with pytest.raises(StoreError) as err:
            call()
        text = str(err.value)
        assert text == f"{store.path / entry}: " + text.split(": ", 1)[1]
        assert "symbolic link" in text and "\n" not in text
        assert err.value.errno == errno.ELOOP and isinstance(err.value, OSError)
    _intact(victim)


@pytest.mark.parametrize("entry", [MANIFEST, LOCK])
def test_a_dangling_symlink_is_not_created_through(tmp_path, entry):
    """O_CREAT through a link would create the file it points to, outside the store."""
    store = Store(tmp_path / "s")
    target = tmp_path / "created-outside"
    (store.path / entry).symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link"):
        store.write("a", _frame(0), {})
    assert not target.exists() and not target.is_symlink()
    assert [p.name for p in store.path.iterdir()] == [entry]  # no temp file left


def test_a_manifest_with_two_hard_links_is_not_written(tmp_path):
    store = _two(tmp_path / "s")
    other = tmp_path / "hard-link"
    os.link(store.path / MANIFEST, other)
    before = other.read_bytes()
    assert Store(store.path).keys() == ["a", "b"]  # reading is harmless
    with pytest.raises(StoreError, match="2 hard links"):
        Store(store.path).write("c", _frame(2), {})
    assert other.read_bytes() == before


def test_a_symlinked_cell_file_is_corrupt_never_followed_or_deleted(tmp_path):
    store = _two(tmp_path / "s")
    cell = store.path / _record(store, "a")["file"]
    outside = tmp_path / "copy.parquet"
    outside.write_bytes(cell.read_bytes())  # the very bytes: only the link is wrong
    victim = (outside, outside.read_bytes(), outside.stat().st_mtime_ns)
    cell.unlink()
    cell.symlink_to(outside)
    assert Store(store.path).keys() == ["b"]
    with pytest.raises(CorruptCell, match="symbolic link") as err:
        store.read("a")
    assert err.value.key == "a"
    assert store.verify() == {"a": err.value.reason}
    store.discard("a")
    assert cell.is_symlink()  # a link is never deleted (nor what it points to)
    store.write("a", _frame(0), {"i": 0})  # recompute: the same name, replaced by a file
    assert not cell.is_symlink() and store.verify() == {}
    _intact(victim)


def test_a_fifo_or_a_directory_in_place_of_a_cell_is_corrupt_without_hanging(tmp_path):
    store = _two(tmp_path / "s")
    a, b = (store.path / _record(store, k)["file"] for k in "ab")
    a.unlink()
    os.mkfifo(a)  # opening a FIFO for reading would block forever
    b.unlink()
    b.mkdir()
    assert store.keys() == []
    bad = store.verify()
    assert set(bad) == {"a", "b"}
    assert bad["a"] == "is not a regular file" and "directory" in bad["b"]
    for key in "ab":
        store.discard(key)
    assert stat.S_ISFIFO(a.lstat().st_mode) and b.is_dir()  # left alone


def test_temp_and_cell_shaped_symlinks_are_not_cleaned_through(tmp_path):
    victim = _victim(tmp_path)
    store = _two(tmp_path / "s")
    links = [store.path / f"{TEMP_PREFIX}99999-0123456789abcdef.parquet",
             store.path / "x.000000000000.000000000000000000000000.parquet"]
    for link in links:
        link.symlink_to(victim[0])
    with _touched() as seen:
        Store(store.path).write("c", _frame(2), {})  # the first write cleans up
    _assert_inside(seen, store.path)
    assert all(link.is_symlink() for link in links)
    _intact(victim)


# ---- 3: the clean-up deletes only the store's own leftovers --------------------------------------

def test_a_folder_that_is_not_a_store_is_refused(tmp_path):
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / ".tmp-1-x.parquet").write_text("mine too")
    with pytest.raises(ValueError, match=r"not a results store \(it has no manifest.jsonl\) "
                                         r"and is not empty \('.tmp-1-x.parquet', 'notes.txt'"):
        Store(folder)
    assert sorted(p.name for p in folder.iterdir()) == [".tmp-1-x.parquet", "notes.txt"]
    Store(tmp_path / "empty")  # an empty or new folder is fine
    crashed = tmp_path / "crashed"  # a store whose first writer died before its record
    crashed.mkdir()
    (crashed / LOCK).touch()
    (crashed / "x.000000000000.000000000000000000000000.parquet").touch()
    Store(crashed)


def test_a_store_with_foreign_files_is_never_cleaned(tmp_path):
    store = _two(tmp_path / "s")
    names = [".tmp-1-x.parquet", ".tmp-foo", "notes.txt",
             f"{TEMP_PREFIX}99999-0123456789abcdef.parquet",  # a dead writer's, exactly
             "x.000000000000.000000000000000000000000.parquet"]  # cell-shaped, unrecorded
    for name in names:
        (store.path / name).write_text("not the store's to delete")
    Store(store.path).write("c", _frame(2), {})
    for name in names:
        assert (store.path / name).read_text() == "not the store's to delete"


def test_a_clean_store_deletes_exactly_its_own_leftovers(tmp_path):
    store = _two(tmp_path / "s")
    dead = store.path / f"{TEMP_PREFIX}99999-0123456789abcdef.parquet"
    orphan = store.path / "x.000000000000.000000000000000000000000.parquet"
    dead.write_bytes(b"half")
    orphan.write_bytes(b"renamed, never recorded")
    folder = store.path / "y.000000000000.000000000000000000000000.parquet"
    folder.mkdir()  # cell-shaped but a directory: never deleted
    (folder / "inside").write_text("kept")
    Store(store.path).write("c", _frame(2), {})
    assert not dead.exists() and not orphan.exists()
    assert (folder / "inside").read_text() == "kept"
    assert sorted(p.name for p in store.path.iterdir()) == sorted(
        [MANIFEST, LOCK, folder.name] + [_record(store, k)["file"] for k in "abc"])


# ---- 4: the key is bound into what is checked ----------------------------------------------------

def test_swapped_records_are_corrupt_by_key_and_recomputed(tmp_path):
    store = _two(tmp_path / "s")
    a, b = _record(store, "a"), _record(store, "b")
    _append(store, {**b, "key": "a"})
    _append(store, {**a, "key": "b"})
    fresh = Store(store.path)
    for key in "ab":
        with pytest.raises(CorruptCell, match="not this key's") as err:
            fresh.read(key)
        assert err.value.key == key
    assert set(fresh.verify()) == {"a", "b"} and fresh.keys() == []
    for key in "ab":
        fresh.discard(key)
    assert (store.path / a["file"]).exists() and (store.path / b["file"]).exists()
    for i, key in enumerate("ab"):
        fresh.write(key, _frame(i), {"i": i})
    for i, key in enumerate("ab"):
        pd.testing.assert_frame_equal(fresh.read(key), _frame(i), check_exact=True)
    assert fresh.verify() == {}


def test_another_cells_file_copied_under_this_keys_name_is_corrupt(tmp_path):
    store = _two(tmp_path / "s")
    data = (store.path / _record(store, "b")["file"]).read_bytes()
    name = store_module.cell_name("a", hashlib.sha256(data).hexdigest())
    (store.path / name).write_bytes(data)  # the name is right for "a"; the bytes are b's
    _append(store, _put("a", name, data))
    with pytest.raises(CorruptCell) as err:
        store.read("a")
    assert err.value.key == "a" and err.value.reason == "the file is cell 'b''s, not this key's"


def test_a_file_without_a_key_inside_is_corrupt(tmp_path):
    """A cell written by an older mesabase (no key in its Parquet metadata) is recomputed."""
    store = _two(tmp_path / "s")
    import pyarrow as pa
    import pyarrow.parquet as pq
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(_frame(0)), sink)
    data = sink.getvalue().to_pybytes()
    name = store_module.cell_name("a", hashlib.sha256(data).hexdigest())
    (store.path / name).write_bytes(data)
    _append(store, _put("a", name, data))
    assert store.verify() == {"a": "the file carries no key (written by an older mesabase, "
                                   "or not by this store)"}


# ---- 5: records that disagree with their file, or are malformed ----------------------------------

@pytest.mark.parametrize("changes, why", [
    ({"rows": "x"}, "rows is str"), ({"rows": True}, "rows is bool"),
    ({"rows": -1}, "rows is negative"), ({"bytes": 1.5}, "bytes is float"),
    ({"meta": [1]}, "meta is list"), ({"meta": "x"}, "meta is str"),
    ({"sha256": "zz"}, "sha256 is not 64"), ({"sha256": "A" * 64}, "sha256 is not 64"),
    ({"file": 3}, "file is int"), ({"key": ""}, "key"), ({"key": 3}, "key"),
    ({"rows": None}, "rows is NoneType"), ({"op": "get"}, "op 'get'"),
])
def test_malformed_records_are_skipped_with_a_warning(tmp_path, changes, why):
    store = _two(tmp_path / "s")
    _append(store, {**_record(store, "a"), **changes})
    with pytest.warns(RuntimeWarning, match=r"line 3 is not a manifest record \(.*"
                                            + why.replace("(", r"\(")):
        fresh = Store(store.path)
        assert fresh.keys() == ["a", "b"]
    pd.testing.assert_frame_equal(fresh.read("a"), _frame(0), check_exact=True)
    fresh.write("c", _frame(2), {})
    assert fresh.verify() == {}


@pytest.mark.parametrize("line", ["[1, 2]", '"put"', "{}", '{"op": "put", "key": "a"}',
                                  "[" * 100_000 + "]" * 100_000, "\xff\xfe not utf-8"])
def test_lines_that_are_not_records_are_skipped_with_a_warning(tmp_path, line):
    store = _two(tmp_path / "s")
    with open(store.path / MANIFEST, "ab") as f:
        f.write(line.encode("latin-1") + b"\n")
    with pytest.warns(RuntimeWarning, match="line 3 is not a manifest record"):
        assert Store(store.path).keys() == ["a", "b"]


@pytest.mark.parametrize("field, value", [("rows", 19), ("rows", 10**30), ("bytes", 1)])
def test_a_record_that_disagrees_with_its_file_is_corrupt_in_verify(tmp_path, field, value):
    """verify() decodes: a wrong row count passed it (size and hash only), then broke
    table() on every run."""
    store = _two(tmp_path / "s")
    _append(store, {**_record(store, "a"), field: value})
    bad = Store(store.path).verify()
    assert list(bad) == ["a"]
    store.discard("a")
    store.write("a", _frame(0), {})
    assert store.verify() == {}
    assert len(store.table()) == 40


# ---- errors of the file system: one line naming the path -----------------------------------------

def test_a_full_disk_is_one_line_naming_the_store_and_leaves_nothing(tmp_path, monkeypatch):
    store = _two(tmp_path / "s")
    before = sorted(p.name for p in store.path.iterdir())
    manifest = (store.path / MANIFEST).read_bytes()

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store_module, "write_all", full)
    with pytest.raises(StoreError) as err:
        store.write("c", _frame(2), {})
    assert err.value.errno == errno.ENOSPC
    assert str(err.value) == f"{store.path}: cannot write cell 'c': No space left on device"
    assert sorted(p.name for p in store.path.iterdir()) == before  # the temp file is gone
    assert (store.path / MANIFEST).read_bytes() == manifest


def test_a_read_only_store_is_read_but_not_written(tmp_path, monkeypatch):
    store = _two(tmp_path / "s")
    (store.path / LOCK).unlink()  # a store copied without its lock file
    real = os.open

    def read_only(path, flags, *args, **kwargs):  # as a read-only file system answers
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    ro = Store(store.path)
    assert ro.keys() == ["a", "b"] and ro.verify() == {}
    pd.testing.assert_frame_equal(ro.read("b"), _frame(1), check_exact=True)
    with pytest.raises(StoreError) as err:
        ro.write("c", _frame(2), {})
    assert str(err.value) == (f"{store.path / LOCK}: cannot write cell 'c': "
                              "Read-only file system")


def test_a_store_path_below_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError) as err:
        Store(tmp_path / "file" / "store")
    assert str(err.value).startswith(f"{tmp_path / 'file' / 'store'}: cannot open the store: ")
    assert err.value.errno == errno.ENOTDIR
