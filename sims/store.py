"""The results store: finished sweep cells, one Parquet file each, and a manifest that says which.

    STORE/
      manifest.jsonl                          one JSON record a line: the store's only truth
      .lock                                   the fcntl.flock that serialises writers
      <slug>.<key hash>.<data hash>.parquet   one per finished cell (the bytes of its table)
      .tmp-<pid>-<random>.parquet             a writer's file in progress (never read)

A *cell* is one key (the sweep's configuration hash, any non-empty ``str``) and its tidy table
(a :class:`pandas.DataFrame`) with a small JSON ``meta`` dict. The manifest is append-only:

    {"op": "put", "key": k, "file": f, "sha256": h, "bytes": n, "rows": r, "meta": {...}, "time": t}
    {"op": "discard", "key": k, "time": t}

read in order, the last record of a key wins. A key is *recorded* when its last record is a
``put``; *finished* (:meth:`Store.has`, :meth:`Store.keys`) when in addition its file exists.

Why a reader never sees a half-written cell
    1. The table is serialised to Parquet in memory, hashed (sha256 of the exact bytes) and
       written to a fresh ``.tmp-*`` file in the store directory, then ``os.fsync``-ed.
    2. Under the exclusive store lock the temp file is renamed to its final name
       (``os.replace``: atomic on POSIX, the name refers to nothing or to all of the bytes)
       and the directory is fsynced, so the rename is durable before (3).
    3. Only then is the manifest record appended (one ``write``, ``O_APPEND``) and fsynced.
       A cell is in the store only once its record is a complete line, naming a file that is
       already complete and durable; ``write`` returns after (3), so a returned write
       survives a crash. A crash between (2) and (3) leaves an orphan file no record names:
       invisible, and deleted by the next writer.
    Every read hashes the bytes it got against the manifest's sha256 and size, so a file
    truncated, bit-flipped or swapped behind the store's back raises :class:`CorruptCell`
    naming the key — it is never silently read.

A torn manifest line
    A writer killed during (3) can leave a last line without its newline. That ``write``
    never returned — nobody was told the cell was stored — so a torn line means "not stored".
    Readers parse complete lines only (a torn tail is ignored, never fatal); the next writer,
    under the lock, cuts the tail back to the last newline before appending, so records never
    run together. A complete line that is not a record (damage to the manifest itself) is
    skipped with a :class:`RuntimeWarning` naming the line.

How two writers are serialised
    Steps (2)–(3), deleting superseded files and the clean-up run under an exclusive
    ``fcntl.flock`` on ``.lock``, taken on a fresh descriptor each time, so threads,
    processes and hosts (on a file system with flock) exclude each other; step (1) runs in
    parallel, outside it. Readers hold the shared lock only while they refresh the manifest
    and open a cell's file, so the record and the file they read agree even if a writer
    replaces or discards the cell a moment later (an open file outlives its unlinking). Each
    temp file is created under the store lock and at once ``flock``-ed by its writer; the
    kernel drops that lock when the writer dies (SIGKILL included), and the clean-up deletes
    only temp files it can lock — never a live writer's.

Rewriting a key
    Identical bytes (same sha256, stored file intact): a no-op, no file and no line; the
    first ``meta`` stays. Different bytes: a new file and record replace the old, whose file
    is deleted — *last writer wins*, "last" in the order writers take the lock, so two
    concurrent writers of one key leave exactly one of their tables, whole.

A cell keeps its rows' order, index and dtypes (pyarrow's pandas metadata);
:meth:`Store.table` concatenates cells in sorted-key order. Reading needs write access to
the directory (the lock file is created).

Example:

    >>> import tempfile
    >>> import pandas as pd
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = Store(tmp.name)
    >>> store.write("b", pd.DataFrame({"seed": [1, 0], "gap": [0.5, 0.25]}), {"steps": 10})
    >>> store.write("a", pd.DataFrame({"seed": [0], "gap": [1.0]}), {"steps": 10})
    >>> store.keys(), store.has("a"), store.meta("b")
    (['a', 'b'], True, {'steps': 10})
    >>> store.table()
       seed   gap
    0     0  1.00
    1     1  0.50
    2     0  0.25
    >>> tmp.cleanup()

Reference: the write-temp, fsync, rename, fsync-directory protocol: T. S. Pillai et al., "All
File Systems Are Not Created Equal: On the Complexity of Crafting Crash-Consistent
Applications", OSDI 2014.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import re
import secrets
import threading
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["CorruptCell", "Store", "MANIFEST", "LOCK", "TEMP_PREFIX"]

MANIFEST = "manifest.jsonl"
LOCK = ".lock"
TEMP_PREFIX = ".tmp-"
_CELL_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}\.[0-9a-f]{12}\.[0-9a-f]{24}\.parquet$")
_PUT_FIELDS = {"file": str, "sha256": str, "bytes": int, "rows": int, "meta": dict}


class CorruptCell(Exception):
    """A recorded cell whose file is missing, truncated, altered or not Parquet.

    ``key`` the cell's key; ``path`` the file the manifest names; ``reason`` what is wrong.
    The remedy is :meth:`Store.discard` then recompute (the sweep does this).
    """

    def __init__(self, key: str, path, reason: str):
        super().__init__(key, path, reason)
        self.key, self.path, self.reason = key, Path(path), reason

    def __str__(self) -> str:
        return (f"cell {self.key!r} is corrupt ({self.path}): {self.reason}; "
                "discard it and recompute")


class Store:
    """A directory of finished cells (created if missing); see the module docstring.

    ``path`` the directory (str or path-like). Safe to share between threads, processes and
    a sweep's workers (a pickled Store reopens the directory).
    """

    def __init__(self, path):
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ValueError(f"path {str(path)!r} exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._manifest = path / MANIFEST
        self._mutex = threading.RLock()
        self._cleaned = False
        self._reset()

    def __getstate__(self):
        return {"path": str(self.path)}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def __contains__(self, key) -> bool:
        return self.has(key)

    # ---- public API -------------------------------------------------------------------------

    def write(self, key: str, table: pd.DataFrame, meta: dict | None = None) -> None:
        """Store ``table`` as cell ``key`` with ``meta`` (a JSON-serialisable dict, str keys).

        Returns once the cell file and its manifest record are both on disk. Identical bytes
        already stored: a no-op. Different bytes: replaced (last writer wins).
        """
        _check_key(key)
        meta = _check_meta(meta)
        data = _to_parquet(table)
        digest = hashlib.sha256(data).hexdigest()
        name = _cell_name(key, digest)
        self._refresh()
        if self._intact(key, digest):
            return
        fd, tmp = self._make_temp()
        try:
            _write_all(fd, data)
            os.fsync(fd)
            with self._lock(exclusive=True):
                self._refresh()
                if not self._cleaned:
                    self._cleanup()
                    self._cleaned = True
                if self._intact(key, digest):
                    return
                old = self._entries.get(key)
                os.replace(tmp, self.path / name)
                tmp = None
                _fsync_dir(self.path)
                self._append({"op": "put", "key": key, "file": name, "sha256": digest,
                              "bytes": len(data), "rows": len(table), "meta": meta,
                              "time": _now()})
                self._refresh()
                if old is not None:
                    self._unlink_unreferenced(old["file"])
        finally:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            os.close(fd)

    def keys(self) -> list[str]:
        """The finished keys (manifest record and file present), sorted."""
        entries = self._snapshot()
        return [k for k in sorted(entries) if (self.path / entries[k]["file"]).exists()]

    def has(self, key: str) -> bool:
        """Whether ``key`` is finished: recorded and its file present. Fast: does not hash the
        file (a damaged file still counts; :meth:`verify` and :meth:`read` hash)."""
        entry = self._get(key)
        return entry is not None and (self.path / entry["file"]).exists()

    def read(self, key: str) -> pd.DataFrame:
        """The table of cell ``key``, exactly as written (row order, index, dtypes).

        Raises ``KeyError`` if ``key`` is not recorded, :class:`CorruptCell` if its file is
        missing, truncated, fails the sha256 check or is not readable Parquet.
        """
        data, entry, path = self._load(key)
        try:
            frame = pq.read_table(pa.BufferReader(data)).to_pandas()
        except Exception as exc:  # any failure to decode is corruption
            raise CorruptCell(key, path, f"unreadable Parquet: {exc}") from exc
        if len(frame) != entry["rows"]:
            raise CorruptCell(key, path, f"{len(frame)} rows, manifest says {entry['rows']}")
        return frame

    def verify(self, keys=None) -> dict[str, str]:
        """``{key: reason}`` for the corrupt cells among ``keys`` (default: every recorded
        key), in sorted-key order. Checks presence, size and sha256 of each file; keys that
        are not recorded are not corrupt and are skipped."""
        bad = {}
        for key in self._chosen(keys):
            try:
                self._load(key)
            except KeyError:
                continue
            except CorruptCell as exc:
                bad[key] = exc.reason
        return bad

    def discard(self, key: str) -> None:
        """Forget cell ``key`` (append a ``discard`` record, delete its file) so that it is
        recomputed. A key that is not recorded is left alone (two sweeps may both discard)."""
        _check_key(key)
        with self._lock(exclusive=True):
            self._refresh()
            old = self._entries.get(key)
            if old is None:
                return
            self._append({"op": "discard", "key": key, "time": _now()})
            self._refresh()
            self._unlink_unreferenced(old["file"])

    def meta(self, key: str) -> dict:
        """A copy of the ``meta`` dict stored with ``key`` (``KeyError`` if not recorded)."""
        entry = self._get(key)
        if entry is None:
            raise KeyError(f"no cell {key!r} in {self}")
        return copy.deepcopy(entry["meta"])

    def table(self, keys=None) -> pd.DataFrame:
        """Every cell of ``keys`` (default: every recorded key) concatenated in sorted-key
        order, each cell's rows in their own order, on a fresh RangeIndex.

        Raises :class:`CorruptCell` naming the first corrupt cell (a recorded key whose file
        was deleted is corrupt, not skipped), ``KeyError`` for a key not recorded.
        """
        frames = [self.read(key) for key in self._chosen(keys)]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    def _chosen(self, keys) -> list[str]:
        """``keys`` validated, deduplicated and sorted; ``None``: every recorded key."""
        if keys is None:
            return sorted(self._snapshot())
        if isinstance(keys, str):
            raise ValueError(f"keys must be an iterable of keys, not the str {keys!r}")
        return sorted({_check_key(key) for key in keys})

    def _snapshot(self) -> dict[str, dict]:
        """The recorded entries, {key: put record}, read under the shared lock."""
        with self._lock(exclusive=False):
            self._refresh()
            return dict(self._entries)

    def _get(self, key: str) -> dict | None:
        _check_key(key)
        with self._lock(exclusive=False):
            self._refresh()
            return self._entries.get(key)

    # ---- the manifest -----------------------------------------------------------------------

    def _reset(self):
        self._entries: dict[str, dict] = {}
        self._offset = 0
        self._lineno = 0
        self._ident = None

    def _refresh(self):
        """Apply the manifest's complete lines appended since the last refresh."""
        with self._mutex:
            try:
                f = open(self._manifest, "rb")
            except FileNotFoundError:
                self._reset()
                return
            with f:
                st = os.fstat(f.fileno())
                if (st.st_dev, st.st_ino) != self._ident or st.st_size < self._offset:
                    self._reset()
                    self._ident = (st.st_dev, st.st_ino)
                f.seek(self._offset)
                data = f.read()
            end = data.rfind(b"\n") + 1  # a torn tail (no newline) is not consumed
            for raw in data[:end].split(b"\n")[:-1]:
                self._apply(raw)
            self._offset += end

    def _apply(self, raw: bytes):
        self._lineno += 1
        if not raw.strip():
            return
        try:
            rec = json.loads(raw)
            key, op = rec["key"], rec["op"]
            if not isinstance(key, str):
                raise TypeError("key")
            if op == "put":
                entry = {f: rec[f] for f in _PUT_FIELDS}
                if not all(isinstance(entry[f], t) for f, t in _PUT_FIELDS.items()):
                    raise TypeError("field")
                self._entries[key] = entry
            elif op == "discard":
                self._entries.pop(key, None)
            else:
                raise ValueError(op)
        except (ValueError, KeyError, TypeError):
            warnings.warn(f"{self._manifest}: line {self._lineno} is not a manifest record; "
                          "ignored", RuntimeWarning, stacklevel=4)

    def _append(self, record: dict):
        """Append one record line (caller holds the exclusive lock), after cutting off a torn
        tail left by a killed writer; fsync before returning."""
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        created = not self._manifest.exists()
        fd = os.open(self._manifest, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            keep = _complete_prefix(fd, size)
            if keep != size:
                os.ftruncate(fd, keep)
            _write_all(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.path)

    # ---- files and locks --------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, exclusive: bool):
        """flock on ``.lock``: exclusive for writers, shared for readers."""
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _make_temp(self) -> tuple[int, Path]:
        """A new ``.tmp-*`` file, created and flocked under the store lock so that the
        clean-up (also under it) never sees it unlocked while its writer lives."""
        with self._lock(exclusive=True):
            while True:
                tmp = self.path / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}.parquet"
                try:
                    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    continue
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd, tmp

    def _cleanup(self):
        """Delete the leftovers of dead writers (caller holds the exclusive lock): temp files
        nobody holds a flock on, and cell files no record names (renamed, never recorded)."""
        referenced = {e["file"] for e in self._entries.values()}
        for item in os.scandir(self.path):
            if item.name.startswith(TEMP_PREFIX):
                with contextlib.suppress(FileNotFoundError, BlockingIOError):
                    fd = os.open(item.path, os.O_RDONLY)
                    try:  # flock fails (BlockingIOError) while its writer lives
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        os.unlink(item.path)
                    finally:
                        os.close(fd)
            elif _CELL_RE.match(item.name) and item.name not in referenced:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(item.path)

    def _unlink_unreferenced(self, name: str):
        if all(e["file"] != name for e in self._entries.values()):
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()

    def _load(self, key: str) -> tuple[bytes, dict, Path]:
        """The verified bytes of ``key``'s file (size and sha256 as recorded)."""
        _check_key(key)
        with self._lock(exclusive=False):
            self._refresh()
            entry = self._entries.get(key)
            if entry is None:
                raise KeyError(f"no cell {key!r} in {self}")
            name = entry["file"]
            path = self.path / name
            if name != Path(name).name or name.startswith("."):
                raise CorruptCell(key, path, f"bad file name {name!r} in the manifest")
            f = None
            with contextlib.suppress(FileNotFoundError):
                f = open(path, "rb")  # read after the lock is released
        if f is None:
            raise CorruptCell(key, path, "missing file")
        with f:
            data = f.read()
        if len(data) < entry["bytes"]:
            raise CorruptCell(key, path, f"truncated: {len(data)} of {entry['bytes']} bytes")
        if len(data) > entry["bytes"]:
            raise CorruptCell(key, path, f"{len(data)} bytes, manifest says {entry['bytes']}")
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"]:
            raise CorruptCell(key, path, f"checksum mismatch: sha256 {digest[:12]}…, "
                                         f"manifest says {entry['sha256'][:12]}…")
        return data, entry, path

    def _intact(self, key: str, digest: str) -> bool:
        """``key`` is recorded with sha256 ``digest`` and its file still has those bytes."""
        entry = self._entries.get(key)
        if entry is None or entry["sha256"] != digest:
            return False
        try:
            data = (self.path / entry["file"]).read_bytes()
        except FileNotFoundError:
            return False
        return hashlib.sha256(data).hexdigest() == digest


# ---- helpers ----------------------------------------------------------------------------------

def _check_key(key) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty str, got {key!r}")
    return key


def _check_meta(meta) -> dict:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict, got {type(meta).__name__} {meta!r}")
    bad = [k for k in meta if not isinstance(k, str)]
    if bad:
        raise ValueError(f"meta keys must be str, got {bad[0]!r}")
    try:
        return json.loads(json.dumps(meta))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"meta must be JSON-serialisable: {exc}") from exc


def _to_parquet(table) -> bytes:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    bad = [c for c in table.columns if not isinstance(c, str)]
    if bad:
        raise ValueError(f"table column names must be str, got {bad[0]!r}")
    if table.columns.has_duplicates:
        dup = table.columns[table.columns.duplicated()][0]
        raise ValueError(f"table has duplicate column {dup!r}")
    sink = pa.BufferOutputStream()
    try:
        pq.write_table(pa.Table.from_pandas(table), sink)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise ValueError(f"table cannot be written as Parquet: {exc}") from exc
    return sink.getvalue().to_pybytes()


def _cell_name(key: str, digest: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", key)[:40]
    return f"{slug}.{hashlib.sha256(key.encode()).hexdigest()[:12]}.{digest[:24]}.parquet"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _write_all(fd: int, data: bytes):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _complete_prefix(fd: int, size: int) -> int:
    """Length of the file up to and including its last newline (``size`` if untorn)."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    with open(fd, "rb", closefd=False) as f:  # a torn tail: rare (a crash), read it all
        return f.read().rfind(b"\n") + 1


def _fsync_dir(path: Path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
