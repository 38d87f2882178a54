"""The results store: finished sweep cells, one Parquet file each, and a manifest that says which.

    STORE/
      manifest.jsonl                          one JSON record a line: the store's only truth
      .lock                                   the fcntl.flock that serialises writers
      <slug>.<key hash>.<data hash>.parquet   one per finished cell (the bytes of its table)
      .mesabase-tmp-<pid>-<16 hex>.parquet    a writer's file in progress (never read)

A *cell* is one key (the sweep's configuration hash, any non-empty ``str``) and its tidy table
(a :class:`pandas.DataFrame`) with a small JSON ``meta`` dict. The manifest is append-only:

    {"op": "put", "key": k, "file": f, "sha256": h, "bytes": n, "rows": r, "meta": {...}, "time": t}
    {"op": "discard", "key": k, "time": t}

read in order, the last record of a key wins. A key is *recorded* when its last record is a
``put``; *finished* (:meth:`Store.has`, :meth:`Store.keys`) when in addition that record
names the key's own file (below) and the file exists as a regular file.

Why a reader never sees a half-written cell
    1. The table is serialised to Parquet in memory, hashed (sha256 of the exact bytes) and
       written to a fresh temp file in the store directory, then ``os.fsync``-ed.
    2. Under the exclusive store lock the temp file is renamed to its final name
       (``os.replace``: atomic on POSIX, the name refers to nothing or to all of the bytes)
       and the directory is fsynced, so the rename is durable before (3).
    3. Only then is the manifest record appended (one ``write``, ``O_APPEND``) and fsynced.
       A cell is in the store only once its record is a complete line, naming a file that is
       already complete and durable; ``write`` returns after (3), so a returned write
       survives a crash. A crash between (2) and (3) leaves an orphan file no record names:
       invisible, and deleted by the next writer.

What is checked: a store is untrusted input
    A store may come from someone else, or be damaged; the store never acts on what its
    manifest says without checking it first, and touches nothing outside its directory: only
    its own names, never a link, every record validated, the key bound to its file twice
    (name and contents), deletion only of its own regular files. The rules in full, and the
    code that applies them, are in :mod:`.store_files`.

A torn manifest line
    A writer killed during (3) can leave a last line without its newline. That ``write``
    never returned — nobody was told the cell was stored — so a torn line means "not stored".
    Readers parse complete lines only (a torn tail is ignored, never fatal); the next writer,
    under the lock, cuts the tail back to the last newline before appending, so records never
    run together.

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

Errors
    A failure of the file system (a read-only store, a full disk, no permission, the store
    path a file's child) raises :class:`StoreError` (an ``OSError`` with the OS's
    ``errno``) whose text is one line, ``<path>: <what failed>: <the OS's reason>``.
    Reading needs write access to the directory for the lock file, except on a store that
    cannot be written (a read-only store is read without creating ``.lock``).

A cell keeps its rows' order, index and dtypes (pyarrow's pandas metadata);
:meth:`Store.table` concatenates cells in sorted-key order.

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
import errno
import fcntl
import hashlib
import json
import os
import threading
import warnings
from pathlib import Path

import pandas as pd

from .store_files import (
    KEY_METADATA,
    LOCK,
    MANIFEST,
    READ_ONLY,
    TEMP_PREFIX,
    CorruptCell,
    Refused,
    StoreError,
    cell_name,
    check_bytes,
    check_key,
    check_meta,
    cleanup,
    complete_prefix,
    create_temp,
    decode_cell,
    describe_error,
    intact,
    is_own_name,
    now,
    open_entry,
    parse_record,
    present,
    to_parquet,
    unlink_unreferenced,
    write_all,
)

__all__ = ["CorruptCell", "StoreError", "Store", "MANIFEST", "LOCK", "TEMP_PREFIX",
           "KEY_METADATA"]


class Store:
    """A directory of finished cells (created if missing); see the module docstring.

    ``path`` the directory (str or path-like; it may itself be a symbolic link you made,
    nothing inside it is followed). Raises ``ValueError`` if ``path`` is a file, or an
    existing folder that is not a store (no ``manifest.jsonl``) and holds other files;
    :class:`StoreError` if the folder cannot be created or read. Safe to share between
    threads, processes and a sweep's workers (a pickled Store reopens the directory).
    """

    def __init__(self, path):
        path = Path(path)
        self.path = path
        self._manifest = path / MANIFEST
        self._mutex = threading.RLock()
        self._cleaned = False
        self._reset()
        with self._os("cannot open the store"):
            if path.exists() and not path.is_dir():
                raise ValueError(f"path {str(path)!r} exists and is not a directory")
            path.mkdir(parents=True, exist_ok=True)
            names = os.listdir(path)
        foreign = sorted(n for n in names if not is_own_name(n))
        if MANIFEST not in names and foreign:
            shown = ", ".join(repr(n) for n in foreign[:3]) + (", …" if foreign[3:] else "")
            raise ValueError(f"path {str(path)!r} is not a results store (it has no {MANIFEST}) "
                             f"and is not empty ({shown}); give a new or empty folder")

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
        already stored: a no-op. Different bytes: replaced (last writer wins). Raises
        ``ValueError`` for a bad argument, :class:`StoreError` if the file system refuses
        (read-only, full: no temp file is left behind).
        """
        check_key(key)
        meta = check_meta(meta)
        data = to_parquet(table, key)
        digest = hashlib.sha256(data).hexdigest()
        name = cell_name(key, digest)
        with self._os(f"cannot write cell {key!r}"), self._dir() as d:
            self._refresh(d)
            if intact(d, self._entries.get(key), digest):
                return
            fd, tmp = self._make_temp(d)
            try:
                write_all(fd, data)
                os.fsync(fd)
                with self._lock(d, exclusive=True):
                    self._refresh(d)
                    if not self._cleaned:
                        self._cleaned = cleanup(d, self._entries)
                    if intact(d, self._entries.get(key), digest):
                        return
                    old = self._entries.get(key)
                    os.replace(tmp, name, src_dir_fd=d, dst_dir_fd=d)
                    tmp = None
                    os.fsync(d)
                    self._append(d, {"op": "put", "key": key, "file": name, "sha256": digest,
                                     "bytes": len(data), "rows": len(table), "meta": meta,
                                     "time": now()})
                    self._refresh(d)
                    if old is not None:
                        unlink_unreferenced(d, old, self._entries)
            finally:
                if tmp is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp, dir_fd=d)
                os.close(fd)

    def keys(self) -> list[str]:
        """The finished keys (a put record naming the key's own file, which is present as a
        regular file), sorted."""
        with self._os("cannot read the store"), self._dir() as d:
            with self._lock(d, exclusive=False):
                self._refresh(d)
                return [k for k in sorted(self._entries) if present(d, self._entries[k])]

    def has(self, key: str) -> bool:
        """Whether ``key`` is finished (:meth:`keys`). Fast: does not hash the file (a
        damaged file still counts; :meth:`verify` and :meth:`read` check it)."""
        check_key(key)
        with self._os("cannot read the store"), self._dir() as d:
            with self._lock(d, exclusive=False):
                self._refresh(d)
                entry = self._entries.get(key)
                return entry is not None and present(d, entry)

    def read(self, key: str) -> pd.DataFrame:
        """The table of cell ``key``, exactly as written (row order, index, dtypes).

        Raises ``KeyError`` if ``key`` is not recorded, :class:`CorruptCell` if its record
        names a file that is not the key's own, or the file is missing, not a regular file,
        truncated, fails the sha256 check, is not readable Parquet, carries another key (or
        none), or has another number of rows than recorded.
        """
        data, entry, path = self._load(key)
        return decode_cell(key, path, entry, data)

    def verify(self, keys=None) -> dict[str, str]:
        """``{key: reason}`` for the corrupt cells among ``keys`` (default: every recorded
        key), in sorted-key order: every check of :meth:`read` (name, presence, size,
        sha256, Parquet, key, rows). Keys that are not recorded are not corrupt and are
        skipped."""
        bad = {}
        for key in self._chosen(keys):
            try:
                self.read(key)
            except KeyError:
                continue
            except CorruptCell as exc:
                bad[key] = exc.reason
        return bad

    def discard(self, key: str) -> None:
        """Forget cell ``key`` (append a ``discard`` record, delete its file if the record
        named the key's own file and no other record names it) so that it is recomputed.
        A key that is not recorded is left alone (two sweeps may both discard)."""
        check_key(key)
        with self._os(f"cannot discard cell {key!r}"), self._dir() as d:
            with self._lock(d, exclusive=True):
                self._refresh(d)
                old = self._entries.get(key)
                if old is None:
                    return
                self._append(d, {"op": "discard", "key": key, "time": now()})
                self._refresh(d)
                unlink_unreferenced(d, old, self._entries)

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
        return sorted({check_key(key) for key in keys})

    def _snapshot(self) -> dict[str, dict]:
        """The recorded entries, {key: put record}, read under the shared lock."""
        with self._os("cannot read the store"), self._dir() as d:
            with self._lock(d, exclusive=False):
                self._refresh(d)
                return dict(self._entries)

    def _get(self, key: str) -> dict | None:
        check_key(key)
        return self._snapshot().get(key)

    # ---- the manifest -----------------------------------------------------------------------

    def _reset(self):
        self._entries: dict[str, dict] = {}
        self._offset = 0
        self._lineno = 0
        self._ident = None

    def _refresh(self, d: int):
        """Apply the manifest's complete lines appended since the last refresh."""
        with self._mutex:
            try:
                fd = self._open(d, MANIFEST, os.O_RDONLY)
            except FileNotFoundError:
                self._reset()
                return
            with open(fd, "rb") as f:
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
        """Apply one complete line; a line that is not a well-formed record is skipped with
        a RuntimeWarning (module docstring, "What is checked")."""
        self._lineno += 1
        if not raw.strip():
            return
        try:
            key, op, entry = parse_record(raw)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            warnings.warn(f"{self._manifest}: line {self._lineno} is not a manifest record "
                          f"({describe_error(exc)}); ignored", RuntimeWarning, stacklevel=5)
            return
        if op == "put":
            self._entries[key] = entry
        else:
            self._entries.pop(key, None)

    def _append(self, d: int, record: dict):
        """Append one record line (caller holds the exclusive lock), after cutting off a torn
        tail left by a killed writer; fsync before returning."""
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            os.stat(MANIFEST, dir_fd=d, follow_symlinks=False)
            created = False
        except FileNotFoundError:
            created = True
        fd = self._open(d, MANIFEST, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            st = os.fstat(fd)
            if st.st_nlink != 1:
                raise StoreError(errno.EMLINK, f"has {st.st_nlink} hard links; the store "
                                               "writes only to a manifest of its own",
                                 str(self._manifest))
            keep = complete_prefix(fd, st.st_size)
            if keep != st.st_size:
                os.ftruncate(fd, keep)
            write_all(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            os.fsync(d)

    # ---- files and locks --------------------------------------------------------------------

    @contextlib.contextmanager
    def _os(self, what: str):
        """Turn an OSError of the file system into a one-line :class:`StoreError`."""
        try:
            yield
        except StoreError:
            raise
        except OSError as e:
            where = self.path / e.filename if isinstance(e.filename, str) else self.path
            raise StoreError(e.errno, f"{what}: {e.strerror or e}", str(where)) from e

    @contextlib.contextmanager
    def _dir(self):
        """A descriptor of the store directory: every entry is reached relative to it."""
        d = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            yield d
        finally:
            os.close(d)

    def _open(self, d: int, name: str, flags: int) -> int:
        """:func:`open_entry`, a refusal raised as :class:`StoreError` naming the path."""
        try:
            return open_entry(d, name, flags)
        except Refused as e:
            raise StoreError(e.errno, f"{e.reason}; refusing to use it",
                             str(self.path / name)) from None

    @contextlib.contextmanager
    def _lock(self, d: int, exclusive: bool):
        """flock on ``.lock``: exclusive for writers, shared for readers. A reader of a store
        it cannot write (read-only, no permission) reads without the lock when ``.lock``
        cannot be opened for writing: nobody can write there either."""
        try:
            fd = self._open(d, LOCK, os.O_RDWR | os.O_CREAT)
        except OSError as e:
            if exclusive or isinstance(e, StoreError) or e.errno not in READ_ONLY:
                raise
            try:
                fd = self._open(d, LOCK, os.O_RDONLY)
            except FileNotFoundError:
                yield
                return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _make_temp(self, d: int) -> tuple[int, str]:
        """A new temp file (:data:`TEMP_PREFIX`), created and flocked under the store lock so
        that the clean-up (also under it) never sees it unlocked while its writer lives."""
        with self._lock(d, exclusive=True):
            return create_temp(d)

    def _load(self, key: str) -> tuple[bytes, dict, Path]:
        """The verified bytes of ``key``'s file (its own name; size and sha256 as recorded)."""
        check_key(key)
        with self._os(f"cannot read cell {key!r}"), self._dir() as d:
            with self._lock(d, exclusive=False):
                self._refresh(d)
                entry = self._entries.get(key)
                if entry is None:
                    raise KeyError(f"no cell {key!r} in {self}")
                path = self.path / entry["file"]
                if entry["problem"] is not None:
                    raise CorruptCell(key, path, entry["problem"])
                try:
                    fd = open_entry(d, entry["file"], os.O_RDONLY)
                except FileNotFoundError:
                    raise CorruptCell(key, path, "missing file") from None
                except Refused as e:
                    raise CorruptCell(key, path, e.reason) from None
            with open(fd, "rb") as f:  # read after the lock is released
                data = f.read(entry["bytes"] + 1)  # never more than the record allows
                size = os.fstat(f.fileno()).st_size
        check_bytes(key, path, entry, data, size)
        return data, entry, path
